"""Conversation and message data: plain dataclasses, no I/O, no Textual.

A conversation is a tree: every message names its parent (``parent_id``; None
for the first), and the conversation remembers the message at the end of the
branch on screen (``current_id``). Regenerating a reply adds a sibling reply;
editing a message adds a sibling message with its own replies; nothing is
overwritten. :attr:`Conversation.messages` is the branch on screen, root first:
what is drawn, exported as Markdown and sent; :attr:`Conversation.nodes` holds
every message of every branch, in the order they were written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from llmchat_tui import fields
from llmchat_tui.attachments import Attachment, read_attachments
from llmchat_tui.fields import Converted, Converter, Note, Unusable, optional, read_fields, show
from llmchat_tui.request_options import RequestOptions

SCHEMA_VERSION = 2

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
    #: The profile that served a reply when it was not the conversation's own
    #: (a compare across providers); None otherwise.
    profile: str | None = None
    finish_reason: str | None = None
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    usage: Usage | None = None
    parent_id: str | None = None
    #: Files sent with a user message (their bytes are in the store).
    attachments: list[Attachment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "parent_id": self.parent_id,
            "role": self.role,
            "content": self.content,
            "status": str(self.status),
            "created_at": self.created_at,
        }
        if self.attachments:
            data["attachments"] = [a.to_dict() for a in self.attachments]
        if self.role == "assistant":
            data.update(
                reasoning=self.reasoning,
                error=self.error,
                model=self.model,
                **({"profile": self.profile} if self.profile else {}),
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
    ("parent_id", optional(fields.identifier)),
    ("content", fields.text),
    ("status", fields.member(Status)),
    ("created_at", timestamp),
    ("reasoning", fields.text),
    ("error", optional(fields.text)),
    ("model", optional(fields.text)),
    ("profile", optional(fields.text)),
    ("finish_reason", optional(fields.text)),
    ("ttft_s", optional(fields.seconds)),
    ("tokens_per_s", optional(fields.seconds)),
    ("attachments", read_attachments),
    ("usage", _usage),
)


def title_from_text(text: str, limit: int = 60) -> str:
    """A conversation title: the first non-empty line of ``text``, trimmed."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return "New chat"


class _Current:
    """``Conversation.add``'s default parent: the end of the branch on screen."""

    def __repr__(self) -> str:
        return "CURRENT"


CURRENT = _Current()


@dataclass
class Conversation:
    """A conversation: its settings and its tree of messages."""

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
    options: RequestOptions = field(default_factory=RequestOptions)
    nodes: list[Message] = field(default_factory=list)
    current_id: str | None = None
    #: The models every message goes to while comparing (``[profile:]model``
    #: labels, 2-4 of them); empty when the conversation does not compare.
    compare: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cache_key: tuple[int, str | None, int] | None = None
        self._by_id: dict[str, Message] = {}
        self._children: dict[str | None, list[Message]] = {}
        self._path: tuple[Message, ...] = ()
        if self.current_id is None and self.nodes:
            self.current_id = self.nodes[-1].id

    # -- the tree ------------------------------------------------------------

    def _fresh(self) -> None:
        """Rebuild the id index and the path when the tree or the branch changed."""
        key = (len(self.nodes), self.current_id, id(self.nodes[-1]) if self.nodes else 0)
        if key == self._cache_key:
            return
        self._by_id = by_id = {m.id: m for m in self.nodes}
        children: dict[str | None, list[Message]] = {}
        for m in self.nodes:
            children.setdefault(m.parent_id if m.parent_id in by_id else None, []).append(m)
        self._children = children
        path: list[Message] = []
        seen: set[str] = set()
        message = self._by_id.get(self.current_id) if self.current_id else None
        while message is not None and message.id not in seen:
            seen.add(message.id)
            path.append(message)
            message = self._by_id.get(message.parent_id) if message.parent_id else None
        path.reverse()
        self._path = tuple(path)
        self._cache_key = key

    def changed(self) -> None:
        """Call after changing a message's ``parent_id`` in place (rare)."""
        self._cache_key = None

    @property
    def messages(self) -> tuple[Message, ...]:
        """The branch on screen, first message first (what is drawn and sent)."""
        self._fresh()
        return self._path

    def get(self, message_id: str | None) -> Message | None:
        """The message with this id (any branch), if there is one."""
        if message_id is None:
            return None
        self._fresh()
        return self._by_id.get(message_id)

    @property
    def current(self) -> Message | None:
        """The message at the end of the branch on screen."""
        return self.get(self.current_id)

    def children(self, message: Message | None) -> list[Message]:
        """The replies to ``message`` (the first messages for None), oldest first."""
        self._fresh()
        return list(self._children.get(message.id if message is not None else None, ()))

    def siblings(self, message: Message) -> list[Message]:
        """``message`` and the other versions of it (same parent), oldest first."""
        return self.children(self.get(message.parent_id))

    def leaf_of(self, message: Message) -> Message:
        """The end of the newest branch below ``message`` (itself if it has no reply)."""
        self._fresh()
        seen = {message.id}
        while True:
            below = self._children.get(message.id)
            if not below or below[-1].id in seen:
                return message
            message = below[-1]
            seen.add(message.id)

    def show_branch(self, message: Message) -> None:
        """Put ``message`` (and the newest branch below it) on screen."""
        self.current_id = self.leaf_of(message).id

    def switch(self, message: Message, step: int) -> Message | None:
        """Show the previous (-1) or next (1) version of ``message``; the one shown now,
        or None when there is none that way."""
        versions = self.siblings(message)
        at = versions.index(message) + step if message in versions else -1
        if not 0 <= at < len(versions):
            return None
        chosen = versions[at]
        self.show_branch(chosen)
        return chosen

    def add(self, message: Message, parent: Message | _Current | None = CURRENT) -> Message:
        """Add ``message`` below ``parent`` (default: the end of the branch on screen)
        and show it; the first user message names the conversation."""
        if isinstance(parent, _Current):
            message.parent_id = self.current_id
        else:
            message.parent_id = parent.id if parent is not None else None
        self.nodes.append(message)
        self.current_id = message.id
        if message.role == "user" and not self.title_is_custom:
            if sum(1 for m in self.nodes if m.role == "user") == 1:
                self.title = title_from_text(message.content)
        self.touch()
        return message

    def extend(self, messages: Iterable[Message]) -> None:
        """Append ``messages`` one below the other at the end of the branch on screen
        (each the reply to the one before), without renaming or touching."""
        for message in messages:
            message.parent_id = self.current_id
            self.nodes.append(message)
            self.current_id = message.id

    def remove(self, message: Message) -> list[str]:
        """Take ``message`` out of the tree; its replies move up to its parent.

        Returns the ids of the replies that moved (to put them back on undo).
        The branch on screen stays where it was, or moves to the parent's.
        """
        moved = [m.id for m in self.children(message)]
        for child in self.children(message):
            child.parent_id = message.parent_id
        on_path = message in self.messages
        self.nodes.remove(message)
        self._cache_key = None
        if on_path and self.current_id == message.id:
            parent = self.get(message.parent_id)
            self.current_id = None
            if parent is not None:
                self.show_branch(parent)
            elif self.nodes:
                self.show_branch(self.children(None)[-1])
        return moved

    def put_back(self, message: Message, moved: list[str], position: int | None = None) -> None:
        """Undo :meth:`remove`: ``message`` returns, and the replies that moved up hang
        below it again."""
        at = len(self.nodes) if position is None else max(0, min(position, len(self.nodes)))
        self.nodes.insert(at, message)
        for child_id in moved:
            child = self.get(child_id)
            if child is not None:
                child.parent_id = message.id
        self._cache_key = None
        self.show_branch(message)

    def touch(self) -> None:
        """Mark the conversation as changed now."""
        self.updated_at = now_iso()

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
            "current_id": self.current_id,
            # Only when set, so files of conversations without options stay as they were.
            **({"options": self.options.to_dict()} if not self.options.is_empty() else {}),
            **({"compare": list(self.compare)} if self.compare else {}),
        }

    def to_dict(self) -> dict[str, Any]:
        """Every field and every message of every branch."""
        data = self.head_dict()
        data["messages"] = [m.to_dict() for m in self.nodes]
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
        _repair_tree(messages, found)
        current = values.pop("current_id", None)
        if current not in {m.id for m in messages}:
            if current is not None:
                found.append(FieldIssue("current_id", show(current), "unknown message; ignored"))
            current = None
        conversation = cls(id=str(data["id"]), nodes=messages, **values)
        if current is not None:
            conversation.current_id = current
        elif messages:
            conversation.show_branch(conversation.children(None)[-1])
        return conversation


def _repair_tree(messages: list[Message], found: list[FieldIssue]) -> None:
    """Make the parent links a tree: unique ids, known parents, no loops.

    A repeated id gets a new one; a message whose parent is unknown (or would
    close a loop) hangs below the message before it in the file, as in the
    one-branch files this format grew from. Each repair is told in ``found``.
    """
    seen: set[str] = set()
    for number, message in enumerate(messages, 1):
        if message.id in seen:
            old = message.id
            message.id = new_id()
            found.append(FieldIssue("id", show(old), "repeated; given a new id", number, old))
        seen.add(message.id)
    by_id = {m.id: m for m in messages}
    # Messages whose line of parents is known to end at a first message: a walk up
    # stops at one, so checking the whole tree costs O(messages), not O(messages²)
    # (a 2,000-message conversation took half a second to open).
    rooted: set[str] = set()
    for number, message in enumerate(messages, 1):
        parent = message.parent_id
        before = messages[number - 2].id if number > 1 else None
        if parent is not None and parent not in by_id:
            found.append(
                FieldIssue(
                    "parent_id",
                    show(parent),
                    "unknown message; follows the one before",
                    number,
                    message.id,
                )
            )
            message.parent_id = before
            continue
        # Walk up: a loop back to this message means the link cannot stand.
        walked: set[str] = set()
        walker = parent
        while walker is not None and walker not in rooted:
            if walker in walked:
                break  # a loop above that does not pass here: fixed at its own turn
            walked.add(walker)
            if walker == message.id:
                found.append(
                    FieldIssue(
                        "parent_id",
                        show(parent),
                        "would make a loop; follows the one before",
                        number,
                        message.id,
                    )
                )
                message.parent_id = before if before != message.id else None
                break
            walker = by_id[walker].parent_id if walker in by_id else None
        else:  # the walk reached a first message (or one known to lead to one)
            rooted.update(walked)
            rooted.add(message.id)


def _model_list(raw: Any) -> Any:
    """The models a conversation compares: 2-4 names (entries that are not text
    are dropped; a list that cannot compare turns comparing off)."""
    if not isinstance(raw, list):
        raise fields.Unusable("not a list of models")
    names = [item.strip() for item in raw if isinstance(item, str) and item.strip()]
    usable = names if 2 <= len(names) <= 4 else []
    return usable if usable == raw else fields.Converted(usable)


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
    ("options", RequestOptions.read),
    ("current_id", optional(fields.identifier)),
    ("compare", _model_list),
)
