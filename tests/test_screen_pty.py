"""The chat screen through a real terminal: queueing, edits, narrow widths, drafts, the filter.

Like tests/test_input_pty.py these run the installed ``llmchat-tui`` in a pty against the
loopback server and assert on the screen (pyte), the disk and the server's requests.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import (
    EXECUTABLE,
    LONG_REPLY_START,
    conversation_files,
    footer,
    message_footers,
    only_conversation,
    quit_app,
    read_if_valid,
    send_message,
    status_line,
    status_state,
    wait_for_state,
)
from conftest import wait_for
from openai_server import OpenAIServer, Reply
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

Launch = Callable[..., Terminal]


def pane_rows(screen: str) -> list[str]:
    """The rows right of the sidebar's border (the whole row when it is hidden)."""
    return [row.split("▕", 1)[-1] for row in screen.splitlines()]


def sidebar_text(screen: str) -> str:
    """The sidebar's column: what is left of its border on each row (empty when hidden)."""
    return "\n".join(row.split("▕")[0] for row in screen.splitlines() if "▕" in row)


def sent_texts(server: OpenAIServer) -> list[str]:
    return [request.messages[-1]["content"] for request in server.chat_requests]


# --------------------------------------------------------------------------- queueing


def test_enter_while_streaming_queues_and_sends_when_the_reply_ends(
    launch: Launch, server: OpenAIServer, data_dir: Path
) -> None:
    server.queue(Reply.tokens(400, delay=0.01), Reply.text("Second answer."))
    term = launch()
    send_message(term, "first question")
    term.wait_for_text(LONG_REPLY_START)
    term.send("my next thought")
    term.press("enter")
    term.wait_until(
        lambda s: "my next thought" in s and "1 queued" in status_line(s), what="queued"
    )
    assert len(server.chat_requests) == 1  # not sent while the reply streams
    term.wait_for_text("Second answer.", timeout=30)
    wait_for_state(term, "complete")
    assert sent_texts(server) == ["first question", "my next thought"]
    assert "queued:" not in term.screen_text()
    quit_app(term)
    saved = only_conversation(data_dir)
    assert [m["content"] for m in saved["messages"] if m["role"] == "user"] == [
        "first question",
        "my next thought",
    ]


def test_escape_stops_the_reply_and_gives_the_queued_text_back(
    launch: Launch, server: OpenAIServer
) -> None:
    server.queue(Reply.tokens(2000, delay=0.01))
    term = launch()
    send_message(term, "a long one")
    term.wait_for_text(LONG_REPLY_START)
    term.send("queued words")
    term.press("enter")
    term.wait_for_text("queued: sent when the reply ends")
    term.press("escape")
    wait_for_state(term, "cancelled")
    screen = term.wait_for_text("back in the prompt")
    assert "queued:" not in screen
    # The text is in the prompt again, unsent; Enter now sends it.
    assert any("queued words" in row for row in pane_rows(screen)[-6:]), screen
    assert len(server.chat_requests) == 1
    term.press("enter")
    assert server.wait_for_requests(2)
    assert sent_texts(server)[-1] == "queued words"
    quit_app(term)


def test_a_queued_message_can_be_taken_back_or_cancelled(
    launch: Launch, server: OpenAIServer
) -> None:
    server.queue(Reply.tokens(3000, delay=0.01))
    term = launch()
    send_message(term, "go on for a while")
    term.wait_for_text(LONG_REPLY_START)
    for text in ("keep this one", "drop this one"):
        term.send(text)
        term.press("enter")
        term.wait_for_text(text)
    term.press("ctrl+up")  # the message list; the last view (a queued one) is selected
    term.wait_until(lambda s: "Copy" in footer(s), what="the message list's keys")
    term.press("delete")
    term.wait_until(lambda s: "drop this one" not in s, what="the cancelled one gone")
    term.press("up")  # the other queued message
    term.press("e")
    term.wait_until(
        lambda s: "queued:" not in s and "keep this one" in s and "Send" in footer(s),
        what="taken back into the prompt, which has the focus again",
    )
    term.press("escape")  # stops the reply; nothing was queued any more
    wait_for_state(term, "cancelled")
    assert len(server.chat_requests) == 1
    quit_app(term)


# --------------------------------------------------------------------------- regenerate, edit


def test_regenerate_and_edit_leave_no_ghost_reply(launch: Launch, server: OpenAIServer) -> None:
    server.queue(
        Reply.text("First try."),
        Reply.text("Second try.", delay=0.02),
        Reply.text("Answer to the edit.", delay=0.02),
    )
    term = launch()
    send_message(term, "hello there")
    term.wait_for_text("First try.")
    wait_for_state(term, "complete")
    term.press("ctrl+r")
    term.wait_for_text("Second try.")
    wait_for_state(term, "complete")
    # The finished reply's footer loses "streaming" a frame after the status bar.
    screen = term.wait_until(lambda s: message_footers(s) == [], what="no reply streaming")
    assert "First try." not in screen
    assert screen.count("gpt-4o-mini\n") <= 2  # one reply header (plus the sidebar row)

    term.press("ctrl+up")
    term.wait_until(lambda s: "Copy" in footer(s), what="the message list's keys")
    term.press("up")  # the user's message
    term.press("e")
    term.wait_for_text("Editing your message")
    term.send(" (edited)")
    term.press("enter")
    term.wait_for_text("Answer to the edit.")
    wait_for_state(term, "complete")
    screen = term.wait_until(lambda s: message_footers(s) == [], what="no reply streaming")
    assert "Second try." not in screen and "Editing your message" not in screen
    assert sent_texts(server)[-1] == "hello there (edited)"
    quit_app(term)


@pytest.mark.parametrize("columns", [120, 72])
def test_edit_mode_shows_on_the_prompt(launch: Launch, server: OpenAIServer, columns: int) -> None:
    term = launch(columns=columns, lines=30)
    for text in ("alpha question", "beta question"):
        send_message(term, text)
        term.wait_for_text(f"Echo: {text}")
        wait_for_state(term, "complete")
    term.send("a draft in progress")
    term.wait_for_text("a draft in progress")
    term.press("ctrl+up")
    term.wait_until(lambda s: "Copy" in footer(s), what="the message list's keys")
    term.press("up", "up", "up")  # reply, user message, reply -> the first user message
    term.press("e")
    screen = term.wait_until(
        lambda s: "Editing your message" in s and "3 later message(s) stay" in s,
        what="edit mode on the prompt",
    )
    assert "editing" in status_line(screen)
    term.wait_until(lambda s: "Cancel edit" in footer(s), what="the edit's keys in the footer")
    term.press("escape")  # cancels the edit; the draft comes back
    screen = term.wait_until(
        lambda s: "Editing your message" not in s and "a draft in progress" in s,
        what="edit cancelled and the draft back",
    )
    assert "editing" not in status_line(screen)
    # The footer no longer offers to cancel an edit that has ended.
    term.wait_until(lambda s: "Cancel edit" not in footer(s), timeout=5, what="footer updated")
    assert len(server.chat_requests) == 2
    quit_app(term)


# --------------------------------------------------------------------------- narrow terminals


def test_narrow_terminals_hide_the_sidebar_and_keep_the_state_visible(
    launch: Launch, server: OpenAIServer
) -> None:
    term = launch(columns=72, lines=22)
    screen = term.screen_text()
    assert "Filter (" not in screen  # the sidebar is hidden below 100 columns
    send_message(term, "narrow hello")
    term.wait_for_text("Echo: narrow hello")
    screen = wait_for_state(term, "complete")
    assert status_line(screen).startswith("complete · next ")
    term.press("f9")
    # The filter box can be drawn a frame before the rows under it.
    term.wait_until(
        lambda s: "Filter (" in s and "narrow hello" in sidebar_text(s), what="the sidebar"
    )
    term.press("f9")
    term.wait_until(lambda s: "Filter (" not in s, what="the sidebar hidden again")

    term.resize(60, 15)
    # Redrawn at 60 columns: the status line is cut from the right, with an ellipsis.
    screen = term.wait_until(
        lambda s: status_state(s) == "complete" and status_line(s).endswith("…"),
        what="the status bar redrawn at 60x15",
    )
    assert status_line(screen).startswith("complete · next ")
    term.resize(120, 40)
    term.wait_for_text("Filter (")  # wide again: the sidebar is back
    quit_app(term)


def test_ctrl_b_shows_a_hidden_sidebar_for_one_visit(launch: Launch, server: OpenAIServer) -> None:
    term = launch(columns=80, lines=24)
    for text in ("first chat", "second chat"):
        send_message(term, text)
        term.wait_for_text(f"Echo: {text}")
        wait_for_state(term, "complete")
        term.press("ctrl+n")
        term.wait_for_text("New conversation")
    term.press("ctrl+b")
    term.wait_until(lambda s: "Rename" in footer(s), what="the sidebar's keys")
    term.press("down", "enter")  # the older chat
    term.wait_until(
        lambda s: "Echo: first chat" in s and "Filter (" not in s,
        what="the older chat open and the sidebar hidden again",
    )
    quit_app(term)


# --------------------------------------------------------------------------- drafts


def test_a_new_chats_draft_is_listed_once_and_survives_kill_9(
    launch: Launch, server: OpenAIServer, data_dir: Path
) -> None:
    term = launch()
    term.press("ctrl+n")
    term.send("half a thought about lighthouses")
    term.wait_until(
        lambda s: "half a thought about" in sidebar_text(s) and "draft" in sidebar_text(s),
        what="the draft's sidebar row",
    )
    wait_for(lambda: conversation_files(data_dir), 10, "the draft saved to disk")
    term.press("ctrl+n")
    term.wait_until(
        lambda s: "New conversation" in s and "half a thought" not in "\n".join(pane_rows(s)[-6:]),
        what="a second new chat with an empty prompt",
    )
    term.send("another unsent idea")
    expected = ["another unsent idea", "half a thought about lighthouses"]

    def drafts() -> list[str]:
        found = (read_if_valid(p) for p in conversation_files(data_dir))
        return sorted(c["draft"] for c in found if c is not None)

    # Autosave runs a moment after typing stops: wait for it, then pull the plug.
    wait_for(lambda: drafts() == expected, 10, "both drafts saved in full")
    term.kill(signal.SIGKILL)
    term.wait_for_exit(10)
    assert drafts() == expected

    term = launch(wait_ready=False)
    screen = term.wait_for_text("half a thought about")
    assert screen.count("half a thought about") == 1, screen
    assert screen.count("another unsent idea") == 1, screen
    assert "New chat" not in sidebar_text(screen)
    term.press("ctrl+b")
    term.wait_until(lambda s: "Rename" in footer(s), what="the sidebar's keys")
    term.press("down", "enter")
    screen = term.wait_until(
        lambda s: "half a thought about lighthouses" in "\n".join(pane_rows(s)[-6:]),
        what="the draft back in the prompt",
    )
    quit_app(term)


def test_an_emptied_draft_chat_disappears(launch: Launch, data_dir: Path) -> None:
    term = launch()
    term.send("short lived")
    wait_for(lambda: conversation_files(data_dir), 10, "the draft saved")
    term.press(*["backspace"] * len("short lived"))
    wait_for(lambda: not conversation_files(data_dir), 10, "the empty draft's file removed")
    term.wait_until(lambda s: "short lived" not in s, what="its row gone")
    quit_app(term)
    assert not conversation_files(data_dir)


# --------------------------------------------------------------------------- the filter


def test_the_filter_works_like_a_picker(launch: Launch, server: OpenAIServer) -> None:
    term = launch()
    for text in ("topic one", "topic two", "other matter"):
        send_message(term, text)
        term.wait_for_text(f"Echo: {text}")
        wait_for_state(term, "complete")
        term.press("ctrl+n")
        term.wait_for_text("New conversation")
    term.press("ctrl+f")
    term.wait_until(lambda s: "Clear filter" in footer(s), what="the filter box's keys")
    term.send("topic")
    term.wait_until(
        lambda s: "other matter" not in sidebar_text(s) and "topic one" in sidebar_text(s),
        what="filtered",
    )
    term.press("down")  # from the filter box: the second match
    term.press("enter")
    term.wait_for_text("Echo: topic one")
    # Opening a result clears the filter (every chat is listed again) and the prompt
    # gets the focus.
    term.wait_until(
        lambda s: "other matter" in sidebar_text(s) and "Send" in footer(s),
        what="the whole list back and the prompt focused",
    )

    term.press("ctrl+f")
    term.wait_until(lambda s: "Clear filter" in footer(s), what="the filter box's keys")
    term.send("nothing matches this")
    term.wait_until(lambda s: "topic two" not in sidebar_text(s), what="no match")
    term.press("escape")  # clears the filter
    term.wait_until(lambda s: "topic two" in s and "other matter" in s, what="the full list")
    term.press("escape")  # an empty filter box: back to the prompt
    term.wait_until(lambda s: "Send" in footer(s), what="the prompt's keys")

    # A chat created while a filter is applied is not hidden by it.
    term.press("ctrl+f")
    term.wait_until(lambda s: "Clear filter" in footer(s), what="the filter box's keys")
    term.send("topic")
    term.wait_until(lambda s: "other matter" not in sidebar_text(s), what="filtered")
    term.press("ctrl+n")  # a new chat, the filter still applied
    term.wait_until(lambda s: "Send" in footer(s), what="the prompt's keys")
    send_message(term, "brand new chat")
    term.wait_for_text("Echo: brand new chat")
    term.wait_until(lambda s: "brand new chat" in sidebar_text(s), what="the new chat listed")
    quit_app(term)


# --------------------------------------------------------------------------- small ones


def test_deleting_the_last_reply_clears_its_figures_and_dialogs_name_their_keys(
    launch: Launch, server: OpenAIServer
) -> None:
    term = launch()
    send_message(term, "count for me")
    term.wait_for_text("Echo: count for me")
    screen = wait_for_state(term, "complete")
    assert "TTFT" in status_line(screen)
    term.press("ctrl+up")
    term.wait_until(lambda s: "Copy" in footer(s), what="the message list's keys")
    term.press("delete")
    screen = term.wait_until(
        lambda s: "Delete this reply?" in s and "Cancel (Esc / N)" in s, what="the dialog"
    )
    assert "Delete (Y)" in screen
    term.press("y")
    screen = term.wait_until(
        lambda s: "Echo: count for me" not in s and status_state(s) == "idle",
        what="the reply and its figures gone",
    )
    assert "TTFT" not in status_line(screen)
    quit_app(term)


def test_f4_without_profiles_names_the_config_file(launch: Launch, tmp_path: Path) -> None:
    term = launch()
    term.press("f4")
    term.wait_until(
        lambda s: "No provider profiles yet" in s and "config.toml" in s.replace("\n", ""),
        what="the notification naming the config file",
    )
    quit_app(term)


def test_a_reply_in_one_burst_shows_no_speed(launch: Launch, server: OpenAIServer) -> None:
    # Two chunks microseconds apart: dividing by that gap gave absurd speeds.
    server.queue(Reply(content=["All of it ", "at once."]))
    term = launch()
    send_message(term, "quick")
    term.wait_for_text("All of it at once.")
    screen = wait_for_state(term, "complete")
    assert "– tok/s" in status_line(screen)
    assert "tok/s" not in "\n".join(pane_rows(screen)[:-4])  # nothing under the reply
    quit_app(term)
