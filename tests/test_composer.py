"""Drafts and edit mode on their own (the Composer the chat screen owns), with the
real session keeping drafts. No Textual: the screen only loads what this returns into
the prompt; tests/test_input_pty.py and tests/test_screen_pty.py drive the same rules
through a real terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmchat_tui.config import Settings
from llmchat_tui.llm import ChatClient
from llmchat_tui.models import Conversation, Message
from llmchat_tui.screens.composer import Composer
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Store


@pytest.fixture
def session(tmp_path: Path) -> Iterator[ChatSession]:
    """A real session (nothing here sends a request or saves a file)."""
    store = Store(tmp_path / "data")
    client = ChatClient(base_url="http://127.0.0.1:9/v1", api_key="")
    yield ChatSession(Settings(base_url="http://127.0.0.1:9/v1", model="m"), store, client)


@pytest.fixture
def composer(session: ChatSession) -> Composer:
    return Composer(session.set_draft)


def chat(*texts: str) -> Conversation:
    """A conversation whose branch alternates user and assistant messages."""
    conversation = Conversation()
    for n, text in enumerate(texts):
        conversation.add(Message(role="user" if n % 2 == 0 else "assistant", content=text))
    return conversation


def test_an_edit_shows_the_message_and_gives_the_draft_back_at_the_end(composer):
    conversation = chat("first question", "first answer")
    assert not composer.editing
    shown = composer.begin_edit(conversation, conversation.messages[0], "half a new message")
    assert shown == "first question" and composer.editing
    assert composer.end_edit() == "half a new message"
    assert not composer.editing and composer.edit is None


def test_switching_to_another_edit_keeps_the_first_draft(composer):
    conversation = chat("one", "answer one", "two", "answer two")
    first, second = conversation.messages[0], conversation.messages[2]
    composer.begin_edit(conversation, first, "my draft")
    # The prompt now holds the first edit; starting the second must not keep *that*.
    assert composer.begin_edit(conversation, second, "one, half edited") == "two"
    assert composer.edit is not None and composer.edit.message is second
    assert composer.end_edit() == "my draft"


def test_ending_when_not_editing_gives_nothing_back(composer):
    assert composer.end_edit() == ""
    assert not composer.editing


def test_drafts_are_kept_through_the_session_but_never_while_editing(composer):
    conversation = Conversation()
    assert composer.take_draft(conversation, "an idea")
    assert conversation.draft == "an idea"
    assert conversation.title == "an idea"  # the session names a draft-only chat
    assert not composer.take_draft(conversation, "an idea")  # unchanged

    conversation.add(Message(role="user", content="sent"))
    composer.begin_edit(conversation, conversation.messages[0], "an idea")
    assert not composer.take_draft(conversation, "sent, edited")  # the prompt holds the edit
    assert conversation.draft == "an idea"
    composer.end_edit()
    assert composer.take_draft(conversation, "another idea")
    assert conversation.draft == "another idea"


def test_later_count_is_what_stays_behind_in_the_old_branch(composer):
    conversation = chat("one", "answer one", "two", "answer two")
    composer.begin_edit(conversation, conversation.messages[0], "")
    assert composer.later_count() == 3
    composer.begin_edit(conversation, conversation.messages[2], "")
    assert composer.later_count() == 1
    # The message is no longer on the branch shown: nothing to count.
    conversation.add(Message(role="user", content="one, again"), parent=None)
    assert composer.later_count() == 0
    composer.end_edit()
    assert composer.later_count() == 0
