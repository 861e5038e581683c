"""Typing and pasting through a real terminal: the bytes a terminal sends, read back from
the screen, the disk and the server.

Pilot hands keys and ``Paste`` events straight to widgets; these tests write what a
terminal writes instead (bracketed paste with CR or CRLF newlines, Alt+Enter as ESC CR,
keys arriving in one burst) to the installed ``llmchat-tui`` in a pty, and assert on what
the user sees (pyte), what the loopback server received, and what was saved.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import (
    EXECUTABLE,
    only_conversation,
    quit_app,
    wait_for_state,
)
from openai_server import OpenAIServer, Reply
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

Launch = Callable[..., Terminal]


def sent_texts(server: OpenAIServer) -> list[str]:
    """The last user message of every chat request the server received, in order."""
    return [request.messages[-1]["content"] for request in server.chat_requests]


def send_and_wait(term: Terminal, server: OpenAIServer, count: int) -> None:
    """Press Enter and wait until the server has ``count`` requests and the reply ended."""
    term.press("enter")
    assert server.wait_for_requests(count, timeout=20)
    wait_for_state(term, "complete", timeout=30)


# --------------------------------------------------------------------------- pasting


@pytest.mark.parametrize("newline", ["\r", "\r\n"], ids=["CR", "CRLF"])
def test_paste_is_inserted_once_with_its_line_breaks(
    launch: Launch, server: OpenAIServer, data_dir: Path, newline: str
) -> None:
    term = launch()
    term.paste("zebra", newline=newline)
    term.wait_for_text("zebra")
    term.paste("\none\ntwo", newline=newline)
    screen = term.wait_for_text("two")
    assert "zebrazebra" not in screen and "twoone" not in screen, screen
    send_and_wait(term, server, 1)
    assert sent_texts(server) == ["zebra\none\ntwo"]
    quit_app(term)
    saved = only_conversation(data_dir)
    assert saved["messages"][0]["content"] == "zebra\none\ntwo"
    assert saved["draft"] == ""


@pytest.mark.parametrize("newline", ["\r", "\r\n"], ids=["CR", "CRLF"])
def test_a_megabyte_paste_arrives_whole_with_its_line_breaks(
    launch: Launch, server: OpenAIServer, newline: str
) -> None:
    lines = [f"line {n:06d} of the pasted log: status=ok value={n * 7}" for n in range(20_000)]
    text = "\n".join(lines)
    assert len(text) > 1_000_000
    server.queue(Reply.text("Received."))
    term = launch()
    term.paste(text, newline=newline)
    term.wait_for_text(f"⟦pasted #1: {len(text):,} characters⟧", timeout=60)
    send_and_wait(term, server, 1)
    (received,) = sent_texts(server)
    assert received == text
    quit_app(term)


def test_a_big_paste_shows_its_lines_apart_in_the_pane(
    launch: Launch, server: OpenAIServer
) -> None:
    lines = [f"row {n:05d} " + "x" * 40 for n in range(400)]
    text = "\n".join(lines)
    server.queue(Reply.text("Received."))
    term = launch()
    term.paste(text)
    term.wait_for_text("⟦pasted #1:")
    send_and_wait(term, server, 1)
    term.wait_for_text("Received.")
    pane = [row.split("▕", 1)[-1] for row in term.screen_text().splitlines()]  # no sidebar
    rows = [row for row in pane if "row 00" in row]
    # The pasted lines are drawn apart (one per row), not glued into one.
    assert len(rows) > 5, rows
    assert all(row.count("row 00") == 1 for row in rows), rows
    quit_app(term)


# --------------------------------------------------------------------------- new lines


@pytest.mark.parametrize("key", ["alt+enter", "ctrl+j", "shift+enter"])
def test_new_line_keys_add_a_line_and_never_send(
    launch: Launch, server: OpenAIServer, key: str
) -> None:
    term = launch()
    term.send("first line")
    term.wait_for_text("first line")
    term.press(key)
    # Typing straight after the key must not lose or change a character.
    term.send("second line")
    term.wait_for_text("second line")
    assert server.chat_requests == []
    send_and_wait(term, server, 1)
    assert sent_texts(server) == ["first line\nsecond line"]
    quit_app(term)


def test_alt_enter_in_one_burst_with_text(launch: Launch, server: OpenAIServer) -> None:
    """ESC CR followed at once by more text (a fast typist, or tmux) is a new line."""
    term = launch()
    term.send("alpha\x1b\rbeta")
    term.wait_for_text("beta")
    assert server.chat_requests == []
    send_and_wait(term, server, 1)
    assert sent_texts(server) == ["alpha\nbeta"]
    quit_app(term)


# --------------------------------------------------------------------------- bursts


def test_text_and_enter_in_one_write_five_times(launch: Launch, server: OpenAIServer) -> None:
    term = launch()
    words = ["one apple", "two bananas", "three cherries", "four dates", "five figs"]
    for word in words:
        term.send(word + "\r")
    assert server.wait_for_requests(5, timeout=30)
    term.wait_for_text("Echo: five figs", timeout=30)
    wait_for_state(term, "complete")
    assert sent_texts(server) == words
    quit_app(term)


def test_a_key_and_the_text_typed_after_it_stay_in_order(launch: Launch, data_dir: Path) -> None:
    """Ctrl+N then words, in one burst: the words go to the new chat, not the old one.

    Textual hands a key to the focused prompt first and runs a screen's key only when
    the key has bubbled up, so without care the characters after it overtake it."""
    term = launch()
    term.send("first draft\x0esecond draft")
    term.wait_for_text("second draft")
    term.press("ctrl+q")
    assert term.wait_for_exit(15) == 0
    drafts = sorted(
        json.loads(path.read_text())["draft"]
        for path in (data_dir / "conversations").glob("*.json")
    )
    assert drafts == ["first draft", "second draft"]


def test_editing_keys_in_a_burst_apply_where_they_were_typed(
    launch: Launch, server: OpenAIServer
) -> None:
    """ "ab", Left, "c", End, "d" in one write edits like a slow typist: "acbd"."""
    term = launch()
    term.send("ab\x1b[Dc\x1b[Fd")
    term.wait_for_text("acbd")
    send_and_wait(term, server, 1)
    assert sent_texts(server) == ["acbd"]
    quit_app(term)
