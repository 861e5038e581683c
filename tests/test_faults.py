"""Faults through the real app and the real SDK: retries, cuts, stalls, errors, secrets."""

from __future__ import annotations

import json
import logging

import pytest

from conftest import wait_until
from helpers import current, finished, footer_text, screen_text, send
from llmchat_tui.generation import State
from openai_server import Reply

SECRET = "sk-test-SECRET-0123456789abcdef"


def saved(data_dir):
    (path,) = (data_dir / "conversations").glob("*.json")
    return json.loads(path.read_text())


def saved_messages(data_dir):
    return saved(data_dir)["messages"]


# -- retries -------------------------------------------------------------------


async def test_rate_limit_is_retried_visibly_honouring_retry_after(make_app, server):
    server.queue(Reply(status=429, headers={"Retry-After": "1"}, repeat=2))
    server.queue(Reply.text("Finally."))
    app = make_app(retry_attempts=4, retry_base=0.05, retry_cap=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = current(app)
        await wait_until(pilot, lambda: gen.state is State.RETRYING, what="retrying")
        status = app.chat.status.build().plain
        assert "rate limited · retry 1/4 in 1 s" in status
        gen = await finished(pilot)
        assert gen.state is State.COMPLETE
        assert "Finally." in screen_text(app)
    assert len(server.chat_requests) == 3
    first, second = server.chat_requests[0].time, server.chat_requests[1].time
    assert second - first >= 0.9  # Retry-After: 1 was honoured


async def test_server_errors_are_retried_then_reported(make_app, server, data_dir):
    server.queue(Reply(status=503, repeat=3))
    app = make_app(retry_attempts=2, retry_base=0.01, retry_cap=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = await finished(pilot)
        assert gen.state is State.ERROR
        assert "Server error 503" in footer_text(app)
        assert "error" in app.chat.status.build().plain
    assert len(server.chat_requests) == 3  # one try and two retries
    user, reply = saved_messages(data_dir)
    assert user["content"] == "Hi" and reply["status"] == "error"


async def test_escape_cancels_a_retry_wait(make_app, server):
    server.queue(Reply(status=429, headers={"Retry-After": "30"}))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = current(app)
        await wait_until(pilot, lambda: gen.state is State.RETRYING)
        await pilot.press("escape")
        await wait_until(pilot, lambda: gen.state is State.CANCELLED)
    assert len(server.chat_requests) == 1


# -- mid-stream failures --------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "kind", "shown"),
    [
        (
            Reply(content=["a ", "b ", "c ", "d "], cut_after=2, chunked=True),
            "connection_lost",
            "connection lost after",
        ),
        (
            Reply(content=["a ", "b ", "c ", "d "], cut_after=2),
            "cut",
            "stream cut without a finish reason after",
        ),
        (
            Reply(content=["a ", "b ", "c ", "d "], error_event_after=2),
            "stream_error",
            "The server had an error while processing your request.",
        ),
        (
            Reply(content=["a ", "b ", "c ", "d "], malformed_after=2),
            "malformed",
            "malformed data from the server after",
        ),
    ],
    ids=["connection-lost", "no-finish-reason", "error-event", "malformed-sse"],
)
async def test_mid_stream_failures_keep_the_partial_reply(
    make_app, server, data_dir, reply, kind, shown
):
    server.queue(reply)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = await finished(pilot)
        assert gen.state is State.ERROR and gen.cause.kind == kind
        assert "a b" in screen_text(app)
        assert shown in footer_text(app)
    assert len(server.chat_requests) == 1  # never retried silently: it would duplicate text
    reply_saved = saved_messages(data_dir)[1]
    assert reply_saved["status"] == "error"
    assert reply_saved["content"] == "a b "


async def test_regenerate_answers_again_and_keeps_the_failed_reply(make_app, server, data_dir):
    server.queue(Reply(content=["half ", "a reply"], cut_after=1), Reply.text("Whole reply."))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Question")
        await finished(pilot)
        await pilot.press("ctrl+r")
        gen = await finished(pilot)
        assert gen.state is State.COMPLETE
        text = screen_text(app)
        assert "Whole reply." in text and "half" not in text
    assert server.chat_requests[1].body["messages"] == [{"role": "user", "content": "Question"}]
    question, failed, whole = saved_messages(data_dir)
    assert (question["content"], failed["content"], whole["content"]) == (
        "Question",
        "half ",
        "Whole reply.",
    )
    # Both replies answer the question: siblings, the new one on screen.
    assert failed["parent_id"] == whole["parent_id"] == question["id"]
    assert failed["status"] == "error" and whole["status"] == "complete"
    assert saved(data_dir)["current_id"] == whole["id"]


async def test_continue_sends_the_partial_reply_and_an_instruction(make_app, server, data_dir):
    server.queue(Reply(content=["The first ", "half"], cut_after=2), Reply.text(" and the rest."))
    server.queue(Reply.text("ok"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Tell me")
        await finished(pilot)
        await pilot.press("ctrl+g")
        gen = await finished(pilot)
        assert gen.state is State.COMPLETE
        assert "and the rest." in screen_text(app)
        await send(pilot, "thanks")
        await finished(pilot)
    again = server.chat_requests[1].body["messages"]
    assert again[1] == {"role": "assistant", "content": "The first half"}
    assert again[2]["role"] == "user" and "Continue" in again[2]["content"]
    # Later requests see one joined reply, and no instruction.
    later = server.chat_requests[2].body["messages"]
    assert later[1] == {"role": "assistant", "content": "The first half and the rest."}
    assert [m["role"] for m in later] == ["user", "assistant", "user"]
    # One reply on disk too: continuing extended it, with one set of figures.
    messages = saved_messages(data_dir)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    reply = messages[1]
    assert reply["content"] == "The first half and the rest." and reply["status"] == "complete"
    assert reply["usage"]["completion_tokens"] >= 3


async def test_a_stall_stops_the_reply_and_the_next_message_works(make_app, server, data_dir):
    server.queue(
        Reply(content=["slow ", "start ", "then ", "nothing"], stall_after=2),
        Reply.text("Fresh answer."),
    )
    app = make_app(stall_timeout=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = await finished(pilot)
        assert gen.cause.kind == "stalled"
        assert "stalled: no data for 1 s after" in footer_text(app)
        await send(pilot, "again")
        gen = await finished(pilot)
        assert "Fresh answer." in screen_text(app)
    assert saved_messages(data_dir)[1]["content"] == "slow start "


async def test_escape_works_during_a_stall(make_app, server):
    server.queue(Reply(content=["a ", "b ", "c"], stall_after=1))
    app = make_app(stall_timeout=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = current(app)
        await wait_until(pilot, lambda: gen.parts)
        await pilot.press("escape")
        await wait_until(pilot, lambda: gen.state is State.CANCELLED)
        await wait_until(pilot, lambda: server.streams[0].client_disconnected)


# -- errors that say what to do ---------------------------------------------------


async def test_bad_key_names_where_the_key_comes_from(make_app, server):
    server.queue(Reply(status=401, body={"error": {"message": "Incorrect API key provided."}}))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = await finished(pilot)
        assert gen.cause.kind == "auth"
        text = footer_text(app)
        assert "rejected the API key (401)" in text
        assert "check api_key in the config file" in text  # where this key came from
    assert len(server.chat_requests) == 1  # not retried


async def test_unknown_model_lists_the_servers_models(make_app, server):
    server.models = ["llama3.2", "qwen2.5:7b"]
    server.queue(Reply(status=404, body={"error": {"message": "model 'nope' not found"}}))
    app = make_app(model="nope")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = await finished(pilot)
        assert gen.cause.kind == "not_found"
        assert "this server has: llama3.2, qwen2.5:7b" in gen.cause.text
        assert "Model 'nope' not found" in footer_text(app)


async def test_context_length_error_says_tokens_sent_and_limit(make_app, server):
    server.queue(
        Reply(
            status=400,
            body={
                "error": {
                    "message": "This model's maximum context length is 8192 tokens. However, your "
                    "messages resulted in 9000 tokens.",
                    "code": "context_length_exceeded",
                }
            },
        )
    )
    app = make_app(model="gpt-4")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(
            pilot,
            lambda: (
                "next " in app.chat.status.build().plain
                and "–" not in app.chat.status.build().plain.split("next")[-1]
            ),
        )
        await send(pilot, "Hi")
        gen = await finished(pilot)
        assert gen.cause.kind == "context_length"
        assert "limit 8,192" in gen.cause.message
        assert "tokens sent" in gen.cause.message


async def test_html_error_page_from_a_proxy(make_app, server):
    server.queue(
        Reply(
            status=502,
            content_type="text/html",
            body="<html><head><title>502 Bad Gateway</title></head></html>",
            repeat=10,
        )
    )
    app = make_app(retry_attempts=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = await finished(pilot)
        assert gen.cause.kind == "proxy"
        assert "non-JSON page: 502 Bad Gateway" in footer_text(app)


async def test_connection_refused_names_the_url(make_app, server):
    url = server.base_url
    app = make_app(retry_attempts=0)
    server.stop()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = await finished(pilot)
        assert gen.cause.kind == "connection_refused"
        assert f"Connection refused by {url}" in gen.cause.text
        assert app.is_running


# -- secrets ---------------------------------------------------------------------


async def test_the_api_key_never_reaches_screen_files_or_log(
    make_app, server, data_dir, tmp_path, caplog
):
    from llmchat_tui.logs import RedactSecret

    caplog.handler.addFilter(RedactSecret(SECRET))
    caplog.set_level(logging.INFO)
    server.queue(
        Reply(status=401, body={"error": {"message": f"Incorrect API key provided: {SECRET}."}})
    )
    app = make_app(retry_attempts=0, api_key=SECRET)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = await finished(pilot)
        # The key really was sent, and the server echoed it back in its error.
        assert server.chat_requests[0].headers["authorization"] == f"Bearer {SECRET}"
        text = screen_text(app)
        assert "[redacted API key]" in footer_text(app)
        assert SECRET not in text and SECRET not in footer_text(app)
        assert SECRET not in app.chat.status.build().plain
        assert SECRET not in gen.cause.detail
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    assert SECRET not in caplog.text


# -- big inputs --------------------------------------------------------------------


async def test_a_megabyte_paste_is_sent_whole(make_app, server):
    from textual import events

    big = ("All work and no play makes Jack a dull boy.\n" * 24000)[:1_000_000]
    server.queue(Reply.text("Received."))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.chat.prompt.focus()
        await pilot.pause()
        app.chat.prompt.post_message(events.Paste(big))
        await wait_until(pilot, lambda: "⟦pasted #1: 1,000,000 characters⟧" in app.chat.prompt.text)
        # The UI stays responsive: typing around the paste is ordinary editing.
        await pilot.press(*"see:", "space")
        await wait_until(
            pilot,
            lambda: (app.chat.status.prompt_tokens or 0) > 100_000,
            what="estimate of the paste",
        )
        await pilot.press("enter")
        gen = await finished(pilot, timeout=30)
        assert gen.state is State.COMPLETE
    assert server.chat_requests[0].body["messages"][-1]["content"] == big + "see: "
