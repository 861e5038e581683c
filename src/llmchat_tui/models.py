"""Conversation and message data: plain dataclasses, no I/O, no Textual."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

SCHEMA_VERSION = 1

Role = Literal["system", "user", "assistant"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A ULID-style id: 26 characters, sortable by creation time, unique."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with a ``Z`` suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    def from_dict(cls, data: dict[str, Any] | None) -> Usage | None:
        if not data:
            return None
        source = data.get("source", "estimate")
        return cls(
            prompt_tokens=data.get("prompt_tokens"),
            completion_tokens=data.get("completion_tokens"),
            source="server" if source == "server" else "estimate",
        )


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
    def from_dict(cls, data: dict[str, Any]) -> Message:
        role = data.get("role")
        if role not in ("system", "user", "assistant"):
            raise ValueError(f"unknown message role {role!r}")
        content = data.get("content", "")
        if not isinstance(content, str):
            raise ValueError("message content is not text")
        try:
            status = Status(data.get("status", "complete"))
        except ValueError as error:
            raise ValueError(f"unknown message status {data.get('status')!r}") from error
        return cls(
            role=role,
            content=content,
            id=str(data.get("id") or new_id()),
            status=status,
            created_at=str(data.get("created_at") or now_iso()),
            reasoning=str(data.get("reasoning") or ""),
            error=data.get("error"),
            model=data.get("model"),
            finish_reason=data.get("finish_reason"),
            ttft_s=data.get("ttft_s"),
            tokens_per_s=data.get("tokens_per_s"),
            usage=Usage.from_dict(data.get("usage")),
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
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        """Build from a dict already upgraded to :data:`SCHEMA_VERSION`."""
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            raise ValueError("not a conversation")
        return cls(
            id=str(data["id"]),
            title=str(data.get("title") or "New chat"),
            title_is_custom=bool(data.get("title_is_custom", False)),
            created_at=str(data.get("created_at") or now_iso()),
            updated_at=str(data.get("updated_at") or data.get("created_at") or now_iso()),
            model=str(data.get("model") or ""),
            base_url=str(data.get("base_url") or ""),
            profile=str(data.get("profile") or ""),
            system_prompt=str(data.get("system_prompt") or ""),
            draft=str(data.get("draft") or ""),
            messages=[Message.from_dict(m) for m in data["messages"]],
        )
