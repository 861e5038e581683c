"""The append-only journal of replies while they stream.

Rewriting a whole conversation file at every checkpoint writes the whole
conversation again and again (benchmark B7b). Instead, while a reply streams,
:class:`Journal` appends what arrived since the last checkpoint to
``conversations/<id>.journal`` (beside ``<id>.json``, mode 0600) and fsyncs
it; the store folds the journal into the JSON file (one atomic full save)
when the reply ends, or when a conversation with a journal left by a crash is
loaded.

The format: UTF-8 JSON lines, one per checkpoint of one message::

    {"message": "<message id>", "at": 120, "text": "new text",
     "reasoning_at": 0, "reasoning": "new reasoning",
     "figures": {"ttft_s": 0.4, "tokens_per_s": 61.0, "usage": {...}, ...}}

``at`` / ``reasoning_at`` are the length (in characters) of the message's
text / reasoning before this line's text: applying a line is idempotent
(text already there is not added twice) and a gap (a lost line) is refused
instead of joining text in the wrong place. ``figures`` is there only when a
figure changed. Lines of several messages may interleave (several replies of
one conversation streaming at once).

Reading tolerates a torn last line (a write cut by a crash): the complete
lines are applied, the rest ignored. A line for a message that is not in the
conversation is logged and ignored.

Standard library only; never imports Textual. :mod:`llmchat_tui.store` owns
where journals are and when they are folded; this module owns their bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmchat_tui.models import Conversation, Message, Status, Usage

__all__ = ["SUFFIX", "Journal", "Recovery", "apply", "read", "set_aside"]

log = logging.getLogger(__name__)

#: A conversation's journal is ``<id>`` + this, beside ``<id>.json``.
SUFFIX = ".journal"

#: The figures a line may carry (all small; written only when one changed).
FIGURES = ("model", "finish_reason", "ttft_s", "tokens_per_s", "usage")


#: Where the system has no F_FULLFSYNC (Linux), the journal is opened O_DSYNC: each
#: write returns once its bytes are durable, one system call (and one wait for the
#: GIL afterwards) instead of a write and an fdatasync.
_DSYNC = 0 if hasattr(fcntl, "F_FULLFSYNC") else getattr(os, "O_DSYNC", 0)


def sync(fd: int, *, data_only: bool = True) -> None:
    """Make what was written to ``fd`` durable: F_FULLFSYNC on macOS (where fsync is
    weaker), else fdatasync (``data_only``, enough for appended bytes) or fsync."""
    full = getattr(fcntl, "F_FULLFSYNC", None)
    if full is not None:
        try:
            fcntl.fcntl(fd, full)
            return
        except OSError:
            pass
    if data_only:
        getattr(os, "fdatasync", os.fsync)(fd)
    else:
        os.fsync(fd)


def _sync_dir(folder: Path) -> None:
    """Make a new or removed name in ``folder`` durable (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _figures(message: Message) -> dict[str, Any]:
    usage = message.usage
    return {
        "model": message.model,
        "finish_reason": message.finish_reason,
        "ttft_s": message.ttft_s,
        "tokens_per_s": message.tokens_per_s,
        "usage": usage.to_dict() if usage is not None else None,
    }


def _encode(record: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8: the ASCII form escapes it and round-trips.
        return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"


@dataclass
class _Cursor:
    """What of one message is durable (in the JSON file or the journal)."""

    text: int = 0
    reasoning: int = 0
    figures: dict[str, Any] | None = None


class Journal:
    """The journal of one conversation, open for appending.

    Not thread-safe: the store calls it under its own lock. Each message has a
    cursor: how much of its text and reasoning is durable. :meth:`append`
    writes what lies beyond the cursors and fsyncs. Around a full save of the
    conversation: :meth:`prepare` before it (the file exists, and the save's
    fsync of the folder makes its name durable, so no append has to), then
    :meth:`restart` (replies still stream: the file is emptied) or
    :meth:`reset` (none does: the file is removed).
    """

    def __init__(self, path: Path, mode: int = 0o600) -> None:
        self.path = path
        self.mode = mode
        self._fd: int | None = None
        self._size = 0  # bytes known to be whole lines
        self._cursors: dict[str, _Cursor] = {}

    def can_append(self, message: Message) -> bool:
        """False when ``message`` changed in a way appends cannot say (it got shorter)."""
        cursor = self._cursors.get(message.id)
        if cursor is None:
            return True
        return len(message.content) >= cursor.text and len(message.reasoning) >= cursor.reasoning

    def line_for(self, message: Message) -> tuple[bytes, _Cursor] | None:
        """The line that brings ``message`` up to date, and its cursor after it (None:
        nothing new)."""
        cursor = self._cursors.get(message.id) or _Cursor()
        content, reasoning = message.content, message.reasoning  # read once: both may grow
        record: dict[str, Any] = {"message": message.id}
        if len(content) > cursor.text:
            record["at"] = cursor.text
            record["text"] = content[cursor.text :]
        if len(reasoning) > cursor.reasoning:
            record["reasoning_at"] = cursor.reasoning
            record["reasoning"] = reasoning[cursor.reasoning :]
        figures = _figures(message)
        if figures != cursor.figures:
            record["figures"] = figures
        if len(record) == 1:
            return None
        return _encode(record), _Cursor(len(content), len(reasoning), figures)

    def append(self, messages: Iterable[Message]) -> int:
        """Append what each message gained since the last append, then fsync.

        Returns the bytes written (0: nothing new, nothing written). On an
        ``OSError`` (a full disk) the file is cut back to its last whole line,
        the cursors do not move, and the error propagates: the next append
        writes the same text again.
        """
        lines: list[bytes] = []
        moved: list[tuple[str, _Cursor]] = []
        for message in messages:
            found = self.line_for(message)
            if found is not None:
                lines.append(found[0])
                moved.append((message.id, found[1]))
        if not lines:
            return 0
        data = b"".join(lines)
        fd = self._open()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if not _DSYNC:
                sync(fd)
        except BaseException:
            self._cut_back(fd)
            raise
        self._size += len(data)
        for message_id, cursor in moved:
            self._cursors[message_id] = cursor
        return len(data)

    def prepare(self) -> None:
        """Create the file (if it is not there) before a full save of the conversation,
        whose fsync of the folder then makes its name durable. Raises ``OSError``."""
        self._open(sync_dir=False)

    def restart(self, durable: dict[str, tuple[int, int]]) -> None:
        """The conversation was saved whole and replies still stream: empty the file;
        ``durable`` gives, per message id, the (text, reasoning) lengths that save
        holds at least. The emptying need not be durable: lines the file already
        holds are not applied twice."""
        try:
            os.ftruncate(self._open(sync_dir=False), 0)
            self._size = 0
        except OSError as error:
            log.warning("could not empty %s: %s", self.path, error)
            self.close()  # its lines stay, harmless; appends go on after them
        self._set_cursors(durable)

    def reset(self, durable: dict[str, tuple[int, int]]) -> None:
        """The conversation was saved whole: remove the file; ``durable`` as for
        :meth:`restart`. The removal need not be durable either: a journal that a
        crash brings back holds only text its conversation's file has."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._set_cursors(durable)

    def _set_cursors(self, durable: dict[str, tuple[int, int]]) -> None:
        self._cursors = {
            key: _Cursor(text, reasoning) for key, (text, reasoning) in durable.items()
        }

    def close(self) -> None:
        """Close the file (it stays on disk); the next append reopens it."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _open(self, *, sync_dir: bool = True) -> int:
        """The open file, created if needed (and its name made durable if ``sync_dir``)."""
        if self._fd is not None:
            return self._fd
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | _DSYNC
        try:
            fd = os.open(self.path, flags)
            created = False
        except FileNotFoundError:
            fd = os.open(self.path, flags | os.O_CREAT, self.mode)
            created = True
        try:
            os.fchmod(fd, self.mode)  # exactly ``mode`` whatever the umask
            size = os.fstat(fd).st_size
            if size:
                # A file left by an earlier run or a torn write: start on a line of our own.
                os.write(fd, b"\n")
                size += 1
        except BaseException:
            os.close(fd)
            raise
        if created and sync_dir:
            _sync_dir(self.path.parent)
        self._fd, self._size = fd, size
        return fd

    def _cut_back(self, fd: int) -> None:
        """After a failed write: drop any partial line, or failing that, start afresh."""
        try:
            os.ftruncate(fd, self._size)
        except OSError:
            self.close()  # reopening writes a newline first, ending the torn line


# ---------------------------------------------------------------------------
# Reading and applying (recovery)
# ---------------------------------------------------------------------------


def read(path: Path) -> list[dict[str, Any]] | None:
    """The complete lines of a journal, parsed; None if there is no journal.

    A last line without its newline, or any line that is not a JSON object
    (a torn write), is skipped (logged). ``OSError`` other than a missing
    file propagate.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return list(_records(raw, path))


def _records(raw: bytes, path: Path) -> Iterator[dict[str, Any]]:
    lines = raw.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    if torn:
        log.warning("%s: ignored a torn last line (%d bytes)", path, len(torn))
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            log.warning("%s: line %d is not JSON; ignored", path, number)
            continue
        if not isinstance(record, dict) or not isinstance(record.get("message"), str):
            log.warning("%s: line %d is not a journal line; ignored", path, number)
            continue
        yield record


@dataclass
class Recovery:
    """What applying a journal did."""

    applied: int = 0
    #: Ids of messages the journal names but the conversation does not have.
    unknown: set[str] = field(default_factory=set)
    #: Lines refused (a gap before their text, or a bad field).
    refused: int = 0

    @property
    def clean(self) -> bool:
        """Every line was for a message of the conversation and fitted."""
        return not self.unknown and not self.refused


def _extend(current: str, at: Any, text: Any) -> str | None:
    """``current`` with ``text`` written at ``at``; None when they do not fit."""
    if text is None:
        return current
    if not isinstance(text, str) or not isinstance(at, int) or isinstance(at, bool) or at < 0:
        return None
    if at > len(current):
        return None  # a gap: an earlier line is missing
    if len(current) >= at + len(text):
        return current  # already there (folded before the journal was removed)
    return current[:at] + text


def apply(conversation: Conversation, records: Iterable[dict[str, Any]]) -> Recovery:
    """Apply journal lines to the messages that were streaming when it was written.

    Only messages whose status is still ``streaming`` are changed (a message
    saved as finished already holds its whole reply). Lines for other
    messages are skipped; lines for unknown ids are logged and ignored.
    """
    result = Recovery()
    for record in records:
        message_id = record["message"]
        message = conversation.get(message_id)
        if message is None:
            if message_id not in result.unknown:
                log.warning(
                    "journal of %s: message %s is not in the conversation; ignored",
                    conversation.id,
                    message_id,
                )
            result.unknown.add(message_id)
            continue
        if message.status is not Status.STREAMING:
            continue
        content = _extend(message.content, record.get("at"), record.get("text"))
        reasoning = _extend(message.reasoning, record.get("reasoning_at"), record.get("reasoning"))
        if content is None or reasoning is None:
            log.warning(
                "journal of %s: a line of message %s does not fit; ignored",
                conversation.id,
                message_id,
            )
            result.refused += 1
            continue
        message.content, message.reasoning = content, reasoning
        figures = record.get("figures")
        if isinstance(figures, dict):
            _apply_figures(message, figures)
        result.applied += 1
    return result


def set_aside(path: Path) -> Path | None:
    """Rename a journal that could not be applied whole to ``<name>-unused-<time>``,
    where nothing reads it again (its bytes are kept for the user); None if that
    failed (it is then left where it is)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = path.with_name(f"{path.name}-unused-{stamp}-{os.getpid()}")
    try:
        os.replace(path, target)
    except OSError as error:
        log.warning("could not set %s aside: %s", path, error)
        return None
    _sync_dir(path.parent)
    log.warning("%s could not be applied whole; kept as %s", path, target)
    return target


def _apply_figures(message: Message, figures: dict[str, Any]) -> None:
    """Take the figures of the right type; leave the others as they were."""
    for name in ("model", "finish_reason"):
        value = figures.get(name)
        if value is None or isinstance(value, str):
            setattr(message, name, value)
    for name in ("ttft_s", "tokens_per_s"):
        value = figures.get(name)
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            setattr(message, name, value)
    usage = figures.get("usage")
    if usage is None or isinstance(usage, dict):
        message.usage = Usage.from_dict(usage)
