"""Conversation and message data: plain dataclasses, no I/O, no Textual."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from llmchat_tui import fields
from llmchat_tui.fields import Converted, Converter, Note, Unusable, optional, read_fields, show

SCHEMA_VERSION = 1

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A ULID-style id: 26 characters, sortable by creation time, unique."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with a ``Z`` suffix."""
    return datetime.now(UTC).strftime(ISO_FORMAT)


def parse_iso(text: str) -> datetime:
    """Parse a timestamp written by :func:`now_iso` (or any ISO 8601 string)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Status(StrEnum):
    """The life of a message."""

    COMPLETE = "complete"
    STREAMING = "streaming"
    CANCELLED = "cancelled"
    ERROR = "error"
    INTERRUPTED = "interrupted"


# ---------------------------------------------------------------------------
# Reading saved data: every field is checked (see llmchat_tui.fields)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldIssue:
    """A field of a saved conversation that had the wrong type, and what loading did.

    ``message`` is the message's number (1 = first) and ``message_id`` its id,
    both None for a field of the conversation itself. ``found`` is the value
    as short ASCII JSON, so the text is inert in a terminal.
    """

    field: str
    found: str
    action: str
    message: int | None = None
    message_id: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.message is not None:
            where = f"message {self.message}"
            where += f" (id {show(self.message_id)[1:-1]}): " if self.message_id else ": "
        return f"{where}{self.field} = {self.found}: {self.action}"


def timestamp(raw: Any) -> Any:
    """Converter: an ISO 8601 string; one without a time zone is read as UTC."""
    if not isinstance(raw, str):
        raise Unusable("not a timestamp")
    try:
        moment = parse_iso(raw)
    except (ValueError, OverflowError):
        raise Unusable("not a timestamp") from None
    if moment.tzinfo is None:
        return Converted(moment.replace(tzinfo=UTC).strftime(ISO_FORMAT))
    return raw


def message_role(data: Mapping[str, Any]) -> Role:
    """The role of a saved message; ValueError if it has none we know.

    The one check that makes a message unusable: without its role nobody
    can tell who said it. The store's index rebuild uses it too, so start-up
    and :meth:`Message.from_dict` always agree on what is skipped.
    """
    role = data.get("role")
    for known in ROLES:
        if role == known and isinstance(role, str):
            return known
    raise ValueError(f"unknown message role {show(role)}")


def _prefixed(note: Note, prefix: str) -> Note:
    return lambda key, raw, action: note(prefix + key, raw, action)


def _ignore(key: str, raw: Any, action: str) -> None:
    pass


def _collect(bucket: list[tuple[str, Any, str]]) -> Note:
    return lambda key, raw, action: bucket.append((key, raw, action))


@dataclass
class Usage:
    """Token usage of one reply: reported by the server or estimated with tiktoken."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    source: Literal["server", "estimate"] = "estimate"

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, note: Note = _ignore) -> Usage | None:
        """Build from saved data; None for null or ``{}``. Bad fields are told to ``note``."""
        if not data:
            return None
        return cls(**read_fields(data, USAGE_FIELDS, note))


#: How each saved field of :class:`Usage` is read.
USAGE_FIELDS: tuple[tuple[str, Converter], ...] = (
    ("prompt_tokens", optional(fields.count)),
    ("completion_tokens", optional(fields.count)),
    ("source", fields.one_of("server", "estimate")),
)


def _usage(raw: Any) -> Any:
    if raw is None or isinstance(raw, dict):
        return raw  # read field by field in Message.from_dict
    raise Unusable("not an object")


@dataclass
class Message:
    """One message of a conversation."""

    role: Role
    content: str = ""
    id: str = field(default_factory=new_id)
    status: Status = Status.COMPLETE
    created_at: str = field(default_factory=now_iso)
    reasoning: str = ""
    error: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    usage: Usage | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "status": str(self.status),
            "created_at": self.created_at,
        }
        if self.role == "assistant":
            data.update(
                reasoning=self.reasoning,
                error=self.error,
                model=self.model,
                finish_reason=self.finish_reason,
                ttft_s=self.ttft_s,
                tokens_per_s=self.tokens_per_s,
                usage=self.usage.to_dict() if self.usage else None,
            )
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], note: Note = _ignore) -> Message:
        """Build from saved data (already upgraded to :data:`SCHEMA_VERSION`).

        Raises ValueError only for a missing or unknown role. Any other field
        of the wrong type is converted when its meaning is plain, or left at
        its default, and told to ``note(key, value found, what was done)``.
        """
        role = message_role(data)
        values = read_fields(data, MESSAGE_FIELDS, note)
        usage = values.pop("usage", None)
        return cls(
            role=role,
            usage=Usage.from_dict(usage, _prefixed(note, "usage.")) if usage else None,
            **values,
        )


#: How each saved field of :class:`Message` is read (``role`` is checked apart).
MESSAGE_FIELDS: tuple[tuple[str, Converter], ...] = (
    ("id", fields.identifier),
    ("content", fields.text),
    ("status", fields.member(Status)),
    ("created_at", timestamp),
    ("reasoning", fields.text),
    ("error", optional(fields.text)),
    ("model", optional(fields.text)),
    ("finish_reason", optional(fields.text)),
    ("ttft_s", optional(fields.seconds)),
    ("tokens_per_s", optional(fields.seconds)),
    ("usage", _usage),
)


def title_from_text(text: str, limit: int = 60) -> str:
    """A conversation title: the first non-empty line of ``text``, trimmed."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return "New chat"


@dataclass
class Conversation:
    """A conversation: its settings and its messages."""

    id: str = field(default_factory=new_id)
    title: str = "New chat"
    title_is_custom: bool = False
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    model: str = ""
    base_url: str = ""
    profile: str = ""
    system_prompt: str = ""
    draft: str = ""
    messages: list[Message] = field(default_factory=list)

    def touch(self) -> None:
        """Mark the conversation as changed now."""
        self.updated_at = now_iso()

    def add(self, message: Message) -> Message:
        """Append ``message``; the first user message names the conversation."""
        self.messages.append(message)
        if message.role == "user" and not self.title_is_custom:
            if sum(1 for m in self.messages if m.role == "user") == 1:
                self.title = title_from_text(message.content)
        self.touch()
        return message

    def rename(self, title: str) -> None:
        """Give the conversation a title of the user's choosing."""
        self.title = title_from_text(title, limit=200)
        self.title_is_custom = True

    def head_dict(self) -> dict[str, Any]:
        """Every field but the messages (for writers that add those themselves)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "title": self.title,
            "title_is_custom": self.title_is_custom,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "model": self.model,
            "base_url": self.base_url,
            "profile": self.profile,
            "system_prompt": self.system_prompt,
            "draft": self.draft,
        }

    def to_dict(self) -> dict[str, Any]:
        data = self.head_dict()
        data["messages"] = [m.to_dict() for m in self.messages]
        return data

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], issues: list[FieldIssue] | None = None
    ) -> Conversation:
        """Build from a dict already upgraded to :data:`SCHEMA_VERSION`.

        Raises ValueError when ``data`` is not a conversation: not an object,
        no ``messages`` list, a message that is not an object or has an
        unknown role. Every other field of the wrong type is converted when
        its meaning is plain (``"12"`` for a count) or left at its default,
        and a :class:`FieldIssue` is appended to ``issues`` for each.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("messages"), list):
            raise ValueError("not a conversation")
        found = issues if issues is not None else []

        def note_head(key: str, raw: Any, action: str) -> None:
            found.append(FieldIssue(key, show(raw), action))

        values = read_fields(data, CONVERSATION_FIELDS, note_head)
        if not values.get("title"):
            values["title"] = "New chat"
        stamp = values.get("created_at") or values.get("updated_at") or now_iso()
        values.setdefault("created_at", stamp)
        values.setdefault("updated_at", stamp)
        messages = []
        for number, item in enumerate(data["messages"], 1):
            if not isinstance(item, Mapping):
                raise ValueError(f"message {number} is not an object")
            pending: list[tuple[str, Any, str]] = []
            message = Message.from_dict(item, _collect(pending))
            for key, raw, action in pending:
                found.append(FieldIssue(key, show(raw), action, number, message.id))
            messages.append(message)
        return cls(id=str(data["id"]), messages=messages, **values)


#: How each saved field of :class:`Conversation` is read (``id`` comes from the
#: file name, ``messages`` one by one through :data:`MESSAGE_FIELDS`).
CONVERSATION_FIELDS: tuple[tuple[str, Converter], ...] = (
    ("title", fields.text),
    ("title_is_custom", fields.flag),
    ("created_at", timestamp),
    ("updated_at", timestamp),
    ("model", fields.text),
    ("base_url", fields.text),
    ("profile", fields.text),
    ("system_prompt", fields.text),
    ("draft", fields.text),
)
