"""The chat core through the real app: streaming, stop, multi-turn, status bar."""

from __future__ import annotations

import json

from conftest import wait_until
from helpers import finished, screen_text, send, type_text
from llmchat_tui.generation import State
from openai_server import Reply


async def test_streamed_reply_is_rendered_and_saved(make_app, server, data_dir):
    server.queue(
        Reply.text(
            "Hello **there**, here is a list:\n\n- one\n- two\n",
            usage={"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30},
        )
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "Say hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "two" in screen_text(app), what="reply on screen")
        gen = app.session.generation(app.chat.conversation.id)
        await wait_until(pilot, lambda: gen.state is State.COMPLETE)
        text = screen_text(app)
        assert "Hello there, here is a list:" in text  # Markdown rendered: no asterisks
        assert "• one" in text or "one" in text
        body = server.chat_requests[0].body
        assert body["messages"] == [{"role": "user", "content": "Say hello"}]
        assert body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        await pilot.press("ctrl+q")
    files = list((data_dir / "conversations").glob("*.json"))
    assert len(files) == 1
    saved = json.loads(files[0].read_text())
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]
    reply = saved["messages"][1]
    assert reply["status"] == "complete"
    assert reply["content"].startswith("Hello **there**")
    assert reply["usage"] == {"prompt_tokens": 21, "completion_tokens": 9, "source": "server"}


def saved_conversation(data_dir):
    files = list((data_dir / "conversations").glob("*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


async def test_second_request_carries_first_exchange_and_system_prompt(make_app, server):
    server.queue(Reply.text("Paris is the capital."), Reply.text("About 2.1 million."))
    app = make_app(system_prompt="Answer briefly.")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Capital of France?")
        await finished(pilot)
        await send(pilot, "Population?")
        await finished(pilot)
        assert "About 2.1 million." in screen_text(app)
    first, second = server.chat_requests
    assert first.body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert second.body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris is the capital."},
        {"role": "user", "content": "Population?"},
    ]


async def test_escape_stops_the_stream_and_keeps_the_partial_reply(make_app, server, data_dir):
    server.queue(Reply.tokens(3000, delay=0.01), Reply.text("Second answer."))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Tell me a long story")
        gen = app.session.generation(app.chat.conversation.id)
        await wait_until(pilot, lambda: len(gen.parts) > 20, what="some tokens")
        await pilot.press("escape")
        await wait_until(pilot, lambda: gen.state is State.CANCELLED, what="cancelled")
        partial = gen.text()
        assert partial and len(gen.parts) < 3000
        # The HTTP stream was closed: the server saw the client go away.
        await wait_until(pilot, lambda: server.streams[0].client_disconnected, what="disconnect")
        await pilot.pause()
        assert "cancelled" in screen_text(app)
        assert "cancelled" in app.chat.status.build().plain
        # The prompt works at once, and the history keeps the partial reply.
        await send(pilot, "Go on")
        await finished(pilot)
        assert "Second answer." in screen_text(app)
    second = server.chat_requests[1].body["messages"]
    assert second[1] == {"role": "assistant", "content": partial}
    saved = saved_conversation(data_dir)
    assert saved["messages"][1]["status"] == "cancelled"
    assert saved["messages"][1]["content"] == partial
    assert saved["messages"][3]["status"] == "complete"


async def test_status_bar_shows_figures_from_the_script(make_app, server):
    server.queue(
        Reply.text(
            "one two three four five six",
            first_delay=0.3,
            usage={"prompt_tokens": 42, "completion_tokens": 6, "total_tokens": 48},
        )
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Count")
        gen = await finished(pilot)
        status = app.chat.status.build().plain
        assert gen.ttft is not None and gen.ttft >= 0.3
        assert f"TTFT {gen.ttft:.2f}s" in status
        assert "complete" in status
        assert "out 6" in status  # the server's figure, not an estimate
        assert "in 42" in status and "in ≈" not in status and "out ≈" not in status
        assert "tok/s" in status
        message = gen.message
        assert message.usage.source == "server"
        assert message.usage.completion_tokens == 6


async def test_estimates_are_marked_until_the_server_reports(make_app, server):
    server.queue(Reply.text("alpha beta gamma", send_usage=False))
    app = make_app(model="llama3.2")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "next ≈" in app.chat.status.build().plain, what="estimate")
        await send(pilot, "Hi")
        gen = await finished(pilot)
        status = app.chat.status.build().plain
        assert "out ≈" in status  # estimated: no usage chunk
        assert gen.message.usage.source == "estimate"
        assert gen.message.usage.completion_tokens >= 3


async def test_stream_options_can_be_turned_off(make_app, server):
    app = make_app(stream_usage=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        await finished(pilot)
    assert "stream_options" not in server.chat_requests[0].body


async def test_a_server_rejecting_stream_options_is_asked_again_without(make_app, server):
    server.queue(
        Reply(
            status=400,
            body={
                "error": {
                    "message": "Unrecognized request argument supplied: stream_options",
                    "type": "invalid_request_error",
                }
            },
        )
    )
    server.queue(Reply.text("Fine without usage."))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        await finished(pilot)
        assert "Fine without usage." in screen_text(app)
    assert "stream_options" in server.chat_requests[0].body
    assert "stream_options" not in server.chat_requests[1].body


async def test_cut_stream_is_reported_and_the_partial_reply_kept(make_app, server, data_dir):
    server.queue(Reply(content=["Partial ", "answer ", "here ", "and more"], cut_after=3))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Hi")
        gen = await finished(pilot)
        assert gen.state is State.ERROR
        assert gen.cause.kind == "cut"
        text = screen_text(app)
        assert "Partial answer here" in text
        assert "stream cut without a finish reason" in text
    saved = saved_conversation(data_dir)["messages"][1]
    assert saved["status"] == "error"
    assert saved["content"] == "Partial answer here "
    assert "stream cut" in saved["error"]


async def test_reasoning_is_shown_and_saved_but_not_sent_back(make_app, server, data_dir):
    server.queue(
        Reply(
            reasoning=["Let me ", "think."],
            content=["The answer ", "is 4."],
            reasoning_field="reasoning",
        )
    )
    server.queue(Reply.text("ok"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "2+2?")
        await finished(pilot)
        text = screen_text(app)
        # Collapsed and dimmed above the answer until the user expands it.
        assert "Reasoning (13 characters)" in text and "The answer is 4." in text
        assert "Let me think." not in text
        await pilot.click(".reasoning CollapsibleTitle")
        await wait_until(pilot, lambda: "Let me think." in screen_text(app), what="expanded")
        await send(pilot, "thanks")
        await finished(pilot)
    assert server.chat_requests[1].body["messages"][1] == {
        "role": "assistant",
        "content": "The answer is 4.",
    }
    assert saved_conversation(data_dir)["messages"][1]["reasoning"] == "Let me think."


async def test_empty_message_is_not_sent(make_app, server):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "   \n  ")
        await pilot.pause()
        assert not app.chat.conversation.messages
    assert server.chat_requests == []


async def test_enter_sends_every_typed_character(make_app, server):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.chat.prompt.focus()
        await pilot.press(*"lighthouses", "enter")
        await finished(pilot)
        await pilot.press(*"two", "ctrl+j", *"lines", "enter")
        await finished(pilot)
    assert server.chat_requests[0].body["messages"][-1]["content"] == "lighthouses"
    assert server.chat_requests[1].body["messages"][-1]["content"] == "two\nlines"


async def test_a_network_error_never_exits_the_app(make_app, server):
    app = make_app()
    server.stop()  # nothing listens any more: connection refused
    app.session.client.stall_timeout = 2
    async with app.run_test(size=(120, 40)) as pilot:
        app.session.generation  # noqa: B018
        await send(pilot, "Hello?")
        gen = app.session.generation(app.chat.conversation.id)
        gen.retry = type(gen.retry)(attempts=0)
        await finished(pilot)
        assert gen.state is State.ERROR
        assert "Connection refused" in screen_text(app)
        assert app.is_running
        assert app.chat.prompt.text == ""  # the message itself is kept in the conversation
        assert app.chat.conversation.messages[0].content == "Hello?"
