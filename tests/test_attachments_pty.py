"""Attaching files through a real terminal: Tab completes @paths, the picker inserts
one, the server receives the file, and a refused file keeps the message unsent."""

from __future__ import annotations

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


def prompt_row(screen: str) -> str:
    """The prompt's text row (the line between its top and bottom borders)."""
    rows = screen.splitlines()
    tops = [i for i, row in enumerate(rows) if "▔▔▔" in row and "▊" in row]
    return rows[tops[-1] + 1] if tops else ""


def test_tab_completes_the_name_and_the_file_reaches_the_model(
    launch: Launch, server: OpenAIServer, tmp_path: Path
) -> None:
    # The app runs in tmp_path (its working directory).
    (tmp_path / "notes-otters.txt").write_text("Otters hold hands while sleeping.\n")
    server.queue(Reply.text("They do."))
    term = launch()
    term.send("what do @notes-o")
    term.wait_for_text("what do @notes-o")
    term.press("tab")
    term.wait_until(lambda s: "@notes-otters.txt" in prompt_row(s), what="the completed name")
    term.send("say?")
    term.wait_for_text("@notes-otters.txt say?")
    term.press("enter")
    wait_for_state(term, "complete")
    term.wait_until(
        lambda s: "📎 notes-otters.txt (34 B)" in s and "They do." in s,
        what="the chip and the reply",
    )
    sent = last_user_text(server.chat_requests[-1].body)
    assert sent == (
        "what do @notes-otters.txt say?\n\n"
        "notes-otters.txt:\n```\nOtters hold hands while sleeping.\n```"
    )
    quit_app(term)


def test_an_at_word_lists_what_it_can_name_as_it_is_typed(launch: Launch, tmp_path: Path) -> None:
    (tmp_path / "notes-a.txt").write_text("a\n")
    (tmp_path / "notes-b.txt").write_text("b\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n")
    term = launch()
    term.send("compare @no")
    term.wait_until(
        lambda s: "@ notes-a.txt  notes-b.txt  (Tab completes)" in s, what="the two names"
    )
    term.send("x")  # nothing starts with "nox"
    term.wait_for_text("@nox: no file or folder of that name here")
    term.press("backspace", "backspace", "backspace")
    term.send("do")
    term.wait_for_text("@ docs/")
    term.press("tab")  # into the folder: its files are listed
    term.wait_until(lambda s: "@docs/" in prompt_row(s) and "@ guide.md" in s, what="descended")
    term.send(" and more")  # the cursor left the word: the list goes
    term.wait_until(lambda s: "guide.md" not in s, what="the list gone")


def test_a_file_that_cannot_go_keeps_the_message(
    launch: Launch, server: OpenAIServer, tmp_path: Path
) -> None:
    (tmp_path / "a.out").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00")
    term = launch()
    term.send("explain @a.out")
    term.wait_for_text("explain @a.out")
    term.press("enter")
    wait_for_toast(term, "a.out is not a text file or an image")
    term.wait_until(lambda s: "explain @a.out" in prompt_row(s), what="the text back in the prompt")
    assert server.chat_requests == []
    quit_app(term)


def test_the_picker_puts_the_path_in_the_prompt(
    launch: Launch, server: OpenAIServer, tmp_path: Path
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "plan.md").write_text("# Plan\n")
    term = launch()
    term.send("check")
    term.wait_for_text("check")
    term.press("ctrl+l")
    term.wait_for_text("Attach a file from")
    term.send("plan")
    term.wait_for_text("docs/plan.md")
    term.press("enter")
    term.wait_until(lambda s: "check @docs/plan.md" in prompt_row(s), what="the path inserted")
    quit_app(term)


def test_keys_after_a_completion_keep_their_order(
    launch: Launch, server: OpenAIServer, tmp_path: Path
) -> None:
    """Tab runs a binding; the keys typed after it (in the same write) used to come
    back out of order now and then ("say?" as "s?ay")."""
    (tmp_path / "notes-otters.txt").write_text("Otters.\n")
    term = launch()
    for n in range(4):
        term.send(f"q{n} @notes-o\tsay what{n}?\x0a")  # Ctrl+J: a new line
    expected = "\n".join(f"q{n} @notes-otters.txt say what{n}?" for n in range(4))
    term.wait_until(lambda s: "say what3?" in s, what="all four lines typed")
    term.press("enter")
    wait_for_state(term, "complete")
    assert last_user_text(server.chat_requests[-1].body).startswith(expected + "\n")
    quit_app(term)
