"""Find in the open conversation, through a real terminal: Ctrl+S, a word, Enter to
step (older messages are loaded as needed), Esc to close; and opening a
conversation from a full-text search in the sidebar jumps to the first hit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import EXECUTABLE, footer, open_first_conversation, quit_app
from llmchat_tui.models import Conversation, Message
from llmchat_tui.store import Store
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

Launch = Callable[..., Terminal]


def long_chat(data_dir: Path) -> Conversation:
    """120 messages; "walrus" in message 3 (far above the first screenful), 60 and 118."""
    conversation = Conversation(model="gpt-4o-mini")
    for n in range(1, 121):
        role: Literal["user", "assistant"] = "user" if n % 2 else "assistant"
        text = f"Message number {n} about otters."
        if n in (3, 60, 118):
            text = f"Message number {n} mentions a walrus here."
        conversation.add(Message(role=role, content=text))
    conversation.rename("Sea animals")
    store = Store(data_dir)
    store.open()
    store.save(conversation)
    return conversation


def test_find_steps_through_matches_loading_older_messages(launch: Launch, data_dir: Path) -> None:
    long_chat(data_dir)
    term = launch()
    open_first_conversation(term)
    term.wait_for_text("Message number 120 about otters.")
    term.press("ctrl+s")
    term.wait_for_text("Find in this conversation")
    term.send("WALRUS")
    term.wait_until(
        lambda s: "1/3" in s and "Message number 3 mentions a walrus here." in s,
        what="the first match, loaded from far above",
    )
    term.press("enter")
    term.wait_for_text("2/3")
    term.wait_for_text("Message number 60 mentions a walrus here.")
    term.press("enter", "enter")  # the third, then round to the first
    term.wait_for_text("1/3")
    term.press("up")  # back round to the last
    term.wait_until(
        lambda s: "3/3" in s and "Message number 118 mentions a walrus here." in s,
        what="the last match shown",
    )
    term.send("z")
    term.wait_for_text("no match")
    term.press("escape")
    term.wait_until(lambda s: "Find in this conversation" not in s, what="the bar closed")
    term.send("typed after")  # the focus is back in the prompt
    term.wait_for_text("typed after")
    quit_app(term)


def test_the_found_words_are_marked_where_they_are_drawn(launch: Launch, data_dir: Path) -> None:
    conversation = Conversation(model="gpt-4o-mini")
    conversation.add(Message(role="user", content="Tell me about the walrus"))
    conversation.add(Message(role="assistant", content="The **Walrus** is big. A walrus dives."))
    store = Store(data_dir)
    store.open()
    store.save(conversation)
    term = launch()
    open_first_conversation(term)
    term.wait_for_text("A walrus dives.")
    # The prompt has the focus (the list gives it up a moment after the chat is drawn).
    term.wait_until(lambda s: "Send" in footer(s), what="the prompt's keys")
    assert all(own == before for own, before in term.backgrounds("walrus"))
    term.press("ctrl+s")
    term.send("walrus")
    term.wait_for_text("1/3")
    # Every place the word is drawn stands out from the text around it: in your message,
    # and in the reply's Markdown (bold "Walrus" too: case is ignored).
    marked = term.wait_until(
        lambda s: sum(own != before for own, before in term.backgrounds("walrus")) == 3,
        what="the three matches marked (the find box itself is not)",
    )
    assert "Tell me about the walrus" in marked
    term.press("escape")
    term.wait_until(
        lambda s: all(own == before for own, before in term.backgrounds("walrus")),
        what="the marks gone with the find bar",
    )
    quit_app(term)


def test_find_and_a_word_in_one_burst_again_and_again(launch: Launch, data_dir: Path) -> None:
    """Ctrl+S and the word after it, written at once, several times over: the word is
    always in the find box, never in the prompt. (Once a burst had sent its word to
    the find box, the prompt kept routing its keys round the app, and the next
    burst's word came back to it before the find box had the focus.)"""
    term = launch()
    for word in ("walrus", "otter", "narwhal", "seal"):
        term.wait_until(lambda s: "Send" in footer(s), what="the prompt's keys")
        term.send("\x13" + word)  # Ctrl+S and the word in one write
        term.wait_for_text(word)
        screen = term.wait_until(lambda s: "Close find" in footer(s), what="the find bar")
        assert word not in prompt_row(screen), f"{word!r} went to the prompt"
        term.press("escape")
        term.wait_until(lambda s: "Find in this conversation" not in s, what="the bar closed")
    screen = term.screen_text()
    assert not any(w in prompt_row(screen) for w in ("walrus", "otter", "narwhal", "seal"))
    quit_app(term)


def prompt_row(screen: str) -> str:
    """The prompt's first line of text (below its top border)."""
    rows = screen.splitlines()
    tops = [i for i, row in enumerate(rows) if "▔▔▔" in row and "▊" in row]
    return rows[tops[-1] + 1] if tops else ""


def test_opening_a_search_hit_shows_where_the_words_are(launch: Launch, data_dir: Path) -> None:
    long_chat(data_dir)
    term = launch()
    term.press("ctrl+f")
    term.send("walrus")
    term.wait_for_text("Sea animals")
    term.press("down", "enter")
    term.wait_until(
        lambda s: "1/3" in s and "Message number 3 mentions a walrus here." in s,
        what="the first hit shown",
    )
    term.send("typed")  # the prompt has the focus; Ctrl+S goes to the bar
    term.wait_until(lambda s: "typed" in s and "1/3" in s, what="text in the prompt")
    term.press("ctrl+s")
    term.wait_until(lambda s: "Close find" in footer(s), what="the find bar focused")
    term.press("enter")
    term.wait_for_text("2/3")
    quit_app(term)
