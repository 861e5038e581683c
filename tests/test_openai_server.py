"""Tests for the scripted OpenAI-compatible test server, driven by the real ``openai`` SDK."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from openai_server import (
    OpenAIServer,
    Reply,
    demo_reply_factory,
    last_user_text,
    split_words,
)

MESSAGES: Any = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello there"},
]


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv
    assert srv.errors == [], "".join(srv.errors)


@pytest.fixture
def client(server: OpenAIServer) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)


async def collect(client: AsyncOpenAI, **kw: Any) -> list[Any]:
    """Stream one completion and return all chunks."""
    stream = await client.chat.completions.create(
        model=kw.pop("model", "test-model"),
        messages=kw.pop("messages", MESSAGES),
        stream=True,
        **kw,
    )
    return [chunk async for chunk in stream]


def content_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def finish_reasons(chunks: list[Any]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


async def poll(predicate: Any, timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until true or the deadline passes (short sleeps only)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return bool(predicate())


# ---------------------------------------------------------------------- streaming


async def test_stream_with_usage(server: OpenAIServer, client: AsyncOpenAI) -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    server.queue(Reply(content=["Hel", "lo", " world"], usage=usage))
    chunks = await collect(client, stream_options={"include_usage": True})
    assert content_of(chunks) == "Hello world"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].model == "test-model"
    assert finish_reasons(chunks) == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None and last.usage.model_dump(exclude_none=True) == usage
    assert all(c.usage is None for c in chunks[:-1])
    record = server.streams[0]
    assert record.finished.wait(5)
    assert record.done_sent and not record.client_disconnected
    assert record.content_sent == 3 and record.chunks_sent == 5


async def test_stream_without_usage(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("Hello world", usage={"prompt_tokens": 1}))
    chunks = await collect(client)
    assert content_of(chunks) == "Hello world"
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


async def test_usage_computed_in_last_chunk(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("a b c", usage_in_last_chunk=True))
    chunks = await collect(client, stream_options={"include_usage": True})
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.usage is not None and last.usage.completion_tokens == 3
    assert last.usage.total_tokens == last.usage.prompt_tokens + 3


async def test_send_usage_false(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("x", send_usage=False))
    chunks = await collect(client, stream_options={"include_usage": True})
    assert all(c.usage is None for c in chunks)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_field(server: OpenAIServer, client: AsyncOpenAI, field: str) -> None:
    server.queue(Reply(reasoning=["Let me ", "think."], content=["Done."], reasoning_field=field))
    chunks = await collect(client)
    reasoning = "".join(getattr(c.choices[0].delta, field, None) or "" for c in chunks)
    assert reasoning == "Let me think."
    assert chunks[0].choices[0].delta.role == "assistant"
    assert getattr(chunks[0].choices[0].delta, field) == "Let me "
    # Reasoning strictly precedes content.
    first_content = next(i for i, c in enumerate(chunks) if c.choices[0].delta.content)
    assert first_content == 2
    assert content_of(chunks) == "Done."


async def test_cut_after(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("one two three four", cut_after=2))
    chunks = await collect(client)  # the SDK stream just ends
    assert content_of(chunks) == "one two "
    assert finish_reasons(chunks) == []
    record = server.streams[0]
    assert record.finished.wait(5)
    assert record.fault == "cut" and not record.done_sent and record.content_sent == 2


async def test_cut_after_chunked_is_connection_error(
    server: OpenAIServer, client: AsyncOpenAI
) -> None:
    server.queue(Reply.text("one two three", cut_after=1, chunked=True))
    seen: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        seen.extend(await collect(client))


async def test_chunked_stream_completes(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("all fine here", chunked=True))
    chunks = await collect(client)
    assert content_of(chunks) == "all fine here"
    assert finish_reasons(chunks) == ["stop"]


async def test_finish_reason_none_still_done(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("no finish", finish_reason=None))
    chunks = await collect(client)
    assert content_of(chunks) == "no finish"
    assert finish_reasons(chunks) == []
    assert server.streams[0].finished.wait(5)
    assert server.streams[0].done_sent


async def test_finish_reason_length(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("truncated", finish_reason="length"))
    assert finish_reasons(await collect(client)) == ["length"]


async def test_empty_reply_still_has_role_chunk(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply())
    chunks = await collect(client)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert content_of(chunks) == ""
    assert finish_reasons(chunks) == ["stop"]


async def test_error_event(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("partial answer here", error_event_after=1))
    seen: list[Any] = []
    with pytest.raises(openai.APIError, match="server had an error"):
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        async for chunk in stream:
            seen.append(chunk)
    assert content_of(seen) == "partial "
    assert server.streams[0].fault == "error_event"


async def test_malformed_event(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("a b c", malformed_after=2))
    with pytest.raises(ValueError):  # json.JSONDecodeError
        await collect(client)
    assert server.streams[0].fault == "malformed"


async def test_stall_then_end_normally(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("before after", stall_after=1, stall_seconds=0.3))
    start = time.monotonic()
    chunks = await collect(client)
    assert time.monotonic() - start >= 0.3
    assert content_of(chunks) == "before after"
    assert finish_reasons(chunks) == ["stop"]


async def test_first_delay_and_delay(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("a b c d", first_delay=0.2, delay=0.05))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    start = time.monotonic()
    times = [time.monotonic() - start async for _ in stream]
    assert times[0] >= 0.15
    assert times[-1] - times[0] >= 0.15  # 4 more chunks (3 content + finish) at 0.05 s


async def test_headers_delay(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("late", headers_delay=0.2))
    start = time.monotonic()
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert time.monotonic() - start >= 0.15
    assert content_of([c async for c in stream]) == "late"


async def test_concurrent_streams(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.default_reply = lambda rec: Reply.text(last_user_text(rec.body), delay=0.01)
    texts = [f"stream number {i} says hi" for i in range(20)]
    results = await asyncio.gather(
        *(collect(client, messages=[{"role": "user", "content": t}]) for t in texts)
    )
    assert [content_of(chunks) for chunks in results] == texts
    assert len(server.streams) == 20
    assert all(r.finished.wait(5) and r.done_sent for r in server.streams)


async def test_close_early_marks_client_disconnected(
    server: OpenAIServer, client: AsyncOpenAI
) -> None:
    server.queue(Reply.tokens(200, delay=0.1))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    got = []
    async for chunk in stream:
        got.append(chunk)
        if len(got) == 2:
            break
    await stream.close()
    record = server.streams[0]
    assert await poll(lambda: record.client_disconnected, timeout=5)
    assert await poll(record.finished.is_set, timeout=5)
    assert record.content_sent < 200 and not record.done_sent


async def test_close_during_stall_detected(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.text("a b c", stall_after=1))  # stalls for an hour
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    first = await stream.__anext__()
    assert first.choices[0].delta.content == "a "
    await stream.close()
    record = server.streams[0]
    assert await poll(record.finished.is_set, timeout=5)
    assert record.client_disconnected


def test_stop_is_not_held_up_by_a_stall() -> None:
    srv = OpenAIServer().start()
    srv.queue(Reply.text("a b", stall_after=1, stall_seconds=3600))
    sync = OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
    stream = sync.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert next(iter(stream)).choices[0].delta.content == "a "
    start = time.monotonic()
    srv.stop()
    assert time.monotonic() - start < 2
    record = srv.streams[0]
    assert record.finished.wait(2)
    assert record.aborted_by_server
    stream.close()


# ---------------------------------------------------------------------- HTTP errors


async def test_rate_limit_with_retry_after(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply(status=429, headers={"Retry-After": "1"}, repeat=2))
    server.queue(Reply.text("finally"))
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as info:
            await collect(client)
        assert info.value.status_code == 429
        assert info.value.response.headers["retry-after"] == "1"
        assert info.value.response.json()["error"]["type"] == "rate_limit_error"
    assert content_of(await collect(client)) == "finally"
    assert len(server.chat_requests) == 3
    assert server.pending == 0


async def test_html_error_body(server: OpenAIServer, client: AsyncOpenAI) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    server.queue(Reply(status=502, body=html, content_type="text/html"))
    with pytest.raises(openai.InternalServerError) as info:
        await collect(client)
    assert info.value.status_code == 502
    assert info.value.response.headers["content-type"] == "text/html"
    assert info.value.response.text == html


async def test_dict_error_body(server: OpenAIServer, client: AsyncOpenAI) -> None:
    body = {"error": {"message": "bad key", "type": "invalid_request_error", "code": "x"}}
    server.queue(Reply(status=401, body=body))
    with pytest.raises(openai.AuthenticationError, match="bad key"):
        await collect(client)


async def test_http_error_helper(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.queue(Reply.http_error(503, "overloaded", retry_after=3))
    with pytest.raises(openai.InternalServerError, match="overloaded") as info:
        await collect(client)
    assert info.value.response.headers["retry-after"] == "3"


# ---------------------------------------------------------------------- recording


async def test_request_recorded(server: OpenAIServer, client: AsyncOpenAI) -> None:
    await collect(client, model="gpt-4o-mini", temperature=0.5)
    assert server.wait_for_requests(1, timeout=1)
    rec = server.chat_requests[0]
    assert rec.method == "POST" and rec.path == "/v1/chat/completions"
    assert rec.body["messages"] == MESSAGES
    assert rec.messages == MESSAGES
    assert rec.body["model"] == "gpt-4o-mini"
    assert rec.body["stream"] is True and rec.body["temperature"] == 0.5
    assert rec.headers["Authorization"] == "Bearer test"
    assert rec.headers.get("content-type") == "application/json"
    assert rec.stream is server.streams[0]


async def test_default_reply_echoes(server: OpenAIServer, client: AsyncOpenAI) -> None:
    chunks = await collect(client)
    assert content_of(chunks) == "Echo: hello there"
    assert len(chunks) > 2  # word deltas


async def test_callable_replies(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.default_reply = lambda rec: Reply.text(rec.body["model"].upper())
    server.queue(lambda rec: Reply.text(f"{len(rec.messages)} messages"))
    assert content_of(await collect(client)) == "2 messages"
    assert content_of(await collect(client, model="abc")) == "ABC"


def test_wait_for_requests_times_out() -> None:
    with OpenAIServer() as srv:
        assert srv.wait_for_requests(1, timeout=0.05) is False
        assert srv.wait_for_streams(1, timeout=0.05) is False


# ---------------------------------------------------------------------- non-stream, models


async def test_non_stream_completion(server: OpenAIServer, client: AsyncOpenAI) -> None:
    server.completion_reply = Reply(content=["Hi", " there"], reasoning=["hmm"])
    resp = await client.chat.completions.create(model="test-model", messages=MESSAGES)
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.content == "Hi there"
    assert resp.choices[0].message.role == "assistant"
    assert getattr(resp.choices[0].message, "reasoning_content", None) == "hmm"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == 3
    assert server.streams == []
    assert server.chat_requests == [] and len(server.title_requests) == 1


async def test_non_streamed_requests_get_501_unless_a_reply_is_set(
    server: OpenAIServer, client: AsyncOpenAI
) -> None:
    server.queue(Reply.text("for the stream"))
    with pytest.raises(openai.APIStatusError) as failed:
        await client.chat.completions.create(model="m", messages=MESSAGES)
    assert failed.value.status_code == 501
    assert "".join(c.choices[0].delta.content or "" for c in await collect(client)) == (
        "for the stream"
    )


def test_sync_client_stream(server: OpenAIServer) -> None:
    server.queue(Reply.text("sync works"))
    sync = OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    stream = sync.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "sync works"


async def test_models_endpoint(server: OpenAIServer, client: AsyncOpenAI) -> None:
    page = await client.models.list()
    assert [m.id for m in page.data] == ["test-model", "gpt-4o-mini"]
    assert page.data[0].owned_by == "test"
    server.models = ["only-one"]
    assert [m.id async for m in client.models.list()] == ["only-one"]
    server.models_status = 500
    with pytest.raises(openai.InternalServerError):
        await client.models.list()


def test_unknown_path_is_404_json(server: OpenAIServer) -> None:
    req = urllib.request.Request(server.base_url + "/nope", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 404
    body = json.loads(info.value.read())
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] is None


def test_bad_json_body_is_400(server: OpenAIServer) -> None:
    req = urllib.request.Request(
        server.base_url + "/chat/completions", data=b"{nope", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 400
    assert server.requests[0].raw == b"{nope"


# ---------------------------------------------------------------------- helpers


def test_reply_text_keeps_whitespace() -> None:
    text = "  Hello,  world!\n\nNew   paragraph.\n"
    assert "".join(Reply.text(text).content) == text
    assert Reply.text("a b c d e", words_per_chunk=2).content == ["a b ", "c d ", "e"]
    assert split_words("") == [] and split_words("   ") == ["   "]
    assert Reply.text("x", delay=0.5).delay == 0.5


def test_reply_tokens() -> None:
    reply = Reply.tokens(500, delay=0.01)
    assert len(reply.content) == 500 and reply.delay == 0.01
    assert all(0 < len(piece) < 20 for piece in reply.content)


def test_demo_reply_factory() -> None:
    build = demo_reply_factory(0.02, 0.3)

    def rec(text: str) -> Any:
        return type("R", (), {"body": {"messages": [{"role": "user", "content": text}]}})()

    normal = build(rec("hi"))
    assert "```python" in normal.text_content and "| Setting" in normal.text_content
    assert normal.delay == 0.02 and normal.first_delay == 0.3 and normal.cut_after is None
    assert len(build(rec("something long please")).text_content.split()) >= 2000
    assert build(rec("please cut it")).cut_after == 20
    assert build(rec("think first")).reasoning
    assert build(rec("error")).status == 500
    model_b = type("R", (), {"body": {"model": "b-broken", "messages": []}})()
    assert build(model_b).status == 500
