"""Run a command in a real pseudo-terminal and watch its screen (for end-to-end tests).

A :class:`Terminal` starts the command on the slave side of a fresh pty (120x40 by
default, ``TERM=xterm-256color``), in its own session and process group. A reader thread
copies everything the program writes into :attr:`Terminal.raw` and feeds it to a
``pyte`` screen, so tests can look at what a user would see::

    with Terminal(["llmchat-tui", "--model", "m"], env=env, cwd=tmp_path) as term:
        term.wait_for_text("New conversation")
        term.send("hello")
        term.wait_for_text("hello")
        term.press("enter")
        term.wait_for_text("Echo: hello")
        term.press("ctrl+q")
        assert term.wait_for_exit(10) == 0

Leaving the ``with`` block kills the whole process group if it is still running.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyte

__all__ = ["KEYS", "Terminal"]

#: Bytes a terminal sends for the named keys (xterm, normal cursor mode).
KEYS: dict[str, str] = {
    "enter": "\r",
    "escape": "\x1b",
    "esc": "\x1b",
    "tab": "\t",
    "shift+tab": "\x1b[Z",
    "backspace": "\x7f",
    "up": "\x1b[A",
    "down": "\x1b[B",
    "right": "\x1b[C",
    "left": "\x1b[D",
    "home": "\x1b[H",
    "end": "\x1b[F",
    "pageup": "\x1b[5~",
    "pagedown": "\x1b[6~",
    "delete": "\x1b[3~",
    "f1": "\x1bOP",
    "f2": "\x1bOQ",
    "f3": "\x1bOR",
    "f4": "\x1bOS",
    "f5": "\x1b[15~",
    "f8": "\x1b[19~",
    "f9": "\x1b[20~",
    "f12": "\x1b[24~",
    "shift+f8": "\x1b[19;2~",
    "ctrl+up": "\x1b[1;5A",
    "ctrl+down": "\x1b[1;5B",
    # Alt+key: ESC then the key (what xterm, tmux and most terminals send by default).
    "alt+enter": "\x1b\r",
    # Shift+Enter only exists in terminals that speak the kitty keyboard protocol (CSI u).
    "shift+enter": "\x1b[13;2u",
    # Ctrl+letter is the letter's code minus 0x60 (ctrl+j is "\n", ctrl+m would be "\r").
    **{f"ctrl+{chr(c)}": chr(c - 0x60) for c in range(ord("a"), ord("z") + 1)},
}


class Terminal:
    """A command running in a pty, with its output rendered on a ``pyte`` screen.

    Args:
        argv: the command and its arguments.
        env: the whole environment of the child (default: a copy of ``os.environ``);
            ``TERM`` is set to xterm-256color; ``COLUMNS`` and ``LINES`` are removed (the
            size is the pty's).
        cwd: the child's working directory.
        columns / lines: the terminal size (also set on the pty with ``TIOCSWINSZ``).
    """

    def __init__(
        self,
        argv: Sequence[str | os.PathLike[str]],
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        *,
        columns: int = 120,
        lines: int = 40,
    ) -> None:
        self.argv = [os.fspath(a) for a in argv]
        self.columns = columns
        self.lines = lines
        self._lock = threading.Lock()
        self._raw = bytearray()
        self._screen = pyte.Screen(columns, lines)
        self._stream = pyte.ByteStream(self._screen)
        self._reader_error: BaseException | None = None

        child_env = dict(os.environ if env is None else env)
        child_env["TERM"] = "xterm-256color"
        # The size comes from the pty (TIOCSWINSZ), as in a real terminal: COLUMNS and
        # LINES in the environment would pin it and hide every resize.
        child_env.pop("COLUMNS", None)
        child_env.pop("LINES", None)

        master, slave = pty.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
            self.proc = subprocess.Popen(
                self.argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=child_env,
                cwd=None if cwd is None else Path(cwd),
                start_new_session=True,
                # Like a terminal emulator: the pty becomes the session's controlling
                # terminal, so closing it hangs the program up (SIGHUP).
                preexec_fn=_take_controlling_terminal,
                close_fds=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._master = master
        self._closed = False
        self._master_closed = False
        self._reader = threading.Thread(
            target=self._read_loop, name=f"pty-reader-{self.proc.pid}", daemon=True
        )
        self._reader.start()

    # -- output ------------------------------------------------------------------------

    def _read_loop(self) -> None:
        fd = self._master
        try:
            while True:
                try:
                    ready, _, _ = select.select([fd], [], [], 0.1)
                except (OSError, ValueError):
                    return  # closed under us
                if not ready:
                    if self._closed or self._master_closed:
                        return
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError as error:
                    if error.errno in (errno.EIO, errno.EBADF):
                        return  # EIO: every slave descriptor is closed (the child exited)
                    raise
                if not data:
                    return
                with self._lock:
                    self._raw += data
                    self._stream.feed(data)
        except BaseException as error:  # surfaced by screen_text()/wait_for_text()
            self._reader_error = error

    @property
    def raw(self) -> bytes:
        """Every byte the program wrote so far."""
        with self._lock:
            return bytes(self._raw)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def title(self) -> str:
        """The window title the program set (OSC 0/2), as a terminal would show it."""
        with self._lock:
            return str(self._screen.title)

    def screen_lines(self) -> list[str]:
        """The screen's rows, right-trimmed."""
        if self._reader_error is not None:
            raise RuntimeError("the pty reader failed") from self._reader_error
        with self._lock:
            return [line.rstrip() for line in self._screen.display]

    def screen_text(self) -> str:
        """The screen as text: its rows joined by newlines."""
        return "\n".join(self.screen_lines())

    def backgrounds(self, text: str) -> list[tuple[str, str]]:
        """Where ``text`` is on the screen (case ignored): for each place, the background
        colour of its first cell and of the cell before it (pyte's names, or hex)."""
        found = []
        text = text.lower()
        with self._lock:
            for row, line in enumerate(self._screen.display):
                line = line.lower()
                at = line.find(text)
                while at != -1:
                    cells = self._screen.buffer[row]
                    before = cells[at - 1].bg if at else ""
                    found.append((cells[at].bg, before))
                    at = line.find(text, at + len(text))
        return found

    # -- input -------------------------------------------------------------------------

    def send(self, text: str | bytes) -> None:
        """Type ``text`` (sent as UTF-8 bytes, exactly as given)."""
        data = text.encode() if isinstance(text, str) else text
        while data:
            written = os.write(self._master, data)
            data = data[written:]

    def paste(self, text: str, newline: str = "\r") -> None:
        """Paste ``text`` as a terminal does: bracketed (``ESC [200~ … ESC [201~``), with
        each newline sent as ``newline`` (CR, as xterm and tmux send it, or CRLF)."""
        body = text.replace("\r\n", "\n").replace("\n", newline)
        self.send("\x1b[200~" + body + "\x1b[201~")

    def resize(self, columns: int, lines: int) -> None:
        """Resize the terminal (as a window manager would) and tell the program (SIGWINCH)."""
        with self._lock:
            self.columns, self.lines = columns, lines
            self._screen.resize(lines, columns)
        fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGWINCH)

    def press(self, *keys: str) -> None:
        """Press keys in turn: named ones (``"enter"``, ``"escape"``, ``"ctrl+q"``, ``"up"``)
        or single printable characters (``"e"``, ``"Y"``)."""
        for key in keys:
            if len(key) == 1 and key.isprintable():
                self.send(key)
                continue
            try:
                self.send(KEYS[key.lower()])
            except KeyError:
                raise ValueError(f"unknown key name {key!r}") from None

    # -- waiting -----------------------------------------------------------------------

    def wait_until(
        self, predicate: Callable[[str], object], timeout: float = 15, what: str = ""
    ) -> str:
        """Poll the screen every 20 ms until ``predicate(screen_text)`` is true.

        Returns the screen text; raises :class:`AssertionError` with the screen on timeout
        (or at once if the program exited without satisfying the predicate).
        """
        deadline = time.monotonic() + timeout
        exited_at: float | None = None
        while True:
            text = self.screen_text()
            if predicate(text):
                return text
            now = time.monotonic()
            if self.proc.poll() is not None:
                # Give the reader a moment to drain the last output, then give up.
                exited_at = exited_at or now
                if now - exited_at > 0.5:
                    raise AssertionError(
                        f"the program exited (status {self.proc.returncode}) while waiting "
                        f"for {what or predicate}; screen:\n{self._framed(text)}"
                    )
            if now > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what or predicate}; "
                    f"screen:\n{self._framed(text)}"
                )
            time.sleep(0.02)

    def wait_for_text(self, text: str, timeout: float = 15) -> str:
        """Wait until ``text`` is on one screen row; returns the whole screen text."""
        return self.wait_until(lambda screen: text in screen, timeout, what=repr(text))

    def wait_for_exit(self, timeout: float = 15) -> int:
        """Wait for the program to exit; returns its exit status (``-N`` for signal N)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the program did not exit within {timeout} s; screen:\n"
                f"{self._framed(self.screen_text())}"
            ) from None

    def _framed(self, text: str) -> str:
        bar = "+" + "-" * self.columns + "+"
        rows = [f"|{row.ljust(self.columns)}|" for row in text.split("\n")]
        return "\n".join([bar, *rows, bar])

    # -- ending ------------------------------------------------------------------------

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the program's process group (it leads its own session)."""
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def close_master(self) -> None:
        """Close the terminal's side, as when its window is closed: the kernel sends
        the program SIGHUP and its reads and writes on the terminal fail from then on."""
        if self._master_closed:
            return
        self._master_closed = True
        self._reader.join(2)
        with contextlib.suppress(OSError):
            os.close(self._master)

    def close(self) -> None:
        """Kill the process group if still running, reap it, and close the pty."""
        if self._closed:
            return
        self.kill(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._closed = True
        self._reader.join(2)
        if not self._master_closed:
            with contextlib.suppress(OSError):
                os.close(self._master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Terminal pid={self.proc.pid} argv={self.argv!r}>"


def _take_controlling_terminal() -> None:
    """In the child, after ``setsid``: make its stdin (the pty) the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
