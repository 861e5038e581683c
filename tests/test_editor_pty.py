"""Ctrl+O writes the message in the user's editor, through a real terminal.

The editor is a real program named by ``$VISUAL``: a small script that records
the text it was given and then saves new text (or fails, or changes nothing)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import EXECUTABLE, quit_app, wait_for_state, wait_for_toast
from openai_server import OpenAIServer, Reply, last_user_text
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

Launch = Callable[..., Terminal]


def editor_script(folder: Path, body: str) -> Path:
    """An editor: ``$1`` is the file. It copies what it was given to ``seen``."""
    folder.mkdir(exist_ok=True)
    script = folder / "fake-editor"
    script.write_text(f'#!/bin/sh\ncp "$1" "{folder / "seen"}"\n{body}')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_the_editor_gets_the_draft_and_its_text_is_sent(
    launch: Launch, server: OpenAIServer, app_env: dict[str, str], tmp_path: Path
) -> None:
    editor = editor_script(
        tmp_path / "ed",
        'printf "A longer question,\\nwritten in the editor.\\n" > "$1"\n',
    )
    server.queue(Reply.text("Answered."))
    term = launch(env=dict(app_env, VISUAL=str(editor)))
    term.send("a first thought")
    term.wait_for_text("a first thought")
    term.press("ctrl+o")
    term.wait_for_text("written in the editor.")
    assert (tmp_path / "ed" / "seen").read_text() == "a first thought"
    screen = term.screen_text()
    assert "A longer question," in screen
    assert "a first thought" not in screen
    term.press("enter")
    wait_for_state(term, "complete")
    assert server.wait_for_requests(1)
    sent = last_user_text(server.chat_requests[-1].body)
    assert sent == "A longer question,\nwritten in the editor."
    quit_app(term)


def test_a_failing_editor_leaves_the_draft_and_says_why(
    launch: Launch, app_env: dict[str, str], tmp_path: Path
) -> None:
    editor = editor_script(tmp_path / "ed", 'echo "garbage" > "$1"\nexit 3\n')
    term = launch(env=dict(app_env, VISUAL=str(editor)))
    term.send("keep this draft")
    term.wait_for_text("keep this draft")
    term.press("ctrl+o")
    wait_for_toast(term, "the message is unchanged")
    wait_for_toast(term, "exited with status 3")
    assert "keep this draft" in term.screen_text()
    assert "garbage" not in term.screen_text()
    quit_app(term)


def test_a_missing_editor_is_named(launch: Launch, app_env: dict[str, str]) -> None:
    term = launch(env=dict(app_env, VISUAL="no-such-editor-here --wait"))
    term.send("still here")
    term.wait_for_text("still here")
    term.press("ctrl+o")
    wait_for_toast(term, "'no-such-editor-here' was not found")
    wait_for_toast(term, "(set $VISUAL or $EDITOR)")
    assert "still here" in term.screen_text()
    quit_app(term)


def test_an_unchanged_file_changes_nothing(
    launch: Launch, app_env: dict[str, str], tmp_path: Path
) -> None:
    editor = editor_script(tmp_path / "ed", "exit 0\n")
    term = launch(env=dict(app_env, VISUAL=str(editor)))
    term.send("as it was")
    term.wait_for_text("as it was")
    term.press("ctrl+o")
    wait_for_toast(term, "Nothing changed in the editor")
    assert "as it was" in term.screen_text()
    quit_app(term)
