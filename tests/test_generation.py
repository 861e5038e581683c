"""One reply without any UI: the real Generation, ChatClient and ChatSession over
real HTTP to the loopback server. Nothing here imports Textual."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from conftest import eventually
from llmchat_tui import tokens
from llmchat_tui.config import Settings
from llmchat_tui.generation import Generation, RetryPolicy, State, TokenCount
from llmchat_tui.llm import ChatClient
from llmchat_tui.models import Conversation, Message, Status, Usage
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Store
from llmchat_tui.tee import Tee
from openai_server import OpenAIServer, Reply

HELLO = ["Hello", " world", "!", " How", " are", " you", "?"]  # one o200k token each


@pytest.fixture(scope="module", autouse=True)
def encodings_loaded() -> None:
    """Token estimates are exact counts, not one-per-chunk guesses, in these tests."""
    tokens.get_encoding("o200k_base")


@pytest.fixture
async def make_client(server: OpenAIServer) -> AsyncIterator[Callable[..., ChatClient]]:
    """Real ChatClients against the loopback server, closed after the test."""
    made: list[ChatClient] = []

    def build(**kw: Any) -> ChatClient:
        client = ChatClient(base_url=server.base_url, api_key="test-key", **kw)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.close()


class Saves:
    """A ``save`` callback that records what the message held at each save."""

    def __init__(self) -> None:
        self.message: Message | None = None
        self.seen: list[tuple[Status, str, float]] = []

    async def __call__(self) -> None:
        assert self.message is not None
        self.seen.append((self.message.status, self.message.content, time.monotonic()))


class Clock:
    """A clock the test sets by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class PartClock:
    """Time advances ``step`` seconds per reply part received (deltas ``step`` apart)."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.generation: Generation | None = None

    def __call__(self) -> float:
        parts = self.generation.parts if self.generation is not None else []
        return self.step * len(parts)


def build(
    client: ChatClient,
    *,
    model: str = "gpt-4o-mini",
    saves: Saves | None = None,
    **kw: Any,
) -> Generation:
    saves = saves or Saves()
    message = Message(role="assistant", status=Status.STREAMING)
    saves.message = message
    kw.setdefault("retry", RetryPolicy(attempts=0))
    generation = Generation(
        message=message,
        client=client,
        request=[{"role": "user", "content": "Hi"}],
        model=model,
        save=saves,
        **kw,
    )
    clock = kw.get("clock")
    if isinstance(clock, PartClock):
        clock.generation = generation
    return generation


# -- retries ---------------------------------------------------------------------


async def test_retry_counts_down_then_succeeds(server, make_client):
    server.queue(Reply(status=429, headers={"Retry-After": "0.2"}, repeat=2), Reply.text("Fine."))
    clock = Clock()
    seen: list[tuple[State, int, float | None]] = []

    def on_state(generation: Generation) -> None:
        seen.append((generation.state, generation.attempt, generation.retry_in()))
        if generation.state is State.RETRYING:
            clock.now += 0.15  # the countdown follows the clock
            seen.append((generation.state, generation.attempt, generation.retry_in()))

    generation = build(make_client(), retry=RetryPolicy(attempts=4), clock=clock, on_state=on_state)
    await generation.run()
    left = [(state, attempt, None if t is None else round(t, 3)) for state, attempt, t in seen]
    assert left == [
        (State.RETRYING, 1, 0.2),
        (State.RETRYING, 1, 0.05),
        (State.WAITING, 1, None),
        (State.RETRYING, 2, 0.2),
        (State.RETRYING, 2, 0.05),
        (State.WAITING, 2, None),
        (State.STREAMING, 2, None),
        (State.COMPLETE, 2, None),
    ]
    assert generation.message.content == "Fine." and generation.message.status is Status.COMPLETE
    assert len(server.chat_requests) == 3


async def test_retry_after_as_an_http_date_is_honoured(server, make_client):
    date = formatdate(time.time() + 3, usegmt=True)  # e.g. "Wed, 21 Oct 2015 07:28:03 GMT"
    server.queue(Reply(status=429, headers={"Retry-After": date}))
    clock = Clock()
    generation = build(make_client(), retry=RetryPolicy(attempts=2, base=0.01, cap=60), clock=clock)
    task = asyncio.create_task(generation.run())
    await eventually(lambda: generation.state is State.RETRYING, what="retrying")
    assert generation.retry_at is not None
    left = generation.retry_at - clock()
    assert 1.5 < left <= 3.0, left  # not the 0.01 s backoff: the date was read
    assert generation.retry_in() == pytest.approx(left)
    assert generation.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert generation.state is State.CANCELLED
    assert len(server.chat_requests) == 1


# -- cancel ------------------------------------------------------------------------


async def test_cancel_mid_stream_keeps_the_text_and_closes_the_stream(server, make_client):
    server.queue(Reply(content=HELLO, stall_after=2))
    saves = Saves()
    generation = build(make_client(), saves=saves)
    task = asyncio.create_task(generation.run())
    await eventually(lambda: generation.text() == "Hello world", what="two parts")
    assert generation.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert generation.state is State.CANCELLED and generation.done.is_set()
    assert generation.message.status is Status.CANCELLED
    assert generation.message.content == "Hello world" and generation.message.error is None
    assert saves.seen[-1][:2] == (Status.CANCELLED, "Hello world")
    await eventually(lambda: server.streams[0].client_disconnected, what="server saw the close")
    assert not generation.cancel()  # already over


# -- checkpoints --------------------------------------------------------------------


async def test_checkpoints_at_most_once_per_interval_and_once_at_the_end(server, make_client):
    resume = threading.Event()
    server.queue(Reply.tokens(300, stall_after=200, resume=resume))
    saves = Saves()
    interval = 0.05
    generation = build(make_client(), saves=saves, checkpoint_interval=interval)
    task = asyncio.create_task(generation.run())
    held = "".join(Reply.tokens(200).content)
    # The server holds the stream after 200 parts: a checkpoint saves them.
    await eventually(
        lambda: (Status.STREAMING, held) in [s[:2] for s in saves.seen],
        what="a checkpoint of the held text",
    )
    count = len(saves.seen)
    await asyncio.sleep(interval * 5)  # no new text: no more saves
    assert len(saves.seen) == count
    resume.set()
    await task

    assert saves.seen[-1][:2] == (Status.COMPLETE, "".join(Reply.tokens(300).content))
    streaming = [s for s in saves.seen if s[0] is Status.STREAMING]
    assert len(saves.seen) == len(streaming) + 1  # one final save
    assert len(saves.seen) < 300 / 10  # never one per token
    gaps = [b[2] - a[2] for a, b in itertools.pairwise(streaming)]
    assert all(gap >= interval * 0.9 for gap in gaps), gaps


# -- the tee -------------------------------------------------------------------------


async def test_tee_copies_the_reply_and_notes_a_failure(server, make_client, tmp_path):
    path = tmp_path / "replies.md"
    server.queue(Reply(content=HELLO[:3]), Reply(content=HELLO, cut_after=2))
    client = make_client()
    first = build(client, tee=Tee.open(path, title="Greeting", model="gpt-4o-mini"))
    await first.run()
    second = build(client, tee=Tee.open(path, title="Again", model="gpt-4o-mini"))
    await second.run()
    text = path.read_text()
    heading = r"\n## {} · gpt-4o-mini · \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n\n"
    assert re.fullmatch(
        heading.format("Greeting")
        + r"Hello world!\n"
        + heading.format("Again")
        + r"Hello world\n\n\*\(reply error\)\*\n",
        text,
    ), text
    assert oct(path.stat().st_mode & 0o777) == "0o600"


# -- usage and speed ------------------------------------------------------------------


async def test_server_usage_replaces_the_estimate(server, make_client):
    usage = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
    server.queue(Reply(content=HELLO[:3], usage=usage))
    generation = build(make_client(), prompt_estimate=30)
    await generation.run()
    assert generation.completion_tokens() == TokenCount(7, exact=True)
    assert generation.message.usage == Usage(42, 7, "server")


async def test_usage_is_estimated_when_the_server_sends_none(server, make_client):
    server.queue(Reply(content=HELLO[:3], reasoning=["Let", " me", " think"], send_usage=False))
    generation = build(make_client(), prompt_estimate=30)
    await generation.run()
    # Like the server's figure, the estimate counts reasoning as well as the answer.
    assert generation.completion_tokens() == TokenCount(6, exact=False)
    assert generation.message.usage == Usage(30, 6, "estimate")


async def test_speed_of_a_reply_in_one_chunk_is_not_shown(server, make_client):
    resume = threading.Event()
    usage = {"prompt_tokens": 5, "completion_tokens": 500, "total_tokens": 505}
    server.queue(
        Reply(content=["All of it at once. " * 100], usage=usage, stall_after=1, resume=resume)
    )
    clock = Clock()
    generation = build(make_client(), clock=clock)
    task = asyncio.create_task(generation.run())
    await eventually(generation.text, what="the one chunk")
    clock.now += 0.000_002  # read a moment later, while the reply is still open
    assert generation.tokens_per_second() is None
    resume.set()
    await task
    assert generation.tokens_per_second() is None
    assert generation.message.tokens_per_s is None


async def test_speed_over_a_too_short_interval_is_not_shown(server, make_client):
    usage = {"prompt_tokens": 5, "completion_tokens": 500, "total_tokens": 505}
    server.queue(Reply(content=["Half of it. " * 50, "The other half. " * 50], usage=usage))
    generation = build(make_client(), clock=PartClock(0.01))  # 10 ms apart
    await generation.run()
    assert generation.tokens_per_second() is None
    assert generation.message.tokens_per_s is None


async def test_speed_is_tokens_over_the_time_from_first_to_last_token(server, make_client):
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    server.queue(Reply(content=HELLO[:3], usage=usage))
    generation = build(make_client(), clock=PartClock(0.1))  # 100 ms apart
    await generation.run()
    assert generation.tokens_per_second() == pytest.approx(3 / 0.2)
    assert generation.message.tokens_per_s == 15.0


# -- reading what arrived ------------------------------------------------------------------


async def test_text_since_gives_each_reader_only_what_is_new(server, make_client):
    resume = threading.Event()
    server.queue(
        Reply(content=HELLO, reasoning=["Let me ", "think."], stall_after=3, resume=resume)
    )
    generation = build(make_client())
    task = asyncio.create_task(generation.run())
    assert generation.text_since(0) == ("", 0)
    await eventually(lambda: generation.text() == "Hello world!")
    text, cursor = generation.text_since(0)
    assert text == "Hello world!"
    assert generation.text_since(cursor) == ("", cursor)
    reasoning, reasoning_cursor = generation.reasoning_since(0)
    assert reasoning == "Let me think."
    resume.set()
    await task
    rest, end = generation.text_since(cursor)
    assert rest == " How are you?" and generation.text_since(end) == ("", end)
    assert generation.reasoning_since(reasoning_cursor) == ("", reasoning_cursor)


async def test_wait_for_news_wakes_every_reader(server, make_client):
    """Two readers waiting at once both see the text and the end; neither misses a wake-up."""
    server.queue(Reply(content=HELLO, delay=0.01))
    generation = build(make_client())

    async def reader() -> str:
        cursor, got = 0, []
        while True:
            text, cursor = generation.text_since(cursor)
            got.append(text)
            if generation.done.is_set() and not generation.text_since(cursor)[0]:
                return "".join(got)
            await generation.wait_for_news(cursor)

    readers = [asyncio.create_task(reader()) for _ in range(2)]
    await generation.run()
    assert await asyncio.wait_for(asyncio.gather(*readers), 5) == ["".join(HELLO)] * 2


# -- failure wording --------------------------------------------------------------------------

PAGE = "<!DOCTYPE html><html><head><title>Hotel Wi-Fi: sign in</title></head><body>…</body></html>"
CONTEXT_ERROR = {
    "error": {
        "message": "This model's maximum context length is 8192 tokens. However, your "
        "messages resulted in 9000 tokens.",
        "code": "context_length_exceeded",
    }
}


@pytest.mark.parametrize(
    ("reply", "options", "wording"),
    [
        (
            Reply(content=HELLO, cut_after=2),
            {},
            "stream cut without a finish reason after 2 tokens — regenerate or continue",
        ),
        (
            Reply(content=HELLO, cut_after=2, chunked=True),
            {},
            "connection lost after 2 tokens — regenerate or continue",
        ),
        (
            Reply(content=HELLO, stall_after=2),
            {"stall_timeout": 0.3},
            "stalled: no data for 0.3 s after 2 tokens — regenerate or continue",
        ),
        (
            Reply(content=HELLO, malformed_after=2),
            {},
            "malformed data from the server after 2 tokens — regenerate or continue",
        ),
        (
            Reply(content=HELLO, error_event_after=2),
            {},
            "The server reported an error after 2 tokens: The server had an error while "
            "processing your request. — regenerate or continue",
        ),
        (
            Reply(status=200, body=PAGE, content_type="text/html; charset=utf-8"),
            {},
            "{url} sent an HTML page, not an API response (a proxy or captive portal?): "
            "Hotel Wi-Fi: sign in — sign in to the network in a browser, or check base_url "
            "(it usually ends in /v1)",
        ),
        (
            Reply(status=200, body="\n" + PAGE, content_type="text/event-stream"),
            {},
            "{url} sent an HTML page, not an API response (a proxy or captive portal?): "
            "Hotel Wi-Fi: sign in — sign in to the network in a browser, or check base_url "
            "(it usually ends in /v1)",
        ),
        (
            Reply(status=401, body={"error": {"message": "Incorrect API key provided."}}),
            {"key_hint": "set MY_KEY"},
            "The server rejected the API key (401): Incorrect API key provided. — set MY_KEY",
        ),
        (
            Reply(status=404, body={"error": {"message": "model 'nope' not found"}}),
            {"model": "nope"},
            "Model 'nope' not found at {url} (404): model 'nope' not found — this server has: "
            "llama3.2, qwen2.5:7b (use --model)",
        ),
        (
            Reply(status=429, headers={"Retry-After": "7"}),
            {},
            "Rate limited (429): Error code: 429 - Too Many Requests — the server asks to wait "
            "7 s before retrying",
        ),
        (
            Reply(status=400, body=CONTEXT_ERROR),
            {"model": "gpt-4", "prompt_estimate": 9000},
            "The conversation is too long for gpt-4 (≈9,000 tokens sent, limit 8,192) — start "
            "a new conversation or delete old messages",
        ),
        (
            Reply(status=400, body=CONTEXT_ERROR),
            {"model": "gpt-4"},
            "The conversation is too long for gpt-4 (limit 8,192) — start a new conversation "
            "or delete old messages",
        ),
    ],
    ids=[
        "cut",
        "connection-lost",
        "stalled",
        "malformed",
        "in-stream-error",
        "html-200-content-type",
        "html-200-body",
        "401",
        "404-model-list",
        "429-seconds",
        "context-length-sizes",
        "context-length-limit-only",
    ],
)
async def test_failure_wording(server, make_client, reply, options, wording):
    server.models = ["llama3.2", "qwen2.5:7b"]
    server.queue(reply)
    client_options = {k: options.pop(k) for k in ("stall_timeout", "key_hint") if k in options}
    generation = build(make_client(**client_options), **options)
    await generation.run()
    assert generation.state is State.ERROR
    expected = wording.format(url=server.base_url)
    assert generation.cause is not None and generation.cause.text == expected
    assert generation.message.status is Status.ERROR and generation.message.error == expected


async def test_rate_limit_wording_with_an_http_date(server, make_client):
    server.queue(Reply(status=429, headers={"Retry-After": formatdate(time.time() + 30, True)}))
    generation = build(make_client())
    await generation.run()
    assert generation.cause is not None and generation.cause.kind == "rate_limit"
    wait = re.search(r"the server asks to wait (\d+) s before retrying$", generation.cause.text)
    assert wait is not None and 20 <= int(wait.group(1)) <= 30, generation.cause.text


# -- through the session --------------------------------------------------------------------


@pytest.fixture
async def session(server: OpenAIServer, data_dir: Path) -> AsyncIterator[ChatSession]:
    settings = Settings(base_url=server.base_url, model="gpt-4o-mini")
    store = Store(data_dir)
    store.open()
    client = ChatClient(base_url=server.base_url, api_key="test-key")
    chat = ChatSession(settings, store, client)
    yield chat
    await chat.close()
    store.close()


def saved(data_dir: Path, conversation: Conversation) -> dict[str, Any]:
    return json.loads((data_dir / "conversations" / f"{conversation.id}.json").read_text())


async def test_send_builds_the_reply_whole_and_reports_its_states(
    session, server, data_dir, tmp_path
):
    session.settings.tee_file = str(tmp_path / "tee.md")
    heard: list[tuple[str, State]] = []
    session.on_generation_state.append(lambda cid, g: heard.append((cid, g.state)))
    conversation = session.new_conversation()
    generation = (await session.send(conversation, "Hi there")).generation
    # The user's message is on disk before the request goes out.
    assert [m["content"] for m in saved(data_dir, conversation)["messages"]] == ["Hi there", ""]
    assert generation.tee is not None and generation.dropped == 0
    await generation.run()
    assert heard == [(conversation.id, State.STREAMING), (conversation.id, State.COMPLETE)]
    reply = saved(data_dir, conversation)["messages"][1]
    assert (reply["content"], reply["status"]) == ("Echo: Hi there", "complete")
    assert "Echo: Hi there\n" in (tmp_path / "tee.md").read_text()
    assert server.chat_requests[0].body["messages"] == [{"role": "user", "content": "Hi there"}]


async def test_send_leaves_out_old_messages_that_do_not_fit(session, server):
    session.settings.context_windows = {"gpt-4o-mini": 300}
    conversation = session.new_conversation()
    for n in range(3):
        conversation.add(Message(role="user", content=f"question {n} " + "word " * 60))
        conversation.add(Message(role="assistant", content=f"answer {n} " + "word " * 60))
    generation = (await session.send(conversation, "last one")).generation
    assert generation.dropped > 0
    await generation.run()
    sent = server.chat_requests[0].body["messages"]
    assert len(sent) == 7 - generation.dropped and sent[-1]["content"] == "last one"


async def test_a_reply_in_one_chunk_saves_no_speed(session, server, data_dir):
    usage = {"prompt_tokens": 5, "completion_tokens": 500, "total_tokens": 505}
    server.queue(Reply(content=["All of it at once. " * 100], usage=usage))
    conversation = session.new_conversation()
    generation = (await session.send(conversation, "Hi")).generation
    await generation.run()
    reply = saved(data_dir, conversation)["messages"][1]
    assert reply["tokens_per_s"] is None and reply["usage"]["completion_tokens"] == 500
