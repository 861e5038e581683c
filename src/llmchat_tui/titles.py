"""Titles written by the model: after a conversation's first reply, ask for a
title of a few words in the background.

The rules: only while the title is still the one taken from the first message
(a title the user gave, or one the model already wrote, is never replaced);
whatever the model says is untrusted and goes through the sanitizer, is cut to
one short line, and is dropped when nothing usable is left.

No Textual import here.
"""

from __future__ import annotations

import re

from llmchat_tui.models import Conversation, Status, title_from_text
from llmchat_tui.sanitize import clean_line

INSTRUCTION = (
    "Write a title of at most five words for the conversation below, in its language. "
    "Reply with the title only: no quotes, no punctuation at the end."
)
#: How much of the first message and reply the title request carries.
EXCERPT = 1500
MAX_WORDS = 8
MAX_CHARS = 60

_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^(?:title|titel|titre|título)\s*[:：-]\s*", re.IGNORECASE)
_EDGES = "\"'`*_#“”‘’«»「」 "


def wants_title(conversation: Conversation) -> bool:
    """Whether the conversation should get a title now: its branch holds one
    complete reply, and the title is still the first message's first line."""
    if conversation.title_is_custom:
        return False
    messages = conversation.messages
    users = [m for m in messages if m.role == "user"]
    replies = [m for m in messages if m.role == "assistant"]
    if len(users) != 1 or len(replies) != 1:
        return False
    reply = replies[0]
    if reply.status is not Status.COMPLETE or not reply.content.strip():
        return False
    return conversation.title == title_from_text(users[0].content)


def title_request(conversation: Conversation) -> list[dict[str, str]]:
    """The messages that ask for a title: the instruction, then the first exchange."""
    messages = conversation.messages
    user = next(m.content for m in messages if m.role == "user")
    reply = next(m.content for m in messages if m.role == "assistant")
    exchange = f"User: {user[:EXCERPT]}\n\nAssistant: {reply[:EXCERPT]}"
    return [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": exchange}]


def clean_title(text: str | None) -> str | None:
    """The title in what the model answered, or None when there is none.

    Drops ``<think>`` blocks, takes the first non-empty line, a leading
    "Title:", quotes and Markdown marks around it and a final full stop; keeps
    at most :data:`MAX_WORDS` words and :data:`MAX_CHARS` characters.
    """
    if not text:
        return None
    text = _THINKING.sub("", text)
    line = next((row for row in text.splitlines() if row.strip()), "")
    line = clean_line(line)
    line = _LABEL.sub("", line).strip(_EDGES).rstrip(".!?:;,。").strip(_EDGES)
    words = line.split()
    if not words:
        return None
    title = " ".join(words[:MAX_WORDS])
    if len(title) > MAX_CHARS:
        title = title[: MAX_CHARS - 1].rstrip() + "…"
    return title
