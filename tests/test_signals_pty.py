"""Signals through a real terminal: SIGTERM, SIGHUP and SIGINT mid-reply.

The installed ``llmchat-tui`` runs in a pty against the loopback server; the test
sends the signal the way a system (``kill``), a closing terminal (SIGHUP) or a shell
would, then checks the exit status, the bytes that restore the terminal, and the disk:
the reply saved as *interrupted* with the text that had arrived, and the unsent draft.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import EXECUTABLE, LONG_REPLY_START, only_conversation, send_message
from openai_server import OpenAIServer, Reply
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

Launch = Callable[..., Terminal]

LEAVE_ALT_SCREEN = b"\x1b[?1049l"
MOUSE_OFF = b"\x1b[?1000l"


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name
)
def test_a_signal_mid_reply_saves_it_as_interrupted_and_restores_the_terminal(
    launch: Launch, server: OpenAIServer, data_dir: Path, signum: signal.Signals
) -> None:
    server.queue(Reply.tokens(3000, delay=0.01))
    term = launch()
    send_message(term, "tell me everything")
    term.wait_for_text(LONG_REPLY_START)
    term.send("words not sent yet")
    term.wait_for_text("words not sent yet")
    on_screen_before = len(term.raw)

    term.kill(signum)
    assert term.wait_for_exit(15) == 128 + signum

    restored = term.raw[on_screen_before:]
    assert LEAVE_ALT_SCREEN in restored, "the terminal was left in the alternate screen"
    assert MOUSE_OFF in restored, "mouse reporting was left on"

    saved = only_conversation(data_dir)
    reply = saved["messages"][-1]
    assert reply["role"] == "assistant"
    assert reply["status"] == "interrupted"
    assert reply["content"].startswith(LONG_REPLY_START)
    assert saved["draft"] == "words not sent yet"
    # The stream was closed, not left running until the server finished.
    stream = server.streams[0]
    assert stream.finished.wait(10)
    assert stream.client_disconnected and not stream.done_sent


def test_closing_the_terminal_saves_and_exits(
    launch: Launch, server: OpenAIServer, data_dir: Path
) -> None:
    """The terminal window goes away: the pty's master closes, the kernel sends SIGHUP
    and every later write to the terminal fails. The reply is still saved."""
    server.queue(Reply.tokens(3000, delay=0.01))
    term = launch()
    send_message(term, "tell me everything")
    term.wait_for_text(LONG_REPLY_START)
    term.send("typed before the window closed")
    term.wait_for_text("typed before the window closed")
    term.close_master()
    status = term.wait_for_exit(15)
    assert status == 128 + signal.SIGHUP, status
    saved = only_conversation(data_dir)
    reply = saved["messages"][-1]
    assert reply["status"] == "interrupted", reply["status"]
    assert reply["content"].startswith(LONG_REPLY_START)
    assert saved["draft"] == "typed before the window closed"


def test_a_second_signal_while_saving_still_exits(
    launch: Launch, server: OpenAIServer, data_dir: Path
) -> None:
    server.queue(Reply.tokens(3000, delay=0.01))
    term = launch()
    send_message(term, "tell me everything")
    term.wait_for_text(LONG_REPLY_START)
    term.kill(signal.SIGTERM)
    term.kill(signal.SIGTERM)
    assert term.wait_for_exit(15) == 128 + signal.SIGTERM
    assert os.path.isdir(data_dir)
