"""A full disk during a reply, through a real terminal and a real small filesystem.

The data folder is on a 2 MB tmpfs mounted for the test (skipped where mounting is not
allowed). While a reply streams, a filler file takes the last free byte: checkpoints
then fail with ENOSPC. The user must be told at once, in words naming the folder and
the cause; the reply goes on on screen; when space comes back the app saves by itself;
nothing is lost.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import (
    EXECUTABLE,
    LONG_REPLY_START,
    conversation_files,
    only_conversation,
    quit_app,
    read_if_valid,
    send_message,
    status_line,
    wait_for_state,
)
from conftest import wait_for
from openai_server import OpenAIServer, Reply
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

Launch = Callable[..., Terminal]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh 2 MB tmpfs (needs the right to mount: root, or skipped)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def data_dir(small_disk: Path) -> Path:
    """The app's data folder, on the small disk (overrides conftest's)."""
    return small_disk / "chats"


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * 65536
        while True:
            try:
                os.write(fd, block)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_mid_reply_is_told_and_saved_when_space_returns(
    launch: Launch, server: OpenAIServer, small_disk: Path, data_dir: Path
) -> None:
    server.queue(Reply.tokens(1500, delay=0.01))
    term = launch()
    send_message(term, "a long answer please")
    term.wait_for_text(LONG_REPLY_START)
    wait_for(lambda: conversation_files(data_dir), 10, "the first checkpoint")

    filler = fill(small_disk)
    screen = term.wait_until(
        lambda s: "NOT SAVED" in status_line(s), timeout=15, what="the status bar's warning"
    )
    # Both ends of the notification: a long one can reach the screen over two frames.
    screen = term.wait_until(
        lambda s: "No space left on device" in s and "could not be saved" in s,
        what="the notification",
    )
    assert status_line(screen).startswith("streaming"), "the reply goes on on screen"

    filler.unlink()
    term.wait_until(
        lambda s: "NOT SAVED" not in status_line(s), timeout=15, what="the warning gone"
    )
    wait_for_state(term, "complete", timeout=40)

    def saved_reply() -> dict[str, object] | None:
        files = conversation_files(data_dir)
        conversation = read_if_valid(files[0]) if files else None
        return conversation["messages"][-1] if conversation else None

    wait_for(
        lambda: (reply := saved_reply()) is not None and reply["status"] == "complete",
        15,
        "the finished reply on disk",
    )
    quit_app(term)
    reply = only_conversation(data_dir)["messages"][-1]
    assert reply["status"] == "complete"
    assert len(str(reply["content"]).split()) == 1500
    assert not list((data_dir / "conversations").glob("*.tmp*")), "temporary files left"


def test_quitting_while_the_disk_is_full_says_what_was_not_saved(
    launch: Launch, server: OpenAIServer, small_disk: Path, data_dir: Path
) -> None:
    term = launch()
    send_message(term, "hello there")
    wait_for_state(term, "complete")
    wait_for(lambda: conversation_files(data_dir), 10, "the conversation saved")
    fill(small_disk)
    term.send("an unsent thought that will not fit")
    term.wait_until(lambda s: "NOT SAVED" in status_line(s), timeout=15, what="the warning")
    term.press("ctrl+q")
    assert term.wait_for_exit(15) == 1
    assert "could not be saved" in term.raw.decode(errors="replace")
