"""Titles written by the model after the first reply, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from conftest import wait_until
from helpers import finished, screen_text, send
from llmchat_tui.config import Settings
from llmchat_tui.llm import ChatClient
from llmchat_tui.models import Conversation, Message, Status
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Store
from llmchat_tui.titles import INSTRUCTION, clean_title, wants_title
from openai_server import OpenAIServer, Reply


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Otters Holding Hands", "Otters Holding Hands"),
        ('"Sea Otter Sleep Habits."', "Sea Otter Sleep Habits"),
        ("Title: **Rust lifetimes explained**\nsecond line", "Rust lifetimes explained"),
        ("<think>the user asks\nabout otters</think>\n\nOtter facts", "Otter facts"),
        ("\x1b]0;pwned\x07Evil\x1b[2J title", "␛]0;pwned␇Evil␛[2J title"),
        (
            "one two three four five six seven eight nine ten",
            "one two three four five six seven eight",
        ),
        ("  \n ...", None),
        ("", None),
        (None, None),
    ],
)
def test_what_the_model_says_becomes_one_short_clean_line(answer, title) -> None:
    cleaned = clean_title(answer)
    if title is not None and "␛" in title:
        assert cleaned is not None and "\x1b" not in cleaned and "\x07" not in cleaned
    else:
        assert cleaned == title


def first_exchange(reply_status: Status = Status.COMPLETE) -> Conversation:
    conversation = Conversation()
    conversation.add(Message(role="user", content="how do otters sleep?"))
    conversation.add(Message(role="assistant", content="Holding hands.", status=reply_status))
    return conversation


def test_only_a_first_complete_reply_under_a_title_from_the_first_message() -> None:
    assert wants_title(first_exchange())
    assert not wants_title(first_exchange(Status.CANCELLED))
    renamed = first_exchange()
    renamed.rename("My otters")
    assert not wants_title(renamed)
    titled = first_exchange()
    titled.title = "Otter Sleep"  # the model already wrote one
    assert not wants_title(titled)
    longer = first_exchange()
    longer.add(Message(role="user", content="and beavers?"))
    longer.add(Message(role="assistant", content="Lodges.", status=Status.COMPLETE))
    assert not wants_title(longer)


def session_for(server: OpenAIServer, folder: Path, **settings: object) -> ChatSession:
    values = Settings(base_url=server.base_url, model="gpt-4o-mini", api_key="k")
    for key, value in settings.items():
        setattr(values, key, value)
    store = Store(folder)
    store.open()
    return ChatSession(values, store, ChatClient(base_url=values.base_url, api_key=values.api_key))


def saved_title(folder: Path, conversation: Conversation) -> str:
    path = folder / "conversations" / f"{conversation.id}.json"
    return json.loads(path.read_text())["title"]


async def test_the_title_is_asked_of_the_same_server_and_saved(
    server: OpenAIServer, tmp_path: Path
) -> None:
    server.completion_reply = Reply.text("Otters Sleeping Together")
    session = session_for(server, tmp_path, title_model="small-model")
    conversation = first_exchange()
    assert await session.write_title(conversation)
    assert conversation.title == "Otters Sleeping Together"
    assert not conversation.title_is_custom
    assert saved_title(tmp_path, conversation) == "Otters Sleeping Together"
    [request] = server.title_requests
    assert request.body["model"] == "small-model"
    assert request.body.get("stream") is not True
    assert request.body["messages"][0] == {"role": "system", "content": INSTRUCTION}
    assert "how do otters sleep?" in request.body["messages"][1]["content"]
    assert request.headers.get("authorization") == "Bearer k"
    assert not await session.write_title(conversation), "one title per conversation"
    assert len(server.title_requests) == 1


async def test_a_failed_or_empty_answer_keeps_the_title(
    server: OpenAIServer, tmp_path: Path
) -> None:
    session = session_for(server, tmp_path)
    conversation = first_exchange()
    assert not await session.write_title(conversation)  # the server answers 501
    server.completion_reply = Reply.text("   ")
    assert not await session.write_title(conversation)
    assert conversation.title == "how do otters sleep?"
    assert len(server.title_requests) == 2


async def test_a_rename_while_the_title_is_asked_for_wins(
    server: OpenAIServer, tmp_path: Path
) -> None:
    release = threading.Event()
    server.completion_reply = Reply.text("Model Title", resume=release)
    session = session_for(server, tmp_path)
    conversation = first_exchange()
    asking = asyncio.create_task(session.write_title(conversation))
    assert await asyncio.to_thread(server.wait_for_title_requests, 1)
    conversation.rename("Mine")
    release.set()
    assert not await asking
    assert conversation.title == "Mine"


async def test_off_means_no_request(server: OpenAIServer, tmp_path: Path) -> None:
    server.completion_reply = Reply.text("Never")
    session = session_for(server, tmp_path, auto_title=False)
    assert not await session.write_title(first_exchange())
    assert server.title_requests == []


async def test_the_sidebar_shows_the_new_title(make_app, server: OpenAIServer) -> None:
    server.completion_reply = Reply.text("Otters Holding Hands")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "how do otters sleep?")
        await finished(pilot)
        await wait_until(pilot, lambda: "Otters Holding Hands" in screen_text(app))
        assert app.chat.conversation.title == "Otters Holding Hands"
    assert len(server.chat_requests) == 1 and len(server.title_requests) == 1
