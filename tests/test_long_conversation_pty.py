"""A 2,000-message conversation through a real terminal: Home reaches its first message.

The message pane mounts a window of views; Home must bring the conversation's first
message on screen (without mounting the 2,000 in between) and End the newest again.
Correctness only: the time it takes is benchmark B5b's business.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
FIRST = "the opening question of the long talk"
LAST = "reply number 999 closes the long talk"


def save_long_conversation(data_dir: Path, messages: int = 2000) -> None:
    """Save a ``messages``-long conversation with the store's public API."""
    store = Store(data_dir)
    store.open()
    conversation = Conversation(model="gpt-4o-mini")
    for n in range(messages // 2):
        conversation.add(Message(role="user", content=FIRST if n == 0 else f"question {n}"))
        last = n == messages // 2 - 1
        conversation.add(Message(role="assistant", content=LAST if last else f"reply number {n}"))
    conversation.rename("long talk")  # the sidebar must not show the first message
    store.save(conversation)
    store.close()


def test_home_shows_the_first_message_of_a_2000_message_conversation(
    launch: Launch, data_dir: Path
) -> None:
    save_long_conversation(data_dir)
    term = launch()
    open_first_conversation(term)
    screen = term.wait_for_text(LAST, timeout=30)
    assert FIRST not in screen
    term.press("ctrl+up")  # into the message list
    term.wait_until(lambda s: "Copy" in footer(s), what="the message list's keys")
    term.press("home")
    term.wait_until(lambda s: FIRST in s and LAST not in s, 60, what="the first message")
    term.press("end")
    term.wait_until(lambda s: LAST in s and FIRST not in s, 60, what="the last message again")
    quit_app(term)
