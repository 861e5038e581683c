"""Copying through a real terminal: OSC 52 always, a desktop tool where there is one,
and a notification that says which happened.

The desktop tool is a real program on PATH named ``xclip`` (a small script that keeps
what it was given, or fails as xclip does without a display)."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import (
    EXECUTABLE,
    footer,
    quit_app,
    send_message,
    wait_for_state,
    wait_for_toast,
)
from openai_server import OpenAIServer, Reply
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

Launch = Callable[..., Terminal]

REPLY = "Copy me: the answer is 42."


def fake_xclip(folder: Path, *, works: bool) -> Path:
    """An ``xclip`` on PATH that writes stdin to ``folder/clipboard`` (or fails)."""
    folder.mkdir()
    target = folder / "clipboard"
    body = (
        f'cat > "{target}"\n'
        if works
        else 'cat > /dev/null\necho "Error: Can\'t open display: :99" >&2\nexit 1\n'
    )
    script = folder / "xclip"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return target


def copy_the_reply(launch: Launch, server: OpenAIServer, env: dict[str, str]) -> Terminal:
    server.queue(Reply.text(REPLY))
    term = launch(env=env)
    send_message(term, "say something to copy")
    term.wait_for_text("the answer is 42")
    wait_for_state(term, "complete")
    term.press("ctrl+up")
    term.wait_until(lambda s: "Copy code" in footer(s), what="the message list's keys")
    term.press("c")
    return term


def osc52_payload(raw: bytes) -> str:
    """The text of the last OSC 52 request the app wrote to the terminal."""
    start = raw.rindex(b"\x1b]52;c;") + len(b"\x1b]52;c;")
    end = raw.index(b"\x07", start)
    return base64.b64decode(raw[start:end]).decode()


def test_without_a_desktop_the_copy_goes_to_the_terminal_and_says_so(
    launch: Launch, server: OpenAIServer, app_env: dict[str, str]
) -> None:
    term = copy_the_reply(launch, server, app_env)
    screen = wait_for_toast(term, "(OSC 52)")
    assert "Sent the reply (26 characters) to the terminal's clipboard" in screen
    assert "Copied" not in screen
    assert osc52_payload(term.raw) == REPLY
    quit_app(term)


def test_with_a_desktop_tool_the_text_reaches_it(
    launch: Launch, server: OpenAIServer, app_env: dict[str, str], tmp_path: Path
) -> None:
    clipboard = fake_xclip(tmp_path / "bin", works=True)
    env = dict(app_env, DISPLAY=":99", PATH=f"{tmp_path / 'bin'}{os.pathsep}{app_env['PATH']}")
    term = copy_the_reply(launch, server, env)
    wait_for_toast(term, "Copied the reply (26 characters) to the clipboard (with xclip).")
    assert clipboard.read_text() == REPLY
    assert osc52_payload(term.raw) == REPLY
    quit_app(term)


def test_a_failing_desktop_tool_is_reported(
    launch: Launch, server: OpenAIServer, app_env: dict[str, str], tmp_path: Path
) -> None:
    fake_xclip(tmp_path / "bin", works=False)
    env = dict(app_env, DISPLAY=":99", PATH=f"{tmp_path / 'bin'}{os.pathsep}{app_env['PATH']}")
    term = copy_the_reply(launch, server, env)
    screen = wait_for_toast(term, "xclip failed: Error: Can't open display: :99.")
    assert "Sent the reply" in screen
    assert "(with xclip)" not in screen
    quit_app(term)
