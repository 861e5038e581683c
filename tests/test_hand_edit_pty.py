"""A hand-edited conversation file opens, with a warning, through a real terminal.

Wrong-typed fields ("ttft_s": "fast", "error": 123, "model": {}, a string token
count) used to stop the app each time the conversation was opened."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import (
    EXECUTABLE,
    conversation_files,
    open_first_conversation,
    quit_app,
    send_message,
    wait_for_state,
)
from openai_server import OpenAIServer, Reply
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

Launch = Callable[..., Terminal]


def test_a_hand_edited_file_opens_with_a_warning(
    launch: Launch, server: OpenAIServer, data_dir: Path
) -> None:
    server.queue(Reply.text("The lighthouse is 49 m tall."))
    term = launch()
    send_message(term, "how tall is the lighthouse")
    wait_for_state(term, "complete")
    quit_app(term)

    [path] = conversation_files(data_dir)
    data = json.loads(path.read_text())
    reply = data["messages"][-1]
    reply.update(ttft_s="fast", error=123, model={}, tokens_per_s="quick")
    reply["usage"] = {"prompt_tokens": "many", "completion_tokens": "7"}
    path.write_text(json.dumps(data))
    before = path.read_bytes()

    term = launch()
    open_first_conversation(term)
    term.wait_for_text("The lighthouse is 49 m tall.")
    # The warning, from what the app wrote to the terminal. About one launch in ten
    # draws it only some 10 s late, when its 10 s are already over, so it is gone
    # again at once (not understood yet; see the issue notes).
    term.wait_until(
        lambda s: (
            b"Some fields of this conversation's file were wrong" in term.raw
            and b"the file was not changed" in term.raw
        ),
        timeout=30,
        what="the warning written to the terminal",
    )
    assert "how tall is the lighthouse" in term.screen_text()
    term.press("ctrl+n")  # still running: keys work
    term.wait_for_text("New conversation")
    quit_app(term)
    assert path.read_bytes() == before, "opening a file must not rewrite it"
