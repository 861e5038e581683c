"""End-to-end tests: the installed ``llmchat-tui`` command in a real pseudo-terminal.

Each test starts the real console script (as a user would) in a 120x40 pty against the
scripted loopback server, drives it with key presses, and checks three things: what is
on the screen (rendered by ``pyte``), what was written to the data folder, and what the
server received. Slow by unit-test standards (a launch takes about a second).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import wait_for
from llmchat_tui.journal import read as journal_lines
from openai_server import OpenAIServer, Reply, make_tokens

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import (
    EXECUTABLE,
    LONG_REPLY_START,
    MODEL,
    conversation_files,
    footer,
    only_conversation,
    open_first_conversation,
    quit_app,
    run_cli,
    send_message,
    shape,
    status_line,
    status_state,
    wait_for_footer,
    wait_for_state,
)
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e


# --------------------------------------------------------------------------- scenarios


def test_send_renders_markdown_and_saves(
    launch: Callable[..., Terminal], server: OpenAIServer, data_dir: Path
) -> None:
    answer = "Here is **strong stuff** and a `snippet` for you."
    server.queue(Reply.text(answer, delay=0.02))
    term = launch()

    send_message(term, "what is new")
    term.wait_for_text("strong stuff")
    screen = wait_for_state(term, "complete")
    assert "**" not in screen, "the Markdown was shown raw"
    assert "`snippet`" not in screen and "snippet" in screen
    status = status_line(screen)
    assert "tok/s" in status and "TTFT" in status, status
    assert "just now · gpt-4o-mini" in screen  # the new conversation's sidebar row
    # The sidebar's "generating" marker goes away once the reply is over.
    term.wait_until(lambda screen: "●" not in screen, what="the ● marker to clear")

    assert server.wait_for_requests(1)
    (request,) = server.chat_requests
    assert request.body["model"] == MODEL
    assert request.body["stream"] is True
    assert request.messages[-1] == {"role": "user", "content": "what is new"}

    quit_app(term)
    saved = only_conversation(data_dir)
    assert shape(saved) == [("user", "complete"), ("assistant", "complete")]
    assert saved["messages"][0]["content"] == "what is new"
    assert saved["messages"][1]["content"] == answer
    assert saved["title"] == "what is new"


def test_escape_stops_reply_and_keeps_partial_text(
    launch: Callable[..., Terminal], server: OpenAIServer, data_dir: Path
) -> None:
    full = "".join(make_tokens(2000))
    server.queue(Reply.tokens(2000, delay=0.01), Reply.text("Second answer arrived.", delay=0.01))
    term = launch()

    send_message(term, "first question")
    term.wait_for_text(LONG_REPLY_START)
    screen = wait_for_state(term, "streaming")
    assert "● first question" in screen  # the sidebar marks the conversation generating
    term.press("escape")
    wait_for_state(term, "cancelled")
    # The message's own footer says so too (not only the status bar).
    screen = wait_for_footer(term, "cancelled")
    assert LONG_REPLY_START in screen, "the partial text disappeared"
    term.wait_until(lambda screen: "●" not in screen, what="the ● marker to clear")

    assert server.wait_for_streams(1)
    record = server.streams[0]
    wait_for(lambda: record.client_disconnected, 5, "the server to see the client hang up")
    assert record.finished.wait(5)
    assert not record.done_sent
    assert record.content_sent < 2000

    send_message(term, "second question")
    term.wait_for_text("Second answer arrived.")
    wait_for_state(term, "complete")
    assert server.wait_for_requests(2)
    second = server.chat_requests[1].messages
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[0]["content"] == "first question"
    partial = second[1]["content"]
    assert partial.strip(), "the cancelled reply's text was not sent as history"
    assert full.startswith(partial) and len(partial) < len(full)
    assert second[2]["content"] == "second question"

    quit_app(term)
    saved = only_conversation(data_dir)
    assert shape(saved) == [
        ("user", "complete"),
        ("assistant", "cancelled"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert saved["messages"][1]["content"] == partial
    assert saved["messages"][3]["content"] == "Second answer arrived."


def test_relaunch_lists_and_reopens_conversation(
    launch: Callable[..., Terminal], server: OpenAIServer, data_dir: Path
) -> None:
    server.queue(
        Reply.text("Otters hold hands while sleeping.", delay=0.01),
        Reply.text("Beavers build dams.", delay=0.01),
    )
    term = launch()
    send_message(term, "tell me about otters")
    term.wait_for_text("Otters hold hands while sleeping.")
    wait_for_state(term, "complete")
    quit_app(term)

    term = launch()
    screen = term.wait_until(
        lambda screen: "tell me about otters" in screen and status_state(screen) == "idle",
        what="its sidebar row and an idle new conversation",
    )
    assert "Otters hold hands" not in screen  # a fresh conversation is open

    open_first_conversation(term)
    screen = term.wait_for_text("Otters hold hands while sleeping.")
    assert screen.count("tell me about otters") == 2, screen  # sidebar row + message

    # The reopened history is what the next request carries.
    send_message(term, "and beavers")
    term.wait_for_text("Beavers build dams.")
    wait_for_state(term, "complete")
    assert server.wait_for_requests(2)
    assert server.chat_requests[1].messages == [
        {"role": "user", "content": "tell me about otters"},
        {"role": "assistant", "content": "Otters hold hands while sleeping."},
        {"role": "user", "content": "and beavers"},
    ]
    quit_app(term)
    assert len(only_conversation(data_dir)["messages"]) == 4


def journal_text(data_dir: Path) -> str:
    """The reply text in the one conversation journal (its complete lines), or ""."""
    files = list((data_dir / "conversations").glob("*.journal"))
    lines = journal_lines(files[0]) if len(files) == 1 else None
    return "".join(line.get("text", "") for line in lines or [])


def test_kill_9_mid_reply_keeps_the_reply_up_to_its_last_checkpoint(
    launch: Callable[..., Terminal], server: OpenAIServer, data_dir: Path
) -> None:
    """While a reply streams its text goes to the conversation's journal every 200 ms
    (the file itself is not rewritten); after a kill -9 the next start folds the
    journal into the file: the reply is there up to its last checkpoint, interrupted."""
    full = "".join(make_tokens(2000))
    server.queue(Reply.tokens(2000, delay=0.01))
    term = launch()
    send_message(term, "a long answer please")
    term.wait_for_text(LONG_REPLY_START)
    wait_for(lambda: len(journal_text(data_dir).split()) >= 60, 15, "checkpoints in the journal")
    assert status_state(term.screen_text()) == "streaming"
    assert server.wait_for_streams(1)
    sent_before_kill = server.streams[0].content_sent
    term.kill(signal.SIGKILL)
    assert term.wait_for_exit(10) == -signal.SIGKILL
    wait_for(lambda: server.streams[0].client_disconnected, 5, "the server to see the hang-up")

    before = only_conversation(data_dir)
    assert shape(before) == [("user", "complete"), ("assistant", "streaming")]
    assert before["messages"][1]["content"] == "", "the file was rewritten while streaming"
    partial = journal_text(data_dir)
    assert partial and full.startswith(partial) and len(partial) < len(full)
    # At 100 words/s a 200 ms interval loses ~20 words; the rest is slack for a busy machine.
    lost = sent_before_kill - len(partial.split())
    assert lost <= 80, f"{lost} words sent before the kill are not in the journal"

    term = launch()
    term.wait_for_text("a long answer please")  # listed in the sidebar
    after = only_conversation(data_dir)  # start-up folded the journal into the file
    assert shape(after) == [("user", "complete"), ("assistant", "interrupted")]
    assert after["messages"][1]["content"] == partial
    assert not list((data_dir / "conversations").glob("*.journal")), "the journal was kept"
    open_first_conversation(term)
    screen = wait_for_footer(term, "interrupted")
    assert LONG_REPLY_START in screen
    quit_app(term)
    assert shape(only_conversation(data_dir))[1] == ("assistant", "interrupted")


def test_unreadable_file_is_reported_and_left_alone(
    launch: Callable[..., Terminal], data_dir: Path
) -> None:
    from llmchat_tui.models import Conversation, Message, Status
    from llmchat_tui.store import Store

    store = Store(data_dir)
    store.open()
    good = Conversation(model=MODEL)
    good.add(Message(role="user", content="a readable chat"))
    good.add(Message(role="assistant", content="Readable answer.", status=Status.COMPLETE))
    store.save(good)
    store.close()
    garbage = data_dir / "conversations" / "broken01.json"
    garbage_bytes = b'{"schema_version": 1, "messages": [\x00\xff not json'
    garbage.write_bytes(garbage_bytes)

    term = launch(wait_ready=False)
    term.wait_until(
        lambda s: "Skipped 1 unreadable" in s and "broken01.json" in s,
        what="the notification naming the file",
    )
    term.wait_for_text("a readable chat")  # the good one is listed
    term.wait_for_text("New conversation")
    open_first_conversation(term)
    term.wait_for_text("Readable answer.")
    quit_app(term)

    assert garbage.read_bytes() == garbage_bytes
    assert sorted(p.name for p in conversation_files(data_dir)) == sorted(
        ["broken01.json", f"{good.id}.json"]
    )


def test_second_instance_on_same_data_dir_exits_1(
    launch: Callable[..., Terminal], app_env: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    first = launch()
    assert EXECUTABLE is not None
    second = subprocess.run(
        [EXECUTABLE, "--model", MODEL, "--data-dir", str(data_dir)],
        env=app_env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert second.returncode == 1, second
    assert "Traceback" not in second.stderr
    assert (
        f"llmchat-tui: another llmchat-tui (pid {first.pid}) is using {data_dir}; "
        "close it or use --data-dir"
    ) in second.stderr, second.stderr
    assert first.proc.poll() is None  # the first one is unharmed
    send_message(first, "still here")
    first.wait_for_text("Echo: still here")
    quit_app(first)


def test_version_and_help(app_env: dict[str, str], tmp_path: Path) -> None:
    from llmchat_tui import __version__

    version = run_cli("--version", env=app_env, cwd=tmp_path)
    assert version.returncode == 0, version
    assert version.stdout.strip() == f"llmchat-tui {__version__}"

    shown = run_cli("--help", env=app_env, cwd=tmp_path)
    assert shown.returncode == 0, shown
    assert shown.stdout.startswith("usage: llmchat-tui")
    for flag in ("--model", "--base-url", "--config", "--data-dir", "--version"):
        assert flag in shown.stdout, flag
    assert shown.stderr == ""


def test_broken_config_is_one_line_exit_2(
    app_env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('model = "gpt-4o-mini"\nbase_url = [unclosed\n', encoding="utf-8")
    result = run_cli(
        "--config", str(config), "--data-dir", str(data_dir), env=app_env, cwd=tmp_path
    )
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"llmchat-tui: config file {config} is not valid TOML: "), lines
    assert result.stdout == ""
    assert not conversation_files(data_dir)


def test_ctrl_f_filters_the_sidebar(launch: Callable[..., Terminal], server: OpenAIServer) -> None:
    term = launch()
    for text in ("alpha topic", "beta topic"):
        send_message(term, text)
        term.wait_for_text(f"Echo: {text}")
        wait_for_state(term, "complete")
        term.press("ctrl+n")
        term.wait_for_text("New conversation")
    screen = term.screen_text()
    assert "alpha topic" in screen and "beta topic" in screen

    term.press("ctrl+f")  # from the prompt
    term.wait_until(
        lambda screen: not {"Send", "Rename"} & set(footer(screen).split()),
        what="the filter box to get the focus",
    )
    term.send("alpha")
    term.wait_until(
        lambda screen: "alpha topic" in screen and "beta topic" not in screen,
        what="only 'alpha topic' listed",
    )
    # Enter in the filter opens the top match and clears the filter.
    term.press("enter")
    term.wait_for_text("Echo: alpha topic")
    term.wait_until(
        lambda screen: "alpha topic" in screen and "beta topic" in screen,
        what="the whole list back after opening",
    )
    assert len(server.chat_requests) == 2
    quit_app(term)


def test_hostile_reply_leaves_the_terminal_as_it_was(
    launch: Callable[..., Terminal], server: OpenAIServer
) -> None:
    """Escape sequences from a model never reach the terminal: no clear, no title
    change, no clipboard write, no hyperlink; they show visibly instead."""
    from hostile import ALL_TEXT

    server.queue(Reply(content=[ALL_TEXT[i : i + 4] for i in range(0, len(ALL_TEXT), 4)]))
    term = launch()
    title_before = term.title
    send_message(term, "say something nasty")
    wait_for_state(term, "complete")
    screen = term.wait_for_text("[bold red]not styled[/bold red]")  # the last block drawn
    assert "say something nasty" in screen  # the screen was not cleared
    assert "copy␛]52;c;SE9TVElMRQ==␇me" in screen
    assert "[@click=app.quit]Click me[/]" in screen
    raw = term.raw
    for needle in (
        b"\x1b]52;c;SE9TVElMRQ",
        b"PWNED-TITLE\x07",
        b"\x1b]0;PWNED",
        b"\x1b]2;PWNED2",
        b"\x1b]8;;http://evil",
        b"\x1bP+q544e",
        b"\x9b2J",
    ):
        assert needle not in raw, needle
    assert term.title == title_before
    quit_app(term)
