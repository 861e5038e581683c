"""Comparing models without any UI: the real ChatSession, Store and ChatClient over
real HTTP to loopback servers, with a real data folder. Nothing here imports Textual.

What the screen relies on: one message goes to every model of the compare at once
(the requests are in flight together), each reply is its own sibling in the tree and
on disk, one failing does not stop the others, cancelling stops them all, keeping one
makes it the branch on screen (the others stay as versions), and a model of another
profile is asked on that profile's server with that profile's key only."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import eventually
from llmchat_tui import tokens
from llmchat_tui.compare import CompareError, ModelRef, parse_models, round_of
from llmchat_tui.config import Settings
from llmchat_tui.config_load import load_settings
from llmchat_tui.factory import build_session
from llmchat_tui.generation import State
from llmchat_tui.llm import ChatClient
from llmchat_tui.models import Conversation, Message, Status
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Store, decode_conversation
from openai_server import OpenAIServer, Recorded, Reply


@pytest.fixture(scope="module", autouse=True)
def encodings_loaded() -> None:
    tokens.get_encoding("o200k_base")


@pytest.fixture
async def session(server: OpenAIServer, data_dir: Path) -> AsyncIterator[ChatSession]:
    settings = Settings(base_url=server.base_url, model="gpt-4o-mini", retry_attempts=0)
    store = Store(data_dir)
    store.open()
    chat = ChatSession(settings, store, ChatClient(base_url=server.base_url, api_key="k"))
    yield chat
    await chat.close()
    store.close()


def on_disk(session: ChatSession, conversation: Conversation) -> dict[str, Any]:
    return json.loads(session.store.path_for(conversation.id).read_text("utf-8"))


def by_model(replies: dict[str, Reply]) -> Any:
    """A server reply chosen by the requested model."""

    def choose(request: Recorded) -> Reply:
        return replies[request.body["model"]]

    return choose


async def run_all(session: ChatSession, conversation: Conversation) -> list[Any]:
    generations = session.generations_of(conversation.id)
    await asyncio.gather(*(g.run() for g in generations))
    return generations


# -- the list of models ------------------------------------------------------------


def test_models_are_named_with_an_optional_profile() -> None:
    refs = parse_models("gpt-4o, work:claude ,llama3:8b", profiles={"work"})
    assert refs == [ModelRef("gpt-4o"), ModelRef("claude", "work"), ModelRef("llama3:8b")]
    assert [r.label for r in refs] == ["gpt-4o", "work:claude", "llama3:8b"]
    assert parse_models(["a", "b"]) == [ModelRef("a"), ModelRef("b")]


@pytest.mark.parametrize(
    ("specs", "words"),
    [
        ("gpt-4o", "at least 2"),
        ("a,b,c,d,e", "at most 4"),
        ("a,,b", "empty"),
        ("a,b,a", "a is named twice"),
    ],
)
def test_a_list_that_cannot_compare_is_refused_in_words(specs: str, words: str) -> None:
    with pytest.raises(CompareError, match=words):
        parse_models(specs)


def test_the_round_is_the_newest_replies_to_the_last_message() -> None:
    conversation = Conversation()
    question = conversation.add(Message(role="user", content="q"))
    old = conversation.add(Message(role="assistant", content="old"), question)
    first = conversation.add(Message(role="assistant", content="a"), question)
    second = conversation.add(Message(role="assistant", content="b"), question)
    conversation.current_id = first.id
    assert round_of(conversation) == []  # not comparing
    conversation.compare = ["m1", "m2"]
    assert round_of(conversation) == [first, second]
    conversation.current_id = old.id  # an older version on screen: no columns
    assert round_of(conversation) == []


def test_compare_is_saved_with_the_conversation_and_read_back_carefully(
    data_dir: Path,
) -> None:
    conversation = Conversation(compare=["gpt-4o", "work:claude"])
    conversation.add(Message(role="user", content="hi"))
    store = Store(data_dir)
    store.open()
    store.save(conversation)
    saved = json.loads(store.path_for(conversation.id).read_text("utf-8"))
    assert saved["compare"] == ["gpt-4o", "work:claude"]
    assert store.load(conversation.id).compare == ["gpt-4o", "work:claude"]
    store.close()
    # A hand-edited list that cannot compare turns comparing off and says so.
    for raw in (["only-one"], "gpt-4o", [1, 2, 3]):
        saved["compare"] = raw
        issues: list[Any] = []
        loaded = decode_conversation(json.dumps(saved).encode(), conversation.id, issues)
        assert loaded.compare == [] and [i.field for i in issues] == ["compare"]
    plain = Conversation()
    assert "compare" not in plain.head_dict()  # files of plain chats stay as they were


# -- one message, several models --------------------------------------------------------


async def test_one_message_goes_to_every_model_at_once_and_each_reply_is_saved(
    session: ChatSession, server: OpenAIServer
) -> None:
    release = threading.Event()
    held: dict[str, Any] = {"stall_after": 1, "stall_seconds": 10, "resume": release}
    server.default_reply = by_model(
        {
            "model-a": Reply.text("Alpha says hi.", **held),
            "model-b": Reply.text("Beta says hi.", **held),
        }
    )
    conversation = session.new_conversation()
    session.set_compare(conversation, "model-a,model-b")
    turn = await session.send(conversation, "Hello both")
    generations = session.generations_of(conversation.id)
    assert [g.model for g in generations] == ["model-a", "model-b"]
    assert turn.generation is generations[0]
    running = [asyncio.create_task(g.run()) for g in generations]
    # Both requests are in flight together: each has sent its first word and waits.
    await eventually(lambda: len(server.streams) == 2, what="two streams open at once")
    await eventually(
        lambda: all(g.text().strip() for g in generations), what="a word from each at once"
    )
    assert session.is_generating(conversation.id)
    release.set()
    await asyncio.gather(*running)
    assert [g.state for g in generations] == [State.COMPLETE, State.COMPLETE]
    bodies = {r.body["model"]: r.messages for r in server.chat_requests}
    assert bodies["model-a"] == bodies["model-b"]  # both asked the same thing
    assert bodies["model-a"][-1] == {"role": "user", "content": "Hello both"}

    saved = on_disk(session, conversation)
    user, first, second = saved["messages"]
    assert first["parent_id"] == second["parent_id"] == user["id"]
    assert (first["model"], first["content"]) == ("model-a", "Alpha says hi.")
    assert (second["model"], second["content"]) == ("model-b", "Beta says hi.")
    assert saved["current_id"] == first["id"] and saved["compare"] == ["model-a", "model-b"]
    assert [m.content for m in round_of(conversation)] == ["Alpha says hi.", "Beta says hi."]


async def test_one_model_failing_leaves_the_others_going(
    session: ChatSession, server: OpenAIServer
) -> None:
    server.default_reply = by_model(
        {
            "good": Reply.text("Still here.", delay=0.02),
            "bad": Reply(status=400, body={"error": {"message": "no such model: bad"}}),
        }
    )
    conversation = session.new_conversation()
    session.set_compare(conversation, ["good", "bad"])
    await session.send(conversation, "Who answers?")
    good, bad = await run_all(session, conversation)
    assert good.state is State.COMPLETE and bad.state is State.ERROR
    with pytest.raises(ValueError, match="bad gave no reply to keep"):
        await session.keep(conversation, bad.message)
    saved = {m["model"]: m for m in on_disk(session, conversation)["messages"][1:]}
    assert saved["good"]["content"] == "Still here." and saved["good"]["status"] == "complete"
    assert saved["bad"]["status"] == "error" and "no such model" in saved["bad"]["error"]


async def test_cancelling_stops_every_model_and_keeps_what_arrived(
    session: ChatSession, server: OpenAIServer
) -> None:
    server.default_reply = lambda request: Reply.tokens(5000, delay=0.01)
    conversation = session.new_conversation()
    session.set_compare(conversation, "one,two,three")
    await session.send(conversation, "Talk")
    generations = session.generations_of(conversation.id)
    running = [asyncio.create_task(g.run()) for g in generations]
    await eventually(lambda: all(g.text() for g in generations), what="text from all three")
    assert session.cancel(conversation.id)
    results = await asyncio.wait_for(asyncio.gather(*running, return_exceptions=True), 5)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert {g.state for g in generations} == {State.CANCELLED}
    assert not session.is_generating(conversation.id)
    for saved in on_disk(session, conversation)["messages"][1:]:
        assert saved["status"] == "cancelled" and saved["content"]


async def test_keeping_a_reply_makes_it_the_branch_and_ends_the_compare(
    session: ChatSession, server: OpenAIServer
) -> None:
    server.default_reply = lambda request: Reply.text(f"I am {request.body['model']}.")
    conversation = session.new_conversation()
    session.set_compare(conversation, "model-a,model-b,model-c")
    await session.send(conversation, "Who are you?")
    await run_all(session, conversation)
    second = round_of(conversation)[1]
    with pytest.raises(ValueError, match="not one of the replies"):
        await session.keep(conversation, conversation.messages[0])
    await session.keep(conversation, second)
    assert conversation.current is second and conversation.compare == []
    assert conversation.model == "model-b"
    assert [m.content for m in conversation.siblings(second)] == [
        "I am model-a.",
        "I am model-b.",
        "I am model-c.",
    ]
    assert [g.message for g in session.generations_of(conversation.id)] == [second]
    saved = on_disk(session, conversation)
    assert saved["current_id"] == second.id and "compare" not in saved
    assert saved["model"] == "model-b"
    # The conversation goes on with the kept reply's model and history.
    await session.send(conversation, "And then?")
    (follow,) = await run_all(session, conversation)
    assert follow.model == "model-b"
    last = server.chat_requests[-1]
    assert last.body["model"] == "model-b"
    assert [m["content"] for m in last.messages if m["role"] == "assistant"] == ["I am model-b."]


async def test_while_comparing_a_follow_up_goes_to_all_models_after_the_first_reply(
    session: ChatSession, server: OpenAIServer
) -> None:
    server.default_reply = lambda request: Reply.text(f"I am {request.body['model']}.")
    conversation = session.new_conversation()
    session.set_compare(conversation, "model-a,model-b")
    await session.send(conversation, "One")
    await run_all(session, conversation)
    await session.send(conversation, "Two")
    generations = await run_all(session, conversation)
    assert [g.model for g in generations] == ["model-a", "model-b"]
    for request in server.chat_requests[-2:]:
        contents = [m["content"] for m in request.messages]
        assert contents == ["One", "I am model-a.", "Two"]
    assert [m.content for m in round_of(conversation)] == ["I am model-a.", "I am model-b."]


async def test_regenerating_while_comparing_asks_every_model_again(
    session: ChatSession, server: OpenAIServer
) -> None:
    server.default_reply = lambda request: Reply.text(f"I am {request.body['model']}.")
    conversation = session.new_conversation()
    session.set_compare(conversation, "model-a,model-b")
    question = (await session.send(conversation, "Who?")).user
    await run_all(session, conversation)
    await session.regenerate(conversation)
    await run_all(session, conversation)
    replies = conversation.children(question)
    assert len(replies) == 4 and round_of(conversation) == replies[2:]


# -- a model of another profile ------------------------------------------------------


@pytest.fixture
def other_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as second:
        yield second


async def test_a_profile_model_is_asked_on_that_profiles_server_with_its_key_only(
    server: OpenAIServer,
    other_server: OpenAIServer,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME_KEY", "home-secret")
    monkeypatch.setenv("WORK_KEY", "work-secret")
    config = tmp_path / "config.toml"
    config.write_text(
        f'profile = "home"\n'
        f'[profiles.home]\nbase_url = "{server.base_url}"\nmodel = "home-model"\n'
        f'api_key_env = "HOME_KEY"\n'
        f'[profiles.work]\nbase_url = "{other_server.base_url}"\nmodel = "work-model"\n'
        f'api_key_env = "WORK_KEY"\n',
        encoding="utf-8",
    )
    settings = load_settings(config_path=config)
    store = Store(data_dir)
    store.open()
    session = build_session(settings, store)
    try:
        conversation = session.new_conversation()
        session.set_compare(conversation, "home-model,work:work-model")
        await session.send(conversation, "Hi both")
        await run_all(session, conversation)
        (home,) = server.chat_requests
        (work,) = other_server.chat_requests
        assert home.body["model"] == "home-model" and work.body["model"] == "work-model"
        assert home.headers["authorization"] == "Bearer home-secret"
        assert work.headers["authorization"] == "Bearer work-secret"
        replies = round_of(conversation)
        assert [(m.model, m.profile) for m in replies] == [
            ("home-model", None),
            ("work-model", "work"),
        ]
        await session.keep(conversation, replies[1])
        assert (conversation.profile, conversation.model) == ("work", "work-model")
        assert conversation.base_url == other_server.base_url
    finally:
        await session.close()
        store.close()


async def test_setting_a_compare_is_refused_while_a_reply_runs(
    session: ChatSession, server: OpenAIServer
) -> None:
    server.default_reply = lambda request: Reply.tokens(2000, delay=0.01)
    conversation = session.new_conversation()
    turn = await session.send(conversation, "Talk")
    task = asyncio.create_task(turn.generation.run())
    await eventually(lambda: turn.generation.text(), what="streaming")
    with pytest.raises(RuntimeError):
        session.set_compare(conversation, "a,b")
    session.cancel(conversation.id)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert turn.generation.message.status is Status.CANCELLED and not conversation.compare


async def test_stopping_replies_before_they_start_sends_nothing(
    session: ChatSession, server: OpenAIServer
) -> None:
    """Esc right after Enter, before the reply's worker ran: every model stops at once."""
    conversation = session.new_conversation()
    session.set_compare(conversation, "a,b")
    await session.send(conversation, "Never mind")
    assert session.cancel(conversation.id)
    generations = await run_all(session, conversation)
    assert {g.state for g in generations} == {State.CANCELLED}
    assert server.chat_requests == []
    statuses = [m["status"] for m in on_disk(session, conversation)["messages"][1:]]
    assert statuses == ["cancelled", "cancelled"]
