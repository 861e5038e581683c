"""Helpers for tests that run the installed ``llmchat-tui`` in a real pseudo-terminal.

The fixtures ``app_env`` and ``launch`` (in conftest.py) start the console script as a
user would; these functions read what the user would read off the screen (rendered by
``pyte``) and what the app wrote to its data folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from terminal import Terminal


def find_executable() -> str | None:
    """The ``llmchat-tui`` console script of this environment, if installed."""
    beside = Path(sys.executable).with_name("llmchat-tui")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("llmchat-tui")


EXECUTABLE = find_executable()

MODEL = "gpt-4o-mini"
#: The status bar: "<state> · ... · <model> ..." (state first, model later on the line),
#: to the right of the sidebar (when it is shown).
STATES = "idle|waiting|retrying|streaming|complete|cancelled|error"
STATUS_RE = re.compile(rf"(?:^|[\s▕│])({STATES}|[a-z ]+ · retry \d+/\d+ in \d+ s)(?: · .*)?$")
#: A reply's footer: first thing in the message pane (after the sidebar's border), then
#: two spaces and figures, or nothing ("interrupted" has a note in parentheses).
FOOTER_RE = re.compile(
    r"(?:^|[^\w\s.,])\s*(cancelled|error|interrupted|streaming)(?: \([^)]*\))?(?:  |\s*$)"
)
#: The words every ``Reply.tokens`` reply starts with.
LONG_REPLY_START = "the quick brown fox"


def _status_match(screen: str) -> re.Match[str] | None:
    """The status bar's match: the lowest row that reads like it."""
    rows = [row for row in screen.splitlines() if row.strip()]
    for row in reversed(rows):
        found = STATUS_RE.search(row)
        if found:
            return found
    return None


def status_line(screen: str) -> str:
    """The status bar's text (fails if it is not on the screen)."""
    found = _status_match(screen)
    if not found:
        raise AssertionError(f"no status bar on the screen:\n{screen}")
    return found.group(0).strip(" ▕│")


def status_state(screen: str) -> str | None:
    """The state the status bar shows (``idle``, ``streaming``, ...), or None."""
    found = _status_match(screen)
    if not found:
        return None
    return "retrying" if " · retry " in found.group(1) else found.group(1)


def message_footers(screen: str) -> list[str]:
    """The states shown under replies ("cancelled", "interrupted", ...), top to bottom."""
    status = _status_match(screen)
    found = []
    for line in screen.splitlines():
        if status is not None and status.string == line:
            continue
        match = FOOTER_RE.search(line)
        if match:
            found.append(match.group(1))
    return found


def footer(screen: str) -> str:
    """The key footer: the last row with text."""
    rows = [row for row in screen.splitlines() if row.strip()]
    return rows[-1] if rows else ""


def wait_for_footer(term: Terminal, state: str, timeout: float = 15) -> str:
    """Wait until the last reply's footer shows ``state``; returns the screen."""
    return term.wait_until(
        lambda screen: message_footers(screen)[-1:] == [state],
        timeout,
        what=f"{state!r} under the reply",
    )


def wait_for_state(term: Terminal, state: str, timeout: float = 15) -> str:
    """Wait until the status bar shows ``state``; returns the screen."""
    return term.wait_until(
        lambda screen: status_state(screen) == state, timeout, what=f"status bar {state!r}"
    )


def send_message(term: Terminal, text: str) -> None:
    """Type ``text``, wait until it is on screen, then press Enter."""
    term.send(text)
    term.wait_for_text(text)
    term.press("enter")


def quit_app(term: Terminal) -> None:
    """Ctrl+Q, and the app exits 0."""
    term.press("ctrl+q")
    assert term.wait_for_exit(15) == 0


def conversation_files(data_dir: Path) -> list[Path]:
    """The saved conversation files, sorted by name."""
    folder = data_dir / "conversations"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def only_conversation(data_dir: Path) -> dict[str, Any]:
    """The one saved conversation, parsed (fails unless there is exactly one)."""
    files = conversation_files(data_dir)
    assert len(files) == 1, f"expected one conversation file, found {files}"
    return json.loads(files[0].read_text(encoding="utf-8"))


def read_if_valid(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None while it is missing or not valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def shape(conversation: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, status) of each saved message."""
    return [(m["role"], m["status"]) for m in conversation["messages"]]


def focus_sidebar(term: Terminal) -> None:
    """Ctrl+B from the prompt; waits until the list has focus (its keys are in the footer).

    Waiting matters: Textual moves the focus a moment after the key, and keys sent
    before that still go to the prompt.
    """
    term.press("ctrl+b")
    term.wait_until(lambda screen: "Rename" in footer(screen), what="the sidebar's keys")


def wait_for_rows(term: Terminal) -> None:
    """Wait until the sidebar lists a conversation (a row's "when · model" line) and
    is done reading files: the saved ones are read after the first frame, and Enter
    on a list still empty opens nothing (as for a person, who sees no row yet)."""
    term.wait_until(
        lambda screen: (
            any(" · " in row.split("▕")[0] for row in screen.splitlines())
            and "Reading conversations" not in screen
        ),
        what="the sidebar's rows",
    )


def open_first_conversation(term: Terminal) -> None:
    """Open the sidebar's top conversation from the prompt: Ctrl+B, then Enter."""
    wait_for_rows(term)
    focus_sidebar(term)
    term.press("enter")


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``llmchat-tui ARGS`` without a terminal; capture its output."""
    assert EXECUTABLE is not None
    return subprocess.run(
        [EXECUTABLE, *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
    )


def toast_text(screen: str) -> str:
    """The text right of each row's last "▌" (where notifications are drawn), rows
    joined by spaces, so a notification wrapped over several rows reads as one line."""
    rows = (row.split("▌")[-1].strip(" ▎▔▁") for row in screen.splitlines() if "▌" in row)
    return " ".join(rows)


def wait_for_toast(term: Terminal, text: str, timeout: float = 15) -> str:
    """Wait until a notification says ``text`` (wrapped or not); returns the toast text."""
    return toast_text(
        term.wait_until(lambda s: text in toast_text(s), timeout, what=f"notification {text!r}")
    )
