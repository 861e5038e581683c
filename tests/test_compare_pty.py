"""Comparing models through a real terminal: the installed ``llmchat-tui`` in a pty.

``--compare`` starts a chat whose message goes to two models at once (both streams are
open together and both replies are on screen, in columns, while they stream); Esc stops
both; a failing model shows its error in its own column while the other finishes; F12
chooses the models in a picker; Ctrl+Up, Right and K keep one reply, which is then the
conversation's branch and model on disk; a narrow terminal stacks the columns.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import EXECUTABLE, conversation_files, footer, send_message
from conftest import wait_for
from openai_server import OpenAIServer, Recorded, Reply
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e


def saved(data_dir: Path) -> dict:
    (path,) = conversation_files(data_dir)
    return json.loads(path.read_text("utf-8"))


def saved_when(data_dir: Path, ready: Callable[[dict], bool], what: str) -> dict:
    """The saved conversation once ``ready`` holds for it (the last save can land
    a moment after the screen shows the end)."""
    found: list[dict] = []

    def check() -> bool:
        data = saved(data_dir)
        found[:] = [data]
        return ready(data)

    wait_for(check, what=what)
    return found[0]


def statuses(data: dict) -> list[str]:
    return [m["status"] for m in data["messages"][1:]]


def columns_of(screen: str, *words: str) -> list[str]:
    """The screen rows that show every one of ``words`` (side by side on one row)."""
    return [row for row in screen.splitlines() if all(w in row for w in words)]


def test_compare_flag_streams_two_models_side_by_side_and_esc_stops_both(
    launch: Callable[..., Terminal], server: OpenAIServer, data_dir: Path
) -> None:
    release = threading.Event()

    def reply(request: Recorded) -> Reply:
        words = "alpha" if request.body["model"] == "model-a" else "beta"
        # A first word each, then held open until the test lets go (never, here).
        return Reply(
            content=[f"{words}-start "] + [f"{words} "] * 500,
            stall_after=1,
            stall_seconds=30,
            resume=release,
        )

    server.default_reply = reply
    term = launch("--compare", "model-a,model-b", columns=130, lines=36)
    term.wait_for_text("comparing ·")
    send_message(term, "Both of you, please")
    # Both replies stream at once: each model's first word is on screen while the
    # other's stream is still open (neither can finish: both are held).
    screen = term.wait_until(
        lambda s: "alpha-start" in s and "beta-start" in s, what="both first words"
    )
    assert columns_of(screen, "1 model-a", "2 model-b"), "the two columns side by side"
    assert "streaming 2/2" in screen
    assert len(server.streams) == 2 and not any(s.finished.is_set() for s in server.streams)
    term.press("escape")
    screen = term.wait_until(lambda s: "cancelled 0/2" in s, what="both stopped")
    data = saved_when(
        data_dir, lambda d: statuses(d) == ["cancelled", "cancelled"], "both cancelled"
    )
    assert [m["content"].split()[0] for m in data["messages"][1:]] == [
        "alpha-start",
        "beta-start",
    ]
    assert data["compare"] == ["model-a", "model-b"]
    release.set()


def test_one_model_fails_in_its_own_column_while_the_other_finishes(
    launch: Callable[..., Terminal], server: OpenAIServer, data_dir: Path
) -> None:
    def reply(request: Recorded) -> Reply:
        if request.body["model"] == "broken":
            return Reply(status=404, body={"error": {"message": "model broken not found"}})
        return Reply.text("Working answer from the good model.", delay=0.01)

    server.default_reply = reply
    term = launch("--compare", "good,broken", columns=130, lines=36)
    term.wait_for_text("comparing ·")
    send_message(term, "Who answers?")
    term.wait_until(
        lambda s: (
            "complete 1/2" in s
            and "Working answer from the good model." in s
            and "broken not found" in s
        ),
        what="one answer and one error, side by side",
    )
    data = saved_when(data_dir, lambda d: "streaming" not in statuses(d), "both saved")
    assert [(m["model"], m["status"]) for m in data["messages"][1:]] == [
        ("good", "complete"),
        ("broken", "error"),
    ]


def test_pick_models_with_f12_then_keep_one_reply_with_k(
    launch: Callable[..., Terminal], server: OpenAIServer, data_dir: Path
) -> None:
    server.models = ["gpt-4o-mini", "model-b", "model-c"]
    server.default_reply = lambda request: Reply.text(f"Reply from {request.body['model']}.")
    term = launch(columns=130, lines=36)
    term.press("f12")
    term.wait_for_text("Compare models: choose 2 to 4")
    term.wait_for_text("model-c")  # the server's list arrived
    term.send("model-b")
    term.wait_for_text("choose 1 more")  # the conversation's model is chosen already
    term.press("enter")  # ...Enter chooses the highlighted one
    term.wait_for_text("2. model-b")
    term.press("enter")  # Enter on the empty box: compare these two
    term.wait_for_text("comparing ·")
    send_message(term, "Hello models")
    screen = term.wait_until(
        lambda s: (
            "complete 2/2" in s and "Reply from gpt-4o-mini." in s and "Reply from model-b." in s
        ),
        what="both replies",
    )
    assert columns_of(screen, "1 gpt-4o-mini", "2 model-b"), "side by side"

    term.press("ctrl+up")  # the message list: the compare row is selected
    term.wait_until(lambda s: "Keep this reply" in footer(s), what="the keep key")
    term.press("right")  # choose model-b's column
    term.press("k")
    term.wait_for_text("Kept the reply of model-b")
    data = saved(data_dir)
    kept = next(m for m in data["messages"] if m["content"] == "Reply from model-b.")
    assert data["current_id"] == kept["id"] and "compare" not in data
    assert data["model"] == "model-b"
    # The conversation goes on with model-b alone, from the prompt (focused again).
    term.wait_until(lambda s: "Send" in footer(s), what="the prompt's keys")
    send_message(term, "Only you now")
    term.wait_until(lambda s: "Reply from model-b." in s and "complete" in s, what="reply")
    term.wait_until(lambda s: len(server.chat_requests) == 3, what="one more request")
    assert server.chat_requests[-1].body["model"] == "model-b"


def test_a_narrow_terminal_stacks_the_replies(
    launch: Callable[..., Terminal], server: OpenAIServer
) -> None:
    server.default_reply = lambda request: Reply.text(f"Reply from {request.body['model']}.")
    term = launch("--compare", "model-a,model-b", columns=90, lines=40)
    term.wait_for_text("comparing ·")
    send_message(term, "Stack them")
    screen = term.wait_until(
        lambda s: "Reply from model-a." in s and "Reply from model-b." in s, what="both"
    )
    assert not columns_of(screen, "model-a", "model-b"), "one below the other"
    rows = screen.splitlines()
    first = next(i for i, r in enumerate(rows) if "Reply from model-a." in r)
    second = next(i for i, r in enumerate(rows) if "Reply from model-b." in r)
    assert second > first


def test_a_bad_compare_flag_is_a_usage_error(
    server: OpenAIServer, data_dir: Path, app_env: dict[str, str], tmp_path: Path
) -> None:
    from app_pty import run_cli

    done = run_cli("--data-dir", str(data_dir), "--compare", "only-one", env=app_env, cwd=tmp_path)
    assert done.returncode == 2
    assert "--compare: compare needs at least 2 models" in done.stderr
