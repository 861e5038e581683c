"""Turn a saved conversation into Markdown or JSON (for ``llmchat-tui export``).

Pure functions: no I/O, no Textual. Everything that came from a server or a
file (content, reasoning, errors, model names, titles) goes through
:mod:`llmchat_tui.sanitize`, so printing an export to a terminal is as safe as
showing the conversation in the app.
"""

from __future__ import annotations

import json
import re
from datetime import UTC

from llmchat_tui.blocks import close_open_fence
from llmchat_tui.models import Conversation, Message, Status, parse_iso
from llmchat_tui.sanitize import clean, clean_line

__all__ = ["FORMATS", "iso_seconds", "render", "to_json", "to_markdown"]

#: Export formats by name, as accepted by ``export --format``.
FORMATS = ("md", "json")

# Characters JSON leaves raw (with ensure_ascii=False) that a terminal may act
# on or that reorder text visually: DEL, C1 controls, bidi overrides, and lone
# surrogates (which cannot be written as UTF-8 at all).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters that would turn a one-line field into Markdown or HTML markup.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>])")

_STATUS_NOTES = {
    Status.CANCELLED: "reply cancelled",
    Status.INTERRUPTED: "reply interrupted: the app stopped mid-reply",
    Status.STREAMING: "reply still streaming when exported",
}


def iso_seconds(text: str) -> str:
    """A stored timestamp as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC); unparsable text is cleaned."""
    try:
        moment = parse_iso(text)
    except (ValueError, TypeError):
        return clean_line(str(text))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _escape(text: str) -> str:
    return _MD_INLINE.sub(r"\\\1", text)


def _inline(text: str) -> str:
    """One line of plain text, safe in a terminal and inert as Markdown."""
    return _escape(clean_line(text))


def _block(text: str) -> str:
    # A reply stopped inside a code block would swallow the rest of the document.
    return close_open_fence(clean(text).strip("\n"))


def _quote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in clean(text).strip("\n").split("\n"))


def _status_note(message: Message) -> str | None:
    error = clean_line(message.error) if message.error else ""
    if message.status == Status.ERROR:
        note = f"error: {error}" if error else "error"
    elif message.status in _STATUS_NOTES:
        note = _STATUS_NOTES[message.status] + (f" ({error})" if error else "")
    elif message.finish_reason == "length":
        note = "reply cut off: the server's length limit was reached"
    else:
        return None
    return f"*({_escape(note)})*"


def _message(message: Message, default_model: str) -> str:
    if message.role == "user":
        parts = ["## You"]
    elif message.role == "system":
        parts = ["## System"]
    else:
        model = clean_line(message.model or default_model)
        parts = [f"## Assistant ({_inline(model)})" if model else "## Assistant"]
        if message.reasoning.strip():
            parts.append(
                "<details><summary>Reasoning</summary>\n\n"
                + _block(message.reasoning)
                + "\n\n</details>"
            )
    if message.content.strip():
        parts.append(_block(message.content))
    if message.attachments:
        names = ", ".join(_inline(clean_line(a.label())) for a in message.attachments)
        parts.append(f"*Attached: {names}*")
    note = _status_note(message) if message.role == "assistant" else None
    if note:
        parts.append(note)
    return "\n\n".join(parts)


def to_markdown(conversation: Conversation) -> str:
    """The conversation as a Markdown document (ends with one newline).

    ``# Title``, a metadata line, the system prompt (quoted) if any, then one
    ``## You`` / ``## Assistant (model)`` section per message with its
    reasoning in a ``<details>`` block and a note for replies that did not
    complete. Message text is kept as written (it usually is Markdown); a
    code block left open by a stopped reply is closed.
    """
    title = _inline(conversation.title) or "Untitled conversation"
    meta = []
    if conversation.model:
        meta.append(f"Model: {_inline(conversation.model)}")
    if conversation.base_url:
        meta.append(f"Server: {_inline(conversation.base_url)}")
    meta.append(f"Created: {_inline(iso_seconds(conversation.created_at))}")
    meta.append(f"Updated: {_inline(iso_seconds(conversation.updated_at))}")
    parts = [f"# {title}", " · ".join(meta)]
    if conversation.system_prompt.strip():
        parts.append("**System prompt:**\n\n" + _quote(conversation.system_prompt))
    parts.extend(_message(m, conversation.model) for m in conversation.messages)
    return _SURROGATE.sub("\ufffd", "\n\n".join(parts)) + "\n"


def to_json(conversation: Conversation) -> str:
    """The conversation as stored on disk (current schema), pretty-printed.

    Lossless: ``json.loads`` of the result gives back the saved data exactly.
    Characters a terminal could act on are ``\\u`` escapes, never raw.
    """
    text = json.dumps(conversation.to_dict(), indent=2, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def render(conversation: Conversation, fmt: str = "md") -> str:
    """The conversation in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "md":
        return to_markdown(conversation)
    if fmt == "json":
        return to_json(conversation)
    raise ValueError(f"unknown export format {fmt!r}")
