"""What the server reports, seen through a real terminal: the status bar's limit comes
from llama.cpp's ``/props`` with no config, and a model the server does not list is
named in a warning."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import (
    EXECUTABLE,
    MODEL,
    quit_app,
    send_message,
    status_line,
    status_state,
    wait_for_toast,
)
from openai_server import OpenAIServer
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

Launch = Callable[..., Terminal]
LIMIT = re.compile(r"next \S+/4,096\b")


def test_the_status_bar_shows_llama_cpps_n_ctx(launch: Launch, server: OpenAIServer) -> None:
    # gpt-4o-mini is 128,000 in the built-in table; the server runs it with 4,096.
    server.imitate("llama.cpp", 4096, model=MODEL)
    term = launch()
    screen = term.wait_until(lambda s: LIMIT.search(s), what="next …/4,096")
    assert "128,000" not in status_line(screen)
    send_message(term, "hello there")
    term.wait_for_text("Echo: hello there")
    # After the reply the limit is still the server's (the status bar is redrawn).
    term.wait_until(
        lambda s: status_state(s) == "complete" and LIMIT.search(status_line(s)),
        what="complete · next …/4,096",
    )
    assert not any("does not list" in row for row in term.screen_text().splitlines())
    quit_app(term)
    assert [r.path for r in server.requests].count("/props") == 1  # asked once


def test_a_model_the_server_does_not_list_is_named(launch: Launch, server: OpenAIServer) -> None:
    server.models = ["gemma-3-4b", "qwen3-8b"]
    term = launch()
    toast = wait_for_toast(term, "does not list the model")
    assert f"“{MODEL}”" in toast and "it has gemma-3-4b, qwen3-8b" in toast
    quit_app(term)
