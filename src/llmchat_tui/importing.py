"""Import conversations from a ChatGPT data export (for ``llmchat-tui import``).

ChatGPT's "Export data" gives a zip holding ``conversations.json``: a list of
conversations, each a tree of message nodes (``mapping``) in which editing a
prompt or regenerating a reply starts a new branch. ``current_node`` is the
leaf the user last looked at; following ``parent`` links from it to the root
gives the conversation as it was last shown, which is what is imported.

Only user and assistant text is kept: system, tool and hidden messages,
code-interpreter and browsing calls and empty nodes are left out, images or
other attachments become a short placeholder such as ``[image omitted]``, and
a reply split around tool calls becomes one assistant message.

Each imported conversation gets an id derived from its ChatGPT id, so
importing the same export twice adds nothing the second time.

No Textual import here.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from llmchat_tui.models import (
    Conversation,
    Message,
    Role,
    Status,
    new_id,
    now_iso,
    title_from_text,
)
from llmchat_tui.sanitize import clean, clean_line
from llmchat_tui.store import Store

__all__ = [
    "ImportFileError",
    "ImportReport",
    "chatgpt_store_id",
    "conversation_from_chatgpt",
    "import_chatgpt",
    "read_chatgpt_export",
]

EXPORT_FILE_NAME = "conversations.json"
IMAGE_PLACEHOLDER = "[image omitted]"
ATTACHMENT_PLACEHOLDER = "[attachment omitted]"

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,120}")


class ImportFileError(Exception):
    """The file to import cannot be used at all; the message is one line."""


@dataclass
class ImportReport:
    """What an import did, by store id (``unreadable`` holds one-line reasons)."""

    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``imported N, skipped M (already imported), K unreadable``."""
        return (
            f"imported {len(self.imported)}, skipped {len(self.skipped)} (already imported), "
            f"{len(self.unreadable)} unreadable"
        )


def chatgpt_store_id(chatgpt_id: str) -> str:
    """The store id of the conversation imported from ChatGPT conversation ``chatgpt_id``.

    ``chatgpt-<id>`` when the id is made of safe characters (ChatGPT's are
    UUIDs), otherwise ``chatgpt_`` and a hash of it: always a valid store id,
    and the same for the same ChatGPT conversation.
    """
    if _SAFE_ID.fullmatch(chatgpt_id):
        return f"chatgpt-{chatgpt_id}"
    digest = hashlib.sha256(chatgpt_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"chatgpt_{digest[:40]}"


def _iso(epoch: Any) -> str | None:
    """An epoch time (seconds, float) as a stored timestamp, or None."""
    if isinstance(epoch, bool) or not isinstance(epoch, int | float):
        return None
    try:
        moment = datetime.fromtimestamp(epoch, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text_of(content: Any) -> str:
    """The text of a ChatGPT message ``content`` ("" if it has none to show)."""
    if not isinstance(content, dict):
        return ""
    parts = content.get("parts")
    if not isinstance(parts, list):
        return ""
    pieces = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict):
            kind = str(part.get("content_type", ""))
            if isinstance(part.get("text"), str):  # e.g. an audio transcription
                pieces.append(part["text"])
            elif "image" in kind:
                pieces.append(IMAGE_PLACEHOLDER)
            else:
                pieces.append(ATTACHMENT_PLACEHOLDER)
        elif part is not None:
            pieces.append(ATTACHMENT_PLACEHOLDER)
    text = "\n".join(pieces)
    return text if text.strip() else ""


def _newest_leaf(mapping: dict[str, Any]) -> str | None:
    """The key of the most recently written node with no children."""
    leaves = [
        key for key, node in mapping.items() if isinstance(node, dict) and not node.get("children")
    ]

    def when(key: str) -> float:
        message = mapping[key].get("message")
        stamp = message.get("create_time") if isinstance(message, dict) else None
        return float(stamp) if isinstance(stamp, int | float) else float("-inf")

    return max(leaves, key=when) if leaves else None


def _walk(mapping: dict[str, Any]) -> list[tuple[str, dict[str, Any], str | None]]:
    """Every node as (key, node, parent key), parents before their children, siblings
    in ChatGPT's order. A node whose parent is missing is a root; loops are cut."""
    roots = [
        key
        for key, node in mapping.items()
        if isinstance(node, dict) and node.get("parent") not in mapping
    ]
    out: list[tuple[str, dict[str, Any], str | None]] = []
    seen: set[str] = set()
    # Nodes caught in a loop of parents have no root: each starts a tree of its own.
    starts = [*roots, *(key for key in mapping if key not in roots)]
    for start in starts:
        stack: list[tuple[str, str | None]] = [(start, None)]
        while stack:
            key, parent = stack.pop()
            node = mapping.get(key)
            if key in seen or not isinstance(node, dict):
                continue
            seen.add(key)
            out.append((key, node, parent))
            children = node.get("children")
            if isinstance(children, list):
                for child in reversed(children):
                    if isinstance(child, str) and child in mapping:
                        stack.append((child, key))
    return out


def _usable(raw: Any) -> tuple[str, str, str] | None:
    """(role, text, model) of a node's message shown in ChatGPT, else None."""
    if not isinstance(raw, dict):
        return None
    author = raw.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    if role not in ("user", "assistant"):
        return None
    found = raw.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    if metadata.get("is_visually_hidden_from_conversation"):
        return None
    if raw.get("recipient", "all") != "all":  # a call to a tool, not a reply
        return None
    text = _text_of(raw.get("content"))
    if not text:
        return None
    slug = metadata.get("model_slug")
    return role, text, clean_line(slug, 200) if isinstance(slug, str) else ""


def conversation_from_chatgpt(data: Any) -> Conversation:
    """Build a :class:`Conversation` from one entry of ``conversations.json``.

    Every branch of ChatGPT's ``mapping`` (a tree) is kept: edited messages
    and regenerated replies are siblings, as in the app. The conversation
    opens on the branch last seen in ChatGPT (``current_node``). Nodes that
    ChatGPT does not show (system, tool calls, hidden ones) are left out and
    their children hang below the nearest shown message. Raises
    ``ValueError`` with a short reason if the entry cannot be used.
    """
    if not isinstance(data, dict):
        raise ValueError("not an object")
    chatgpt_id = data.get("id") or data.get("conversation_id")
    if not isinstance(chatgpt_id, str) or not chatgpt_id:
        raise ValueError("no id")
    mapping = data.get("mapping")
    if not isinstance(mapping, dict):
        raise ValueError("no message mapping")
    created = _iso(data.get("create_time"))
    updated = _iso(data.get("update_time")) or created

    conversation = Conversation(id=chatgpt_store_id(chatgpt_id))
    shown: dict[str, Message | None] = {}  # ChatGPT node -> the message that stands for it
    for key, node, parent_key in _walk(mapping):
        parent = shown.get(parent_key) if parent_key is not None else None
        found = _usable(node.get("message"))
        if found is None:
            shown[key] = parent
            continue
        role, text, model = found
        if role == "assistant" and parent is not None and parent.role == "assistant":
            if not conversation.children(parent):
                # One reply split around tool calls (browsing, code): ChatGPT
                # shows it as one turn, and so does the app.
                parent.content += "\n\n" + clean(text)
                parent.model = model or parent.model
                shown[key] = parent
                continue
        raw = node["message"]
        message = Message(
            role=cast(Role, role),
            content=clean(text),
            id=new_id(),
            status=Status.COMPLETE,
            created_at=_iso(raw.get("create_time")) or created or updated or now_iso(),
            model=(model or None) if role == "assistant" else None,
        )
        conversation.add(message, parent=parent)
        shown[key] = message
    if not conversation.nodes:
        raise ValueError("no user or assistant text")

    current = data.get("current_node")
    if not isinstance(current, str) or current not in mapping:
        current = _newest_leaf(mapping)
    at = shown.get(current) if current is not None else None
    if at is not None:
        conversation.current_id = at.id
    else:
        conversation.show_branch(conversation.children(None)[-1])
    branch = conversation.messages
    conversation.created_at = created or conversation.nodes[0].created_at
    conversation.updated_at = updated or branch[-1].created_at
    conversation.model = next(
        (m.model for m in reversed(branch) if m.role == "assistant" and m.model), ""
    )
    title = data.get("title")
    title = clean_line(title, 200) if isinstance(title, str) else ""
    if title:
        conversation.title = title
        conversation.title_is_custom = True
    else:
        first_user = next((m.content for m in branch if m.role == "user"), "")
        conversation.title = title_from_text(first_user)
    return conversation


def read_chatgpt_export(path: Path) -> list[Any]:
    """The list of conversations in ``path``.

    ``path`` may be ``conversations.json`` itself, the zip ChatGPT sends, or
    the folder it was unpacked into. Raises :class:`ImportFileError`.
    """
    path = Path(path)
    try:
        if path.is_dir():
            path = path / EXPORT_FILE_NAME
            raw = path.read_bytes()
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == EXPORT_FILE_NAME]
                if not names:
                    raise ImportFileError(f"{path}: the zip holds no {EXPORT_FILE_NAME}")
                raw = archive.read(min(names, key=len))
        else:
            raw = path.read_bytes()
    except ImportFileError:
        raise
    except (OSError, zipfile.BadZipFile) as error:
        reason = getattr(error, "strerror", None) or error
        raise ImportFileError(f"cannot read {path}: {reason}") from error
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ImportFileError(f"{path} is not a JSON file") from error
    if not isinstance(data, list):
        raise ImportFileError(
            f"{path} is not a ChatGPT {EXPORT_FILE_NAME} (expected a list of conversations)"
        )
    return data


def import_chatgpt(store: Store, path: Path) -> ImportReport:
    """Import every conversation of the ChatGPT export at ``path`` into ``store``.

    A conversation whose id is already in the store is skipped, so importing
    twice is harmless. The file is read first (:class:`ImportFileError` if it
    cannot be used, before the store is touched); then the store's lock is
    taken unless ``store`` already holds it (``StoreLocked`` if the app is
    running) and released at the end. A failed write raises ``StoreError``
    (conversations saved before it stay imported).
    """
    entries = read_chatgpt_export(path)
    report = ImportReport()
    took_lock = not store.locked
    store.acquire_lock()
    try:
        store.open()
        for number, entry in enumerate(entries, 1):
            try:
                conversation = conversation_from_chatgpt(entry)
            except (ValueError, TypeError, AttributeError) as error:
                report.unreadable.append(f"conversation {number}: {clean_line(str(error), 200)}")
                continue
            if store.path_for(conversation.id).exists():
                report.skipped.append(conversation.id)
                continue
            store.save(conversation)
            report.imported.append(conversation.id)
        store.flush_index()
    finally:
        if took_lock:
            store.release_lock()
    return report
