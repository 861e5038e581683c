"""The clipboard core: which desktop tool fits a session, running it, and the words."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from llmchat_tui import clipboard


def tool_dir(tmp_path: Path, *names: str, body: str = "cat >/dev/null\n") -> str:
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name in names:
        script = folder / name
        script.write_text("#!/bin/sh\n" + body)
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(folder)


def test_no_desktop_means_no_tool(tmp_path: Path) -> None:
    path = tool_dir(tmp_path, "wl-copy", "xclip", "xsel")
    assert clipboard.local_tool({"PATH": path}, "linux") is None


def test_wayland_then_x(tmp_path: Path) -> None:
    path = tool_dir(tmp_path, "wl-copy", "xclip", "xsel")
    wayland = clipboard.local_tool({"PATH": path, "WAYLAND_DISPLAY": "w", "DISPLAY": ":0"}, "linux")
    assert wayland is not None and wayland.name == "wl-copy"
    x = clipboard.local_tool({"PATH": path, "DISPLAY": ":0"}, "linux")
    assert x is not None and x.name == "xclip"
    assert x.argv[0] == os.path.join(path, "xclip")


def test_xsel_when_xclip_is_missing(tmp_path: Path) -> None:
    path = tool_dir(tmp_path, "xsel")
    found = clipboard.local_tool({"PATH": path, "DISPLAY": ":0"}, "linux")
    assert found is not None and found.name == "xsel"


def test_pbcopy_on_macos(tmp_path: Path) -> None:
    path = tool_dir(tmp_path, "pbcopy")
    found = clipboard.local_tool({"PATH": path}, "darwin")
    assert found is not None and found.name == "pbcopy"


def test_run_tool_gives_the_text_and_reports_failure(tmp_path: Path) -> None:
    target = tmp_path / "got"
    works = clipboard.Tool(
        "copier", (tool_dir(tmp_path, "ok", body=f'cat > "{target}"\n') + "/ok",)
    )
    assert clipboard.run_tool(works, "héllo\nworld") is None
    assert target.read_text(encoding="utf-8") == "héllo\nworld"

    fails = clipboard.Tool(
        "copier",
        (tool_dir(tmp_path, "bad", body="cat >/dev/null\necho nope >&2\nexit 3\n") + "/bad",),
    )
    assert clipboard.run_tool(fails, "x") == "copier failed: nope"
    missing = clipboard.Tool("ghost", (str(tmp_path / "nowhere"),))
    assert (clipboard.run_tool(missing, "x") or "").startswith("ghost could not run")


def test_the_words_say_what_happened() -> None:
    tool = clipboard.Tool("xclip", ("xclip",))
    assert clipboard.describe("the reply", tool, None) == (
        "Copied the reply to the clipboard (with xclip)."
    )
    assert "OSC 52" in clipboard.describe("the reply", None, None)
    assert "Copied" not in clipboard.describe("the reply", None, None)
    failed = clipboard.describe("the reply", tool, "xclip failed: no display")
    assert failed.startswith("xclip failed: no display. Sent the reply")
