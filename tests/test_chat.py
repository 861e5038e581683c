"""The chat core through the real app: streaming, stop, multi-turn, status bar."""

from __future__ import annotations

import json

from conftest import wait_until
from helpers import screen_text, type_text
from openai_server import Reply

from llmchat_tui.generation import State


async def test_streamed_reply_is_rendered_and_saved(make_app, server, data_dir):
    server.queue(Reply.text("Hello **there**, here is a list:\n\n- one\n- two\n",
                            usage={"prompt_tokens": 21, "completion_tokens": 9,
                                   "total_tokens": 30}))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "Say hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "two" in screen_text(app), what="reply on screen")
        gen = app.session.generation(app.conversation.id)
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
