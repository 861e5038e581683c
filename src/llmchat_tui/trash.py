"""What the trash folder holds: entry names, and the files of deleted messages.

``<data_dir>/trash/`` (0700, every file 0600) holds two kinds of entry, each
one file whose name says what it is and when it was deleted::

    <conversation id>.<deleted>.json          a conversation file, moved as is
    <conversation id>.<deleted>.message.json  one deleted message (see below)

``<deleted>`` is the UTC time as ``20260124T100203123456Z``. The name without
``.json`` is the entry's id. A conversation keeps its bytes (it is moved with
``os.replace``, so it is never copied or rewritten); its title is read from it
when the trash is listed. A message entry is a small JSON object::

    {"kind": "message", "conversation_id": "...", "conversation_title": "...",
     "deleted_at": "...", "position": 1, "after_id": "...", "message": {...}}

``position`` is the message's index when it was deleted and ``after_id`` the
id of the message before it (null for the first), so a restore puts it back
after that message if it is still there.

The store (:mod:`llmchat_tui.store`) does the moving; this module only names
and reads. No Textual import here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from llmchat_tui.models import ISO_FORMAT, Conversation, Message

__all__ = [
    "MESSAGE_SUFFIX",
    "TRASH_DAYS",
    "TrashEntry",
    "TrashName",
    "encode_message_entry",
    "entry_name",
    "parse_name",
    "read_message_entry",
]

#: Days an entry stays in the trash before :meth:`Store.purge_trash` removes it.
TRASH_DAYS = 30

#: The end of a message entry's file name.
MESSAGE_SUFFIX = ".message.json"

Kind = Literal["conversation", "message"]

_STAMP = "%Y%m%dT%H%M%S%fZ"
_NAME_RE = re.compile(r"([A-Za-z0-9_-]{1,128})\.(\d{8}T\d{12}Z)(\.message)?\.json")


@dataclass(frozen=True)
class TrashEntry:
    """One thing in the trash: a whole conversation or a single message."""

    #: The entry's id, unique in the trash: ``<conversation id>.<deleted>[.message]``.
    id: str
    kind: Kind
    conversation_id: str
    #: When it was deleted (ISO 8601, UTC).
    deleted_at: str
    #: The conversation's title (for a message: of the conversation it was in).
    #: It came from a file: sanitize before showing it.
    title: str
    path: Path
    message_id: str | None = None
    #: The message's index in its conversation when it was deleted.
    position: int | None = None
    role: str | None = None

    def describe(self) -> str:
        """One line for a list: the title, or ``message 2 (assistant) of <title>``."""
        if self.kind == "conversation":
            return self.title
        number = "" if self.position is None else f" {self.position + 1}"
        role = f" ({self.role})" if self.role else ""
        return f"message{number}{role} of {self.title}"


@dataclass(frozen=True)
class TrashName:
    """What an entry's file name says."""

    id: str
    kind: Kind
    conversation_id: str
    deleted: datetime


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """``moment`` as the store writes timestamps (a naive one is taken as UTC)."""
    return _utc(moment).strftime(ISO_FORMAT)


def entry_name(conv_id: str, moment: datetime, kind: Kind) -> str:
    """The file name of an entry deleted at ``moment``."""
    suffix = MESSAGE_SUFFIX if kind == "message" else ".json"
    return f"{conv_id}.{_utc(moment).strftime(_STAMP)}{suffix}"


def parse_name(name: str) -> TrashName | None:
    """What the file name ``name`` says, or None if it is not a trash entry."""
    match = _NAME_RE.fullmatch(name)
    if match is None:
        return None
    conv_id, stamp, message = match.groups()
    try:
        deleted = datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    kind: Kind = "message" if message else "conversation"
    return TrashName(name[: -len(".json")], kind, conv_id, deleted)


def encode_message_entry(
    conversation: Conversation, message: Message, position: int, deleted: datetime
) -> bytes:
    """The bytes of the entry of ``message``, deleted from ``conversation`` at ``deleted``."""
    after = conversation.nodes[position - 1].id if position > 0 else None
    data = {
        "kind": "message",
        "conversation_id": conversation.id,
        "conversation_title": conversation.title,
        "deleted_at": iso(deleted),
        "position": position,
        "after_id": after,
        # Its replies move up to its parent when it goes; on restore they come back.
        "moved": [m.id for m in conversation.children(message)],
        "message": message.to_dict(),
    }
    return (json.dumps(data, indent=1, ensure_ascii=True) + "\n").encode("ascii")


def read_message_entry(raw: bytes) -> dict[str, Any]:
    """The fields of a message entry, checked; ValueError if it cannot be used.

    Returns ``title`` (str), ``position`` (int >= 0), ``after_id`` (str or
    None), ``moved`` (ids of its replies, list), ``role`` (str or None) and
    ``message`` (the saved message dict, to be read with
    :meth:`Message.from_dict`).
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"not valid JSON ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise ValueError("not a deleted message")
    message = data["message"]
    title = data.get("conversation_title")
    position = data.get("position")
    after = data.get("after_id")
    moved = data.get("moved")
    role = message.get("role")
    return {
        "title": title if isinstance(title, str) else "",
        "position": position
        if isinstance(position, int) and not isinstance(position, bool) and position >= 0
        else 0,
        "after_id": after if isinstance(after, str) else None,
        "moved": [m for m in moved if isinstance(m, str)] if isinstance(moved, list) else [],
        "role": role if isinstance(role, str) else None,
        "message": message,
    }
