"""The editor module on its own: which editor, and what comes back."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from llmchat_tui.external_editor import EditorError, edit_text, editor_command


def test_visual_wins_over_editor_and_arguments_are_split() -> None:
    env = {"VISUAL": "code --wait", "EDITOR": "nano"}
    assert editor_command(env) == ["code", "--wait"]
    assert editor_command({"EDITOR": "'my editor' -n"}) == ["my editor", "-n"]
    assert editor_command({"VISUAL": "  ", "EDITOR": ""}) == ["vi"]


def test_an_unreadable_variable_is_reported() -> None:
    with pytest.raises(EditorError, match=r"\$VISUAL cannot be read"):
        editor_command({"VISUAL": "vim 'unclosed"})


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "ed"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return [str(path)]


def test_the_saved_text_comes_back_without_the_final_newline(tmp_path: Path) -> None:
    argv = script(
        tmp_path,
        'stat -c %a "$1" > "$(dirname "$0")/mode"\nprintf "new\\r\\ntext\\n" > "$1"\n',
    )
    assert edit_text("old", argv) == "new\ntext"
    assert (tmp_path / "mode").read_text().strip() == "600"


def test_the_temporary_file_is_removed_even_when_the_editor_fails(tmp_path: Path) -> None:
    argv = script(tmp_path, 'echo "$1" > "$(dirname "$0")/name"\nexit 1\n')
    with pytest.raises(EditorError, match="exited with status 1"):
        edit_text("draft", argv)
    name = (tmp_path / "name").read_text().strip()
    assert name.endswith(".md")
    assert not os.path.exists(name)


def test_a_missing_editor_is_named() -> None:
    with pytest.raises(EditorError, match="'nowhere-editor' was not found"):
        edit_text("x", ["nowhere-editor"])
