"""The words for a failed save come from the operating system's reason, found under
the store's own error (real faults on real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmchat_tui.models import Conversation, Message
from llmchat_tui.session import save_error_text
from llmchat_tui.store import Store, StoreError


def test_the_os_reason_under_a_store_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    store.open()
    conversation = Conversation()
    conversation.add(Message(role="user", content="hello"))
    folder = tmp_path / "data" / "conversations"
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
    folder.write_text("a file where the folder should be")
    with pytest.raises((StoreError, OSError)) as caught:
        store.save(conversation)
    assert save_error_text(caught.value) == "Not a directory"


def test_text_without_an_os_reason() -> None:
    assert save_error_text(StoreError("written by a newer llmchat-tui")) == (
        "written by a newer llmchat-tui"
    )
    assert save_error_text(RuntimeError()) == "RuntimeError"
