"""A file replies are copied to as they stream (``--tee``). No Textual import."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TextIO

from llmchat_tui.models import now_iso
from llmchat_tui.sanitize import clean_line

log = logging.getLogger(__name__)


class Tee:
    """One reply's copy in the tee file: a heading, the text, a note if it did not complete.

    The file is opened for appending (created with mode 0600). Writing errors
    are logged once and end the copy; they never stop the reply.
    """

    def __init__(self, handle: TextIO, path: Path) -> None:
        self._handle: TextIO | None = handle
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, title: str, model: str) -> Tee | None:
        """Open ``path`` and write the reply's heading; None (logged) if it cannot be opened."""
        where = Path(path).expanduser()
        try:
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            handle = os.fdopen(fd, "a", encoding="utf-8")
        except OSError as error:
            log.warning("cannot open tee file %s: %s", where, error)
            return None
        tee = cls(handle, where)
        tee._put(f"\n## {clean_line(title, 80)} · {clean_line(model, 60)} · {now_iso()[:19]}Z\n\n")
        return tee

    @property
    def closed(self) -> bool:
        """True once the copy has ended (closed, or stopped by an error)."""
        return self._handle is None

    def write(self, text: str) -> None:
        """Append ``text`` (already sanitized) and flush it to the file."""
        if text:
            self._put(text, flush=True)

    def close(self, state: str) -> None:
        """End the copy; a reply that did not complete gets a note saying how it ended."""
        note = "" if state == "complete" else f"\n\n*(reply {state})*"
        self._put(note + "\n")
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError:
                log.exception("closing the tee file failed")

    def _put(self, text: str, *, flush: bool = False) -> None:
        handle = self._handle
        if handle is None:
            return
        try:
            handle.write(text)
            if flush:
                handle.flush()
        except (OSError, ValueError):
            log.exception("writing the reply to the tee file %s failed", self.path)
            self._handle = None
            try:
                handle.close()
            except OSError:
                pass
