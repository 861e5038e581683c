"""Saved conversations on disk.

Layout of a data folder (0700, every file 0600)::

    <data_dir>/
        lock                    flock'ed by the running app; holds its pid
        index.json              a cache of every conversation's summary
        conversations/
            <id>.json           one conversation, schema_version'ed
            <id>.journal        only while a reply streams (or after a crash): what
                                arrived since the last full save (llmchat_tui.journal)
        trash/                  deleted conversations and messages (see llmchat_tui.trash)

Guarantees:

* Every write is atomic (temp file in the same folder, fsync, ``os.replace``,
  fsync of the folder): a crash at any instant leaves the old file or the new
  one, never a torn one.
* Start-up reads ``index.json`` and stats each conversation file; only files
  whose (mtime_ns, size, inode) differ from their index entry are parsed.
* A file that cannot be read is reported as :class:`Skipped`, never modified,
  and never overwritten by :meth:`Store.save`.
* While a reply streams, :meth:`Store.checkpoint` appends the new text to the
  conversation's journal and fsyncs it; the JSON file is not rewritten until
  the reply ends (a full :meth:`Store.save` folds the journal in and removes
  it). :meth:`Store.load` applies a journal left by a crash, folds it and
  removes it; :meth:`Store.open` does that for every leftover journal.
* Older files are upgraded in memory through :data:`UPGRADES`; files written
  by a newer version are skipped.
* A deleted conversation is moved to ``trash/`` with one ``os.replace`` in the
  same file system, so at every instant its file is in ``conversations/`` or
  in ``trash/``, whole; restoring moves it back the same way.

This module uses the standard library only and must never import Textual.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from llmchat_tui import journal as journals
from llmchat_tui.attachments import FOLDER as ATTACHMENTS_FOLDER
from llmchat_tui.attachments import Attachment, AttachmentError
from llmchat_tui.models import (
    SCHEMA_VERSION,
    Conversation,
    FieldIssue,
    Message,
    Status,
    message_role,
)
from llmchat_tui.paths import ensure_private_dir
from llmchat_tui.store_index import (
    INDEX_VERSION,
    Entry,
    encode_index,
    key_of,
    make_entry,
    parse_index,
    sort_key,
    stat_key,
    valid,
)
from llmchat_tui.trash import (
    TRASH_DAYS,
    TrashEntry,
    TrashName,
    encode_message_entry,
    entry_name,
    iso,
    parse_name,
    read_message_entry,
)

__all__ = [
    "INDEX_VERSION",
    "UPGRADES",
    "Skipped",
    "Store",
    "StoreError",
    "StoreLocked",
    "Summary",
    "TrashEntry",
    "atomic_write_bytes",
    "decode_conversation",
    "encode_conversation",
    "upgrade_0_to_1",
    "upgrade_1_to_2",
]

log = logging.getLogger(__name__)

#: Seconds between two writes of ``index.json`` caused by :meth:`Store.save`.
INDEX_FLUSH_INTERVAL = 2.0

#: Permissions of every file the store creates.
FILE_MODE = 0o600
_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_SUFFIX = ".json"


# ---------------------------------------------------------------------------
# Public value types and errors
# ---------------------------------------------------------------------------


class StoreError(Exception):
    """A conversation could not be read, written or deleted.

    The message is a one-line explanation fit for the status bar.
    """


class StoreLocked(StoreError):
    """Another process holds the data folder's lock (see :meth:`Store.acquire_lock`)."""

    def __init__(self, pid: int | None, data_dir: Path) -> None:
        """``pid`` is the holder's (None if unknown); ``data_dir`` the contested folder."""
        self.pid = pid
        self.data_dir = data_dir
        who = f"another llmchat-tui (pid {pid})" if pid else "another llmchat-tui"
        super().__init__(f"{who} is using {data_dir}; close it or use --data-dir")


@dataclass(frozen=True, slots=True)
class Summary:
    """What the conversation list shows, taken from the index without reading the file."""

    id: str
    title: str
    updated_at: str
    created_at: str
    model: str
    message_count: int


@dataclass(frozen=True)
class Skipped:
    """A conversation file that could not be read; it is left untouched on disk."""

    path: Path
    reason: str


# ---------------------------------------------------------------------------
# Schema upgrades
# ---------------------------------------------------------------------------


def upgrade_0_to_1(data: dict[str, Any]) -> dict[str, Any]:
    """Upgrade the pre-release format (schema 0) to schema 1.

    Schema 0 had no ``schema_version`` key, stored a message's text under
    ``"text"`` instead of ``"content"`` and had no per-message ``status``
    (every message was complete). Returns a new dict; ``data`` is not changed.
    """
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise ValueError("missing messages")
    upgraded = []
    for number, message in enumerate(messages, 1):
        if not isinstance(message, dict):
            raise ValueError(f"message {number} is not an object")
        message = dict(message)
        if "content" not in message and "text" in message:
            message["content"] = message.pop("text")
        message.setdefault("status", str(Status.COMPLETE))
        upgraded.append(message)
    return {**data, "messages": upgraded, "schema_version": 1}


def upgrade_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Upgrade schema 1 (one branch: a list) to schema 2 (a tree).

    Each message's parent is the message before it, and the branch on screen
    ends at the last one. Returns a new dict; ``data`` is not changed.
    """
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise ValueError("missing messages")
    upgraded = []
    parent = None
    for number, message in enumerate(messages, 1):
        if not isinstance(message, dict):
            raise ValueError(f"message {number} is not an object")
        message = {**message, "parent_id": parent}
        upgraded.append(message)
        found = message.get("id")
        parent = found if isinstance(found, str) and found else None
    current = upgraded[-1].get("id") if upgraded else None
    return {
        **data,
        "messages": upgraded,
        "current_id": current if isinstance(current, str) else None,
        "schema_version": 2,
    }


#: ``{version: function}``: each function turns a dict of schema ``version``
#: into one of schema ``version + 1``. Applied in order up to SCHEMA_VERSION.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: upgrade_0_to_1,
    1: upgrade_1_to_2,
}


def _message_json(message: Any) -> bytes:
    """One message as compact JSON, cached on the message until it changes.

    A full save of a long conversation (the fold at the end of a reply) then
    serialises only the reply that changed, not every finished message again (B7).
    """
    usage = message.usage
    key = (
        id(message.content),
        len(message.content),
        id(message.reasoning),
        message.status,
        message.error,
        message.model,
        message.profile,
        message.finish_reason,
        message.ttft_s,
        message.tokens_per_s,
        message.created_at,
        message.role,
        message.id,
        message.parent_id,
        None if usage is None else (usage.prompt_tokens, usage.completion_tokens, usage.source),
    )
    cached: tuple[object, bytes] | None = message.__dict__.get("_json_cache")
    if cached is not None and cached[0] == key:
        return cached[1]
    text = json.dumps(message.to_dict(), ensure_ascii=False).encode("utf-8")
    message.__dict__["_json_cache"] = (key, text)
    return text


def encode_conversation(conv: Conversation) -> bytes:
    """The bytes of a conversation file: indented JSON, UTF-8, trailing newline.

    The conversation's fields are indented; each message is one line.
    """
    messages = list(conv.nodes)  # a snapshot: the UI may append meanwhile
    data = conv.head_dict()
    try:
        head = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
        parts = [head[:-2], b',\n "messages": [']
        if messages:
            parts += [b"\n  ", b",\n  ".join([_message_json(m) for m in messages]), b"\n ]"]
        else:
            parts.append(b"]")
        parts.append(b"\n}\n")
        return b"".join(parts)
    except UnicodeEncodeError:
        data = conv.to_dict()
        # A lone surrogate (pasted binary junk) cannot be UTF-8 encoded; the
        # ASCII form escapes it and still round-trips through json.loads.
        return (json.dumps(data, indent=1, ensure_ascii=True) + "\n").encode("ascii")


def decode_conversation(
    raw: bytes, conv_id: str | None = None, issues: list[FieldIssue] | None = None
) -> Conversation:
    """Parse, upgrade and validate the bytes of a conversation file.

    ``conv_id`` (the file's name) wins over the ``id`` inside the file, so a
    copied file becomes a conversation of its own. Raises :class:`StoreError`
    whose message is the reason the file cannot be used (see
    :meth:`Conversation.from_dict` for what makes a file unusable); a field
    of the wrong type is converted or dropped instead, and reported in
    ``issues``.
    """
    data = _parse_upgraded(raw, conv_id)
    try:
        return Conversation.from_dict(data, issues)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise StoreError(f"not a conversation: {error}") from error


def summarize_conversation(raw: bytes, conv_id: str) -> tuple[Conversation, int]:
    """The conversation's fields without its messages, and how many it has.

    Used to rebuild the index: it checks every message by the same rule as
    :func:`decode_conversation` (:func:`message_role`), so start-up skips
    exactly the files load would refuse, but builds no message objects,
    which was a quarter of the time of rebuilding an index of 10,000
    conversations (benchmark B4).
    """
    data = _parse_upgraded(raw, conv_id)
    messages = data["messages"]
    try:
        for message in messages:
            message_role(message)
        head = Conversation.from_dict({**data, "messages": []})
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise StoreError(f"not a conversation: {error}") from error
    return head, len(messages)


def _parse_upgraded(raw: bytes, conv_id: str | None) -> dict[str, Any]:
    """JSON -> a dict upgraded to :data:`SCHEMA_VERSION` whose messages are objects."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise StoreError(f"not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise StoreError("not a JSON object")
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise StoreError(f"unknown schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise StoreError(f"written by a newer llmchat-tui (schema {version})")
    try:
        while version < SCHEMA_VERSION:
            upgrade = UPGRADES.get(version)
            if upgrade is None:
                raise StoreError(f"unknown schema_version {version!r}")
            data = upgrade(data)
            version += 1
        if conv_id is not None:
            data["id"] = conv_id
        elif not data.get("id"):
            raise StoreError("not a conversation: missing id")
        messages = data.get("messages")
        if not isinstance(messages, list):
            raise StoreError("not a conversation: missing messages")
        for number, message in enumerate(messages, 1):
            if not isinstance(message, dict):
                raise StoreError(f"not a conversation: message {number} is not an object")
        upgraded: dict[str, Any] = data
        return upgraded
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise StoreError(f"not a conversation: {error}") from error


# ---------------------------------------------------------------------------
# Low-level file helpers
# ---------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        # Some file systems refuse fsync on a folder (EINVAL); nothing better to do.
        pass
    finally:
        os.close(fd)


def _atomic_write(
    path: Path, data: bytes | Iterable[bytes], mode: int = FILE_MODE
) -> os.stat_result:
    """Atomically replace ``path`` with ``data`` (bytes, or chunks of them, written
    as they come); return the new file's stat."""
    folder = path.parent
    tmp = folder / f".{path.stem}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        try:
            os.fchmod(fd, mode)  # exactly ``mode`` whatever the umask
            for chunk in (data,) if isinstance(data, bytes) else data:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            journals.sync(fd, data_only=False)
            stat = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)
    return stat


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file.

    Writes ``.<stem>.<random>.tmp`` in the same folder (created with ``mode``,
    0600 by default, whatever the umask), fsyncs it, renames it over ``path``
    and fsyncs the folder. On failure the temp file is removed and ``path`` is
    unchanged; the ``OSError`` propagates.
    """
    _atomic_write(Path(path), data, mode)


def _read_file(path: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of ``path`` and the stat of the very file they were read from."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    with open(fd, "rb", closefd=True) as file:
        stat = os.fstat(fd)
        return file.read(), stat


def _read_whole(path: str) -> tuple[bytes, os.stat_result]:
    """Like :func:`_read_file` with a third of its system calls and no file object:
    the index rebuild reads every conversation file (27 -> 6 us a file, B11)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        stat = os.fstat(fd)
        data = os.read(fd, stat.st_size + 1)
        if len(data) > stat.st_size:  # grew since the fstat: read to the end
            chunks = [data]
            while more := os.read(fd, 1 << 20):
                chunks.append(more)
            data = b"".join(chunks)
        return data, stat
    finally:
        os.close(fd)


def _skip_key(entry: dict[str, Any]) -> tuple[Any, Any, Any]:
    return (entry.get("mtime_ns"), entry.get("size"), entry.get("ino"))


_SKIP_TYPES: dict[str, type] = {"reason": str, "mtime_ns": int, "size": int, "ino": int}


def _valid(entry: Any, types: dict[str, type]) -> bool:
    return isinstance(entry, dict) and all(
        isinstance(entry.get(name), kind) for name, kind in types.items()
    )


def _entry(conv: Conversation, stat: os.stat_result, message_count: int | None = None) -> Entry:
    count = len(conv.nodes) if message_count is None else message_count
    return make_entry(conv.title, conv.updated_at, conv.created_at, conv.model, count, stat)


def _skip_entry(reason: str, stat: os.stat_result) -> dict[str, Any]:
    return {
        "reason": reason,
        "mtime_ns": stat.st_mtime_ns,
        "size": stat.st_size,
        "ino": stat.st_ino,
    }


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: reading 100,000 index entries
    allocates objects that live on and make up no cycles, and each full
    collection would walk all of them again (benchmark B11)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_id(conv_id: str) -> str:
    if not isinstance(conv_id, str) or not _ID_RE.fullmatch(conv_id):
        raise StoreError(f"invalid conversation id {conv_id!r}")
    return conv_id


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        pid = int(text)
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------


class Store:
    """The conversations of one data folder.

    Thread-safe: one lock guards the in-memory index, so :meth:`search` may
    run in a worker thread while the UI thread saves. Methods other than
    :meth:`acquire_lock`/:meth:`release_lock` call :meth:`open` first if it
    has not been called.

    The app calls :meth:`acquire_lock` (before or after :meth:`open`) and
    :meth:`close` on exit. Read-only users (listing, export, search) need no
    lock.
    """

    #: Seconds between index writes caused by :meth:`save` (tests may change it).
    index_flush_interval: float = INDEX_FLUSH_INTERVAL

    def __init__(self, data_dir: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Remember ``data_dir``; nothing is read or created until :meth:`open`.

        ``clock`` (seconds, monotonic) times the index writes (tests pass their own).
        """
        self._data_dir = Path(data_dir)
        self._conv_dir = self._data_dir / "conversations"
        self._mutex = threading.RLock()
        self._opened = False
        self._entries: dict[str, Entry] = {}
        self._summaries: dict[str, Summary] = {}
        # Sort key (see store_index.sort_key) of each conversation.
        self._order_keys: dict[str, str] = {}
        self._sorted: list[Summary] | None = None
        # Files open(defer=True) left for read_pending: (id, file name, path).
        self._pending: list[tuple[str, str, str]] = []
        #: Conversations with a journal a crash left, not folded yet (not read yet).
        self._leftover_journals: set[str] = set()
        # Files that could not be read, by file name: cached in the index so a
        # broken file is not parsed at every start, and never overwritten.
        self._skip_entries: dict[str, dict[str, Any]] = {}
        # Skips that are not cached (I/O errors may be transient), by file name.
        self._io_skips: dict[str, str] = {}
        self._last_skipped: list[Skipped] = []
        # Warnings of the last load of each conversation (see warnings_for).
        self._warnings: dict[str, list[str]] = {}
        self._index_dirty = False
        self._last_flush = float("-inf")
        self._lock_fd: int | None = None
        self._monotonic = clock
        # The journals of conversations whose replies stream (see checkpoint).
        self._journals: dict[str, journals.Journal] = {}

    # -- locations ---------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """The data folder."""
        return self._data_dir

    @property
    def conversations_dir(self) -> Path:
        """The folder holding one ``<id>.json`` per conversation."""
        return self._conv_dir

    @property
    def index_path(self) -> Path:
        """The index cache, ``<data_dir>/index.json``."""
        return self._data_dir / "index.json"

    @property
    def trash_dir(self) -> Path:
        """The trash, ``<data_dir>/trash`` (created when first used)."""
        return self._data_dir / "trash"

    @property
    def lock_path(self) -> Path:
        """The lock file, ``<data_dir>/lock``."""
        return self._data_dir / "lock"

    def path_for(self, conv_id: str) -> Path:
        """The file of conversation ``conv_id`` (raises StoreError for an invalid id)."""
        return self._conv_dir / (_check_id(conv_id) + _SUFFIX)

    def journal_path(self, conv_id: str) -> Path:
        """The journal of conversation ``conv_id``: ``<id>.journal`` beside its file."""
        return self._conv_dir / (_check_id(conv_id) + journals.SUFFIX)

    @property
    def skipped(self) -> list[Skipped]:
        """The unreadable files found by the last :meth:`open` (plus any found by load)."""
        with self._mutex:
            return list(self._last_skipped)

    @property
    def locked(self) -> bool:
        """Whether this store holds the data folder's lock."""
        return self._lock_fd is not None

    # -- opening and the index --------------------------------------------

    def open(self, *, defer: bool = False) -> list[Skipped]:
        """Create the folders, remove stale temp files and load or refresh the index.

        Conversation files whose (mtime_ns, size, inode) match their index
        entry are not read. Returns the files that cannot be read, sorted by
        path; they are reported at every open until fixed, and never modified.
        Raises :class:`StoreError` if the folders cannot be created or listed.

        With ``defer`` the files the index does not vouch for (all of them when
        there is no index.json) are not read yet: :attr:`pending` counts them
        and :meth:`read_pending` reads them (the app does, in a thread, after
        its first frame), adding their summaries and the unreadable ones.
        """
        with self._mutex, _gc_paused():
            try:
                ensure_private_dir(self._data_dir)
                ensure_private_dir(self._conv_dir)
                self._remove_stale_tmp_files()
                cached = self._read_index()
                old_entries, old_skips, current = cached if cached else ({}, {}, False)
                leftovers: list[str] = []
                entries, skip_entries, pending = self._scan(old_entries, old_skips, leftovers)
            except OSError as error:
                raise StoreError(f"cannot open {self._data_dir}: {error}") from error

            self._entries = {}
            self._summaries = {}
            self._order_keys = {}
            self._sorted = None
            for conv_id, entry in entries.items():
                self._set_entry(conv_id, entry)
            self._skip_entries = skip_entries
            self._io_skips = {}
            self._pending = pending
            self._opened = True
            self._index_dirty = not current or entries != old_entries or skip_entries != old_skips
            if not defer:
                self._read_some(len(pending))
            self._refresh_skipped()
            if not self._pending and self._index_dirty:
                self._write_index()
            self._leftover_journals = set(leftovers)
            self._recover_journals(leftovers)
            return list(self._last_skipped)

    def _recover_journals(self, conv_ids: Iterable[str]) -> None:
        """Fold the journals a crash left (each :meth:`load` applies, saves, removes).
        A conversation not read yet (``open(defer=True)``) is folded when it is."""
        for conv_id in list(conv_ids):
            if conv_id not in self._entries or conv_id in self._journals:
                continue  # no readable file to fold into (the journal is kept), or live
            self._leftover_journals.discard(conv_id)
            try:
                self.load(conv_id)
            except StoreError as error:
                log.warning("could not recover the journal of %s: %s", conv_id, error)

    @property
    def pending(self) -> int:
        """How many files :meth:`open` left unread (``defer``); 0 when all are read."""
        with self._mutex:
            return len(self._pending)

    def read_pending(self, limit: int = 256) -> list[Summary]:
        """Read up to ``limit`` of the files ``open(defer=True)`` left; returns the
        summaries they added. Unreadable ones join :attr:`skipped`; after the
        last one the index is written. Safe in a thread while the UI saves.

        The garbage collector is not paused here (unlike :meth:`open`): the
        pause is process-wide, and a thread reading for seconds kept the UI's
        cyclic garbage from being collected (peak RSS +60 MB in B11)."""
        with self._mutex:
            added = self._read_some(limit)
            self._recover_journals(self._leftover_journals.intersection(added))
            if not self._pending:
                self._refresh_skipped()
                if self._index_dirty:
                    self._write_index()
            return [self._summaries[conv_id] for conv_id in added if conv_id in self._summaries]

    def _read_some(self, limit: int) -> list[str]:
        """Parse up to ``limit`` pending files into entries; returns the ids added."""
        added: list[str] = []
        pending = self._pending
        while pending and limit > 0:
            limit -= 1
            conv_id, name, path = pending.pop()
            if conv_id in self._entries:
                continue  # saved or loaded meanwhile: that entry is newer
            try:
                raw, stat = _read_whole(path)
            except FileNotFoundError:
                continue
            except OSError as error:
                self._io_skips[name] = f"cannot be read ({error.strerror or error})"
                continue
            self._index_dirty = True
            try:
                head, count = summarize_conversation(raw, conv_id)
            except StoreError as error:
                self._skip_entries[name] = _skip_entry(str(error), stat)
                continue
            self._set_entry(conv_id, _entry(head, stat, count))
            added.append(conv_id)
        return added

    def _scan(
        self,
        old_entries: dict[str, Entry],
        old_skips: dict[str, dict[str, Any]],
        leftovers: list[str],
    ) -> tuple[dict[str, Entry], dict[str, dict[str, Any]], list[tuple[str, str, str]]]:
        """List the conversations folder: the entries and skips the index vouches
        for, and the files it does not (to parse). The ids of journals found are
        added to ``leftovers``."""
        entries: dict[str, Entry] = {}
        skip_entries: dict[str, dict[str, Any]] = {}
        pending: list[tuple[int, str, str, str]] = []
        with os.scandir(self._conv_dir) as scan:
            for dirent in scan:
                name = dirent.name
                if name.endswith(journals.SUFFIX):
                    conv_id = name[: -len(journals.SUFFIX)]
                    if _ID_RE.fullmatch(conv_id):
                        leftovers.append(conv_id)
                    continue
                if name.startswith(".") or not name.endswith(_SUFFIX):
                    continue
                try:
                    if not dirent.is_file():
                        continue
                    stat = dirent.stat()
                except OSError:
                    continue  # vanished while scanning
                conv_id = name[: -len(_SUFFIX)]
                key = stat_key(stat)
                if not _ID_RE.fullmatch(conv_id):
                    skip_entries[name] = _skip_entry("file name is not a conversation id", stat)
                    continue
                entry = old_entries.get(conv_id)
                if entry is not None and valid(entry) and key_of(entry) == key:
                    entries[conv_id] = entry
                    continue
                skip = old_skips.get(name)
                if skip is not None and _skip_key(skip) == key and _valid(skip, _SKIP_TYPES):
                    skip_entries[name] = skip
                    continue
                pending.append((stat.st_mtime_ns, conv_id, name, dirent.path))
        # The most recently written files first (popped from the end): the top
        # of the sidebar, the newest conversations, is right early.
        pending.sort()
        return entries, skip_entries, [(c, n, p) for _, c, n, p in pending]

    def _ensure_open(self) -> None:
        if not self._opened:
            self.open()

    def _refresh_skipped(self) -> None:
        reasons = {name: skip["reason"] for name, skip in self._skip_entries.items()}
        reasons.update(self._io_skips)
        self._last_skipped = [
            Skipped(self._conv_dir / name, reason) for name, reason in sorted(reasons.items())
        ]

    def _remove_stale_tmp_files(self) -> None:
        """Delete temp files left by a crash, unless another process may be writing."""
        with self._write_permission() as allowed:
            if not allowed:
                return
            folders = [(self._conv_dir, "."), (self._data_dir, ".index.")]
            if self.trash_dir.is_dir():
                folders.append((self.trash_dir, "."))
            for folder, prefix in folders:
                with os.scandir(folder) as scan:
                    for dirent in scan:
                        name = dirent.name
                        if name.startswith(prefix) and name.endswith(".tmp"):
                            with contextlib.suppress(OSError):
                                if dirent.is_file(follow_symlinks=False):
                                    os.unlink(dirent.path)

    def _read_index(
        self,
    ) -> tuple[dict[str, Entry], dict[str, dict[str, Any]], bool] | None:
        """The cached (entries, skipped, current version) of index.json, or None."""
        try:
            raw, _ = _read_file(self.index_path)
        except OSError:
            return None
        return parse_index(raw)

    def _write_index(self) -> None:
        raw = encode_index(self._entries, self._skip_entries)
        try:
            _atomic_write(self.index_path, raw)
        except OSError as error:
            # The index is only a cache: the next open() revalidates it.
            log.warning("could not write %s: %s", self.index_path, error)
            return
        finally:
            self._last_flush = self._monotonic()
        self._index_dirty = False

    def flush_index(self) -> None:
        """Write index.json now if it changed since it was last written."""
        with self._mutex:
            if self._index_dirty:
                self._write_index()

    def _maybe_flush_index(self) -> None:
        if self._monotonic() - self._last_flush >= self.index_flush_interval:
            self._write_index()

    def _set_entry(self, conv_id: str, entry: Entry) -> None:
        self._entries[conv_id] = entry
        title, updated_at, created_at, model, count = entry[:5]
        self._summaries[conv_id] = Summary(conv_id, title, updated_at, created_at, model, count)
        self._order_keys[conv_id] = sort_key(updated_at)
        self._sorted = None

    def _drop_entry(self, conv_id: str) -> None:
        if self._entries.pop(conv_id, None) is not None:
            self._summaries.pop(conv_id, None)
            self._order_keys.pop(conv_id, None)
            self._sorted = None
            self._index_dirty = True

    def _mark_skipped(self, name: str, reason: str, stat: os.stat_result | None) -> None:
        if stat is None:
            self._io_skips[name] = reason
        else:
            self._skip_entries[name] = _skip_entry(reason, stat)
            self._index_dirty = True
        self._refresh_skipped()

    def _unmark_skipped(self, name: str) -> None:
        changed = self._skip_entries.pop(name, None) is not None
        changed = self._io_skips.pop(name, None) is not None or changed
        if changed:
            self._index_dirty = True
            self._refresh_skipped()

    def _skip_reason(self, name: str) -> str | None:
        skip = self._skip_entries.get(name)
        if skip is not None:
            reason: str = skip["reason"]
            return reason
        return self._io_skips.get(name)

    # -- reading -------------------------------------------------------------

    def summaries(self) -> list[Summary]:
        """Every readable conversation, most recently updated first (no file is read)."""
        with self._mutex:
            self._ensure_open()
            if self._sorted is None:
                # Newest first; equal times by id, descending (a stable sort of
                # the ids sorted in reverse).
                keys = self._order_keys
                ids = sorted(keys, reverse=True)
                ids.sort(key=keys.__getitem__, reverse=True)
                summaries = self._summaries
                self._sorted = [summaries[conv_id] for conv_id in ids]
            return list(self._sorted)

    def load(self, conv_id: str) -> Conversation:
        """Read one conversation with its messages.

        A message left ``streaming`` by a crash comes back ``interrupted``,
        with the text its journal holds (see :mod:`llmchat_tui.journal`);
        the fix is saved at once (without changing ``updated_at``) and the
        journal removed, unless another process holds the lock (or this store
        is writing that journal), in which case only the returned copy is
        fixed. A journal that could not be applied whole (a line for a
        message the file does not have) is kept, renamed ``…-unused-<time>``.
        Raises :class:`StoreError` if the file is missing or unreadable; an
        unreadable file is then refused by :meth:`save`.

        A field of the wrong type (a hand edit) does not stop the load: it is
        converted or left at its default, the file is not rewritten, and a
        warning naming the file, the message and the field is logged and
        kept for :meth:`warnings_for`.
        """
        path = self.path_for(conv_id)
        name = path.name
        with self._mutex:
            self._ensure_open()
            try:
                raw, stat = _read_file(path)
            except FileNotFoundError:
                self._drop_entry(conv_id)
                self._unmark_skipped(name)
                raise StoreError(f"no saved conversation {conv_id}") from None
            except OSError as error:
                reason = f"cannot be read ({error.strerror or error})"
                self._mark_skipped(name, reason, None)
                raise StoreError(f"{path}: {reason}") from error
            issues: list[FieldIssue] = []
            self._warnings.pop(conv_id, None)
            try:
                conv = decode_conversation(raw, conv_id, issues)
            except StoreError as error:
                self._drop_entry(conv_id)
                self._mark_skipped(name, str(error), stat)
                raise StoreError(f"{path}: {error}") from error
            self._unmark_skipped(name)
            if issues:
                warnings = [f"{path}: {issue}" for issue in issues]
                self._warnings[conv_id] = warnings
                for warning in warnings:
                    log.warning("%s", warning)

            journal_path = self.journal_path(conv_id)
            recovery = self._apply_journal(conv, journal_path)
            stuck = [m for m in conv.nodes if m.status == Status.STREAMING]
            for message in stuck:
                message.status = Status.INTERRUPTED
            live = conv_id in self._journals  # a reply of this store streams into it
            if (stuck or recovery is not None) and not live:
                with self._write_permission() as allowed:
                    if allowed:
                        try:
                            stat = _atomic_write(path, encode_conversation(conv))
                        except OSError as error:
                            log.warning("could not save the repaired %s: %s", path, error)
                        else:
                            if recovery is not None:
                                self._remove_journal(journal_path, recovery)

            entry = _entry(conv, stat)
            if self._entries.get(conv_id) != entry:
                self._set_entry(conv_id, entry)
                self._index_dirty = True
            return conv

    def _apply_journal(self, conv: Conversation, journal_path: Path) -> journals.Recovery | None:
        """Apply the conversation's journal to ``conv``; None when there is none."""
        try:
            records = journals.read(journal_path)
        except OSError as error:
            log.warning("could not read %s: %s", journal_path, error)
            return None
        if records is None:
            return None
        recovery = journals.apply(conv, records)
        if recovery.applied:
            log.info("%s: recovered %d checkpoint(s)", journal_path, recovery.applied)
        return recovery

    def _remove_journal(self, journal_path: Path, recovery: journals.Recovery) -> None:
        """After a fold: remove the journal, or set it aside if it was not applied whole."""
        if not recovery.clean:
            journals.set_aside(journal_path)
            return
        try:
            os.unlink(journal_path)
        except FileNotFoundError:
            return
        except OSError as error:
            log.warning("could not remove %s: %s", journal_path, error)
            return
        _fsync_dir(self._conv_dir)

    def warnings_for(self, conv_id: str) -> list[str]:
        """The warnings of the last :meth:`load` of ``conv_id`` ([] if it was clean).

        One line per field that was converted or ignored, e.g.
        ``<path>: message 2 (id 01J…): ttft_s = "fast": not a number; ignored``.
        The value shown is ASCII JSON cut to 40 characters (no terminal
        controls), but it came from a file: show it as plain text, not markup.
        """
        with self._mutex:
            return list(self._warnings.get(conv_id, ()))

    def search(self, query: str, *, cancelled: Callable[[], bool] | None = None) -> Iterator[str]:
        """Yield the ids of conversations whose title or a message contains ``query``.

        Case-insensitive (``str.casefold``), most recent first. Titles are
        matched from the index; other conversations' files are read one by
        one, so this may run in a worker thread. ``cancelled()`` is checked
        before each conversation; when it returns true the search stops.
        Unreadable files are passed over. An empty query matches everything.
        """
        needle = query.casefold()
        for summary in self.summaries():
            if cancelled is not None and cancelled():
                return
            if needle in summary.title.casefold():
                yield summary.id
                continue
            try:
                raw, _ = _read_file(self._conv_dir / (summary.id + _SUFFIX))
                conv = decode_conversation(raw, summary.id)
            except (OSError, StoreError):
                continue
            if any(needle in message.content.casefold() for message in conv.nodes):
                yield summary.id

    # -- writing -------------------------------------------------------------

    def read_attachment(self, attachment: Attachment) -> bytes:
        """The bytes :meth:`keep_attachment` kept; ``AttachmentError`` if they are gone."""
        try:
            return (self._data_dir / ATTACHMENTS_FOLDER / attachment.sha256).read_bytes()
        except OSError:
            raise AttachmentError(
                f"the attached file {attachment.name} is no longer in the data folder"
            ) from None

    def keep_attachment(self, attachment: Attachment, data: bytes) -> None:
        """Keep an attachment's bytes under ``attachments/<sha256>`` (once per content,
        written atomically, private), so its message can be sent again later."""
        folder = ensure_private_dir(self._data_dir / ATTACHMENTS_FOLDER)
        target = folder / attachment.sha256
        if not target.exists():
            atomic_write_bytes(target, data)

    def save(self, conv: Conversation) -> None:
        """Atomically write ``conv`` to ``<id>.json`` and update its index entry.

        This is the fold of the conversation's journal: once the file is
        written the journal is removed, and the replies still streaming go on
        appending to a new one from what this save holds. index.json itself is
        written at most every :attr:`index_flush_interval` seconds (and by
        :meth:`flush_index`/:meth:`close`). Refuses, with :class:`StoreError`,
        to overwrite a file that was found unreadable; disk errors are raised
        as :class:`StoreError` too.
        """
        path = self.path_for(conv.id)
        with self._mutex:
            self._ensure_open()
            reason = self._skip_reason(path.name)
            if reason is not None:
                raise StoreError(f"refusing to overwrite unreadable {path}: {reason}")
            # Taken before encoding: a streaming message only grows meanwhile, so the
            # file holds at least this much of each (a lower bound is safe: journal
            # lines say where their text goes, and text already there is not repeated).
            durable = {
                m.id: (len(m.content), len(m.reasoning))
                for m in list(conv.nodes)
                if m.status is Status.STREAMING
            }
            journal = self._journals.get(conv.id)
            if journal is None and durable:
                journal = self._journals[conv.id] = journals.Journal(
                    self.journal_path(conv.id), FILE_MODE
                )
            if journal is not None and durable:
                # Created now, so this save's fsync of the folder covers its name too:
                # the first checkpoint is one durable append. If it cannot be created
                # (a full disk), the first append tries again; the save goes on.
                try:
                    journal.prepare()
                except OSError as error:
                    log.warning("could not create %s: %s", journal.path, error)
            try:
                stat = _atomic_write(path, encode_conversation(conv))
            except OSError as error:
                raise StoreError(f"could not save {path}: {error}") from error
            if journal is not None:
                if durable:
                    journal.restart(durable)
                else:
                    journal.reset({})
                    del self._journals[conv.id]
            self._set_entry(conv.id, _entry(conv, stat))
            self._index_dirty = True
            self._maybe_flush_index()

    def checkpoint(self, conv: Conversation, message: Message) -> int:
        """Make what ``message`` gained since its last checkpoint durable, cheaply.

        While ``message`` streams, its new text, reasoning and changed figures
        are appended to the conversation's journal and fsynced: the bytes
        written are about the reply's own, whatever the size of the
        conversation, and ``<id>.json`` is not touched. Otherwise (the reply
        ended, the conversation was never saved, or the message got shorter)
        this is a full :meth:`save`, which also folds the journal. Returns
        the bytes appended (0 after a full save or when nothing was new).
        Errors as :meth:`save`: the user is told the same way.
        """
        path = self.path_for(conv.id)
        with self._mutex:
            self._ensure_open()
            reason = self._skip_reason(path.name)
            if reason is not None:
                raise StoreError(f"refusing to overwrite unreadable {path}: {reason}")
            journal = self._journals.get(conv.id)
            if (
                message.status is not Status.STREAMING
                or conv.id not in self._entries
                or journal is None
                or not journal.can_append(message)
            ):
                self.save(conv)
                return 0
            try:
                return journal.append([message])
            except OSError as error:
                raise StoreError(f"could not save {journal.path}: {error}") from error

    def delete(self, conv_id: str) -> None:
        """Delete a conversation's file and index entry (no error if already gone).

        Refuses to delete a file that was found unreadable: its bytes are the
        user's to recover.
        """
        path = self.path_for(conv_id)
        with self._mutex:
            self._ensure_open()
            reason = self._skip_reason(path.name)
            if reason is not None:
                raise StoreError(f"refusing to delete unreadable {path}: {reason}")
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as error:
                raise StoreError(f"could not delete {path}: {error}") from error
            else:
                _fsync_dir(self._conv_dir)
            journal = self._journals.pop(conv_id, None)
            if journal is not None:
                journal.reset({})
            self._drop_entry(conv_id)
            self.flush_index()

    # -- the trash ------------------------------------------------------------

    def trash(self, conv_id: str, *, now: datetime | None = None) -> TrashEntry:
        """Move a conversation's file into the trash; :meth:`restore` brings it back.

        One ``os.replace`` within the data folder: at every instant the file
        is whole in ``conversations/`` or in ``trash/``, and its bytes are not
        changed. The conversation leaves the index. ``now`` (UTC) is the
        deletion time to record (tests). Refuses, with :class:`StoreError`,
        a missing or unreadable file (its bytes are the user's to recover)
        and a data folder locked by another process.
        """
        path = self.path_for(conv_id)
        name = path.name
        with self._mutex:
            self._ensure_open()
            reason = self._skip_reason(name)
            if reason is not None:
                raise StoreError(f"refusing to trash unreadable {path}: {reason}")
            with self._write_permission() as allowed:
                if not allowed:
                    raise self._busy()
                try:
                    raw, stat = _read_file(path)
                except FileNotFoundError:
                    self._drop_entry(conv_id)
                    raise StoreError(f"no saved conversation {conv_id}") from None
                except OSError as error:
                    raise StoreError(f"could not read {path}: {error}") from error
                try:
                    head, _ = summarize_conversation(raw, conv_id)
                except StoreError as error:
                    self._drop_entry(conv_id)
                    self._mark_skipped(name, str(error), stat)
                    raise StoreError(f"refusing to trash unreadable {path}: {error}") from error
                try:
                    ensure_private_dir(self.trash_dir)
                    target, moment = self._free_trash_path(conv_id, now, "conversation")
                    os.replace(path, target)
                except OSError as error:
                    raise StoreError(f"could not move {path} to the trash: {error}") from error
                _fsync_dir(self.trash_dir)
                _fsync_dir(self._conv_dir)
            self._drop_entry(conv_id)
            self._warnings.pop(conv_id, None)
            journal = self._journals.pop(conv_id, None)
            if journal is not None:
                journal.close()
            self.flush_index()
            return TrashEntry(
                id=target.name[: -len(_SUFFIX)],
                kind="conversation",
                conversation_id=conv_id,
                deleted_at=iso(moment),
                title=head.title,
                path=target,
            )

    def trash_message(
        self, conversation: Conversation, message: Message, *, now: datetime | None = None
    ) -> TrashEntry:
        """Keep a copy of ``message`` in the trash before it is deleted.

        Writes the entry (atomically) and changes nothing else: the caller
        then removes the message from ``conversation`` and saves it. In that
        order a crash at any instant leaves the message in the conversation,
        in the trash, or in both. Raises :class:`StoreError` if ``message``
        is not in ``conversation`` or the entry cannot be written.
        """
        position = next((n for n, m in enumerate(conversation.nodes) if m is message), None)
        if position is None:
            raise StoreError("that message is not in this conversation")
        _check_id(conversation.id)
        with self._mutex:
            self._ensure_open()
            with self._write_permission() as allowed:
                if not allowed:
                    raise self._busy()
                try:
                    ensure_private_dir(self.trash_dir)
                    target, moment = self._free_trash_path(conversation.id, now, "message")
                    raw = encode_message_entry(conversation, message, position, moment)
                    _atomic_write(target, raw)
                except OSError as error:
                    raise StoreError(f"could not keep the message in the trash: {error}") from error
        return TrashEntry(
            id=target.name[: -len(_SUFFIX)],
            kind="message",
            conversation_id=conversation.id,
            deleted_at=iso(moment),
            title=conversation.title,
            path=target,
            message_id=message.id,
            position=position,
            role=message.role,
        )

    def trashed(self) -> list[TrashEntry]:
        """Everything in the trash, most recently deleted first.

        Reads each entry for its title; creates nothing. An entry whose file
        cannot be read is listed with the title ``(unreadable)``.
        """
        names = sorted(self._trash_names(), key=lambda n: (n.deleted, n.id), reverse=True)
        return [self._read_trash_entry(name) for name in names]

    def find_trashed(self, text: str) -> TrashEntry:
        """The entry whose id is ``text`` or the only one whose id starts with it.

        An entry's id starts with its conversation's id, so a conversation id
        (or a prefix of one) finds it too. :class:`StoreError` if nothing or
        more than one entry matches.
        """
        names = self._trash_names()
        matches = [n for n in names if n.id == text] or [
            n for n in names if text and n.id.startswith(text)
        ]
        if not matches:
            raise StoreError(f"nothing in the trash matches {text} (see llmchat-tui trash)")
        if len(matches) > 1:
            raise StoreError(
                f"ambiguous id {text}: {len(matches)} entries in the trash match; "
                "give more of the ID"
            )
        return self._read_trash_entry(matches[0])

    def restore(self, entry: TrashEntry | str, *, into: Conversation | None = None) -> TrashEntry:
        """Bring an entry back from the trash; ``entry`` may be an id or prefix.

        A conversation is moved back (one ``os.replace``; same bytes) and
        listed again, unless a conversation with its id exists: that is never
        overwritten. A message is put back after the message that preceded
        it (or at its old position) and the conversation saved, then the
        entry removed. Pass ``into`` the conversation if you hold it in
        memory (the app's open copy), so that copy gets the message;
        otherwise it is loaded from disk. Raises :class:`StoreError` with the
        reason if the entry cannot be restored.
        """
        with self._mutex:
            self._ensure_open()
            if not isinstance(entry, TrashEntry):
                entry = self.find_trashed(entry)
            with self._write_permission() as allowed:
                if not allowed:
                    raise self._busy()
                if entry.kind == "conversation":
                    self._restore_conversation(entry)
                else:
                    self._restore_message(entry, into)
            return entry

    def purge_trash(
        self, older_than_days: float = TRASH_DAYS, *, now: datetime | None = None
    ) -> list[TrashEntry]:
        """Delete for good the entries deleted more than ``older_than_days`` before ``now``.

        Meant for start-up. Returns what was removed, most recent first. Does
        nothing while another process holds the data folder's lock, and
        creates nothing when there is no trash.
        """
        moment = now if now is not None else datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        cutoff = moment - timedelta(days=older_than_days)
        with self._mutex:
            old = [n for n in self._trash_names() if n.deleted < cutoff]
            if not old:
                return []
            removed = []
            with self._write_permission() as allowed:
                if not allowed:
                    return []
                for name in sorted(old, key=lambda n: (n.deleted, n.id), reverse=True):
                    entry = self._read_trash_entry(name)
                    try:
                        os.unlink(entry.path)
                    except FileNotFoundError:
                        continue
                    except OSError as error:
                        log.warning("could not purge %s: %s", entry.path, error)
                        continue
                    removed.append(entry)
                if removed:
                    _fsync_dir(self.trash_dir)
            return removed

    def _busy(self) -> StoreError:
        return StoreError(f"another llmchat-tui is using {self._data_dir}; close it first")

    def _free_trash_path(
        self, conv_id: str, now: datetime | None, kind: Literal["conversation", "message"]
    ) -> tuple[Path, datetime]:
        """A trash file name no entry has yet (the lock makes this the only writer)."""
        moment = now if now is not None else datetime.now(UTC)
        while True:
            path = self.trash_dir / entry_name(conv_id, moment, kind)
            if not os.path.lexists(path):
                return path, moment
            moment += timedelta(microseconds=1)

    def _trash_names(self) -> list[TrashName]:
        names = []
        try:
            with os.scandir(self.trash_dir) as scan:
                for dirent in scan:
                    parsed = parse_name(dirent.name)
                    if parsed is not None and dirent.is_file(follow_symlinks=False):
                        names.append(parsed)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as error:
            raise StoreError(f"cannot list {self.trash_dir}: {error}") from error
        return names

    def _read_trash_entry(self, name: TrashName) -> TrashEntry:
        path = self.trash_dir / (name.id + _SUFFIX)
        deleted_at = iso(name.deleted)
        if name.kind == "conversation":
            try:
                head, _ = summarize_conversation(_read_file(path)[0], name.conversation_id)
                title = head.title
            except (OSError, StoreError):
                title = "(unreadable)"
            return TrashEntry(
                name.id, "conversation", name.conversation_id, deleted_at, title, path
            )
        try:
            found = read_message_entry(_read_file(path)[0])
        except (OSError, ValueError):
            return TrashEntry(
                name.id, "message", name.conversation_id, deleted_at, "(unreadable)", path
            )
        message_id = found["message"].get("id")
        return TrashEntry(
            id=name.id,
            kind="message",
            conversation_id=name.conversation_id,
            deleted_at=deleted_at,
            title=found["title"],
            path=path,
            message_id=message_id if isinstance(message_id, str) else None,
            position=found["position"],
            role=found["role"],
        )

    def _restore_conversation(self, entry: TrashEntry) -> None:
        conv_id = entry.conversation_id
        live = self.path_for(conv_id)
        if os.path.lexists(live):
            raise StoreError(
                f"cannot restore {entry.id}: a conversation {conv_id} already exists "
                "(it was left as it is)"
            )
        try:
            os.replace(entry.path, live)
        except FileNotFoundError:
            raise StoreError(f"{entry.id} is no longer in the trash") from None
        except OSError as error:
            raise StoreError(f"could not restore {entry.path}: {error}") from error
        _fsync_dir(self._conv_dir)
        _fsync_dir(self.trash_dir)
        try:
            raw, stat = _read_file(live)
        except OSError:
            return  # listed again at the next open()
        try:
            head, count = summarize_conversation(raw, conv_id)
        except StoreError as error:
            self._mark_skipped(live.name, str(error), stat)
        else:
            self._unmark_skipped(live.name)
            self._set_entry(conv_id, _entry(head, stat, count))
            self._index_dirty = True
        self.flush_index()

    def _restore_message(self, entry: TrashEntry, into: Conversation | None) -> None:
        try:
            raw, _ = _read_file(entry.path)
        except FileNotFoundError:
            raise StoreError(f"{entry.id} is no longer in the trash") from None
        except OSError as error:
            raise StoreError(f"could not read {entry.path}: {error}") from error
        try:
            found = read_message_entry(raw)
            message = Message.from_dict(found["message"])
        except ValueError as error:
            raise StoreError(f"cannot restore {entry.id}: {error}") from error
        conv_id = entry.conversation_id
        if into is not None and into.id != conv_id:
            raise StoreError(f"{entry.id} belongs to conversation {conv_id}, not {into.id}")
        if into is not None:
            conversation = into
        elif not self.path_for(conv_id).exists():
            raise StoreError(
                f"cannot restore {entry.id}: its conversation {conv_id} is not saved; "
                "restore the conversation first"
            )
        else:
            conversation = self.load(conv_id)
        if conversation.get(message.id) is not None:
            raise StoreError(
                f"cannot restore {entry.id}: that message is already in the conversation"
            )
        at = min(found["position"], len(conversation.nodes))
        after = found["after_id"]
        for number, other in enumerate(conversation.nodes):
            if after is not None and other.id == after:
                at = number + 1
                break
        if message.parent_id is not None and conversation.get(message.parent_id) is None:
            message.parent_id = None  # its parent is gone too: it comes back as a root
        conversation.put_back(message, found["moved"], at)
        conversation.touch()
        try:
            self.save(conversation)
        except StoreError:
            conversation.remove(message)
            raise
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            pass
        except OSError as error:
            log.warning("restored, but could not remove %s: %s", entry.path, error)
        _fsync_dir(self.trash_dir)

    # -- the single-instance lock ---------------------------------------------

    def acquire_lock(self, *, wait: float = 0.5) -> None:
        """Take the data folder's exclusive lock and write this pid into it.

        Raises :class:`StoreLocked` if another process (or another Store in
        this process) holds it after ``wait`` seconds of retrying (short
        retries ride over a read-only user briefly holding it). The lock is
        an ``flock``: it disappears when the process dies, even by SIGKILL.
        Does nothing if this store already holds it.
        """
        with self._mutex:
            if self._lock_fd is not None:
                return
            ensure_private_dir(self._data_dir)
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            except OSError as error:
                raise StoreError(f"cannot open {self.lock_path}: {error}") from error
            with contextlib.suppress(OSError):
                os.fchmod(fd, FILE_MODE)  # exactly 0600 whatever the umask
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        pid = _read_pid(fd)
                        os.close(fd)
                        raise StoreLocked(pid, self._data_dir) from None
                    time.sleep(0.02)
                except OSError as error:
                    os.close(fd)
                    raise StoreError(f"cannot lock {self.lock_path}: {error}") from error
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as error:
                log.warning("could not write the pid into %s: %s", self.lock_path, error)
            self._lock_fd = fd

    def release_lock(self) -> None:
        """Release the lock taken by :meth:`acquire_lock` (no-op if not held)."""
        with self._mutex:
            fd, self._lock_fd = self._lock_fd, None
            if fd is None:
                return
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the flock

    @contextlib.contextmanager
    def _write_permission(self) -> Iterator[bool]:
        """Yield whether maintenance writes are safe: no other process holds the lock.

        True at once if this store holds the lock; otherwise the lock is
        taken for the duration of the block if it is free.
        """
        if self._lock_fd is not None:
            yield True
            return
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except OSError:
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                allowed = True
            except OSError:
                allowed = False
            yield allowed
        finally:
            os.close(fd)

    # -- closing -------------------------------------------------------------

    def close(self) -> None:
        """Write the index if needed and release the lock. Safe to call twice."""
        with self._mutex:
            for journal in self._journals.values():
                journal.close()
            self._journals.clear()
            try:
                if self._opened:
                    self.flush_index()
            finally:
                self.release_lock()

    def __enter__(self) -> Store:
        """``with Store(path) as store:`` opens the store (without locking)."""
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the store."""
        self.close()
