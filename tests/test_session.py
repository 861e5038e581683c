"""The chat session without any UI: the real ChatSession, Store and ChatClient over real
HTTP to the loopback server, with a real data folder. Nothing here imports Textual.

What the shell relies on: each transaction (send, regenerate, edit, continue) adds to
the conversation tree and saves before the request goes out, and takes itself back
when that save fails; a reply is checkpointed to disk while it streams, keeps its
text when cancelled, and waits out a 429/503 with a countdown."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import eventually
from llmchat_tui import tokens
from llmchat_tui.config import Settings
from llmchat_tui.generation import State
from llmchat_tui.journal import read as journal_lines
from llmchat_tui.llm import ChatClient
from llmchat_tui.models import Conversation, Message, Status
from llmchat_tui.session import CONTINUE_INSTRUCTION, ChatSession, Turn
from llmchat_tui.store import Store, StoreError
from openai_server import OpenAIServer, Reply

HELLO = ["Hello", " world", "!", " How", " are", " you", "?"]


class Clock:
    """A clock the test sets by hand (the session's ``clock``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module", autouse=True)
def encodings_loaded() -> None:
    """Requests are planned with exact token counts, as in the app once loaded."""
    tokens.get_encoding("o200k_base")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def session(server: OpenAIServer, data_dir: Path, clock: Clock) -> AsyncIterator[ChatSession]:
    settings = Settings(
        base_url=server.base_url,
        model="gpt-4o-mini",
        system_prompt="Be brief.",
        retry_attempts=0,
    )
    store = Store(data_dir)
    store.open()
    client = ChatClient(base_url=server.base_url, api_key="test-key")
    chat = ChatSession(settings, store, client, clock=clock)
    yield chat
    await chat.close()
    store.close()


def on_disk(session: ChatSession, conversation: Conversation) -> dict[str, Any]:
    """The conversation's file as it is on disk now (every branch)."""
    return json.loads(session.store.path_for(conversation.id).read_text("utf-8"))


def disk_messages(session: ChatSession, conversation: Conversation) -> list[dict[str, Any]]:
    return on_disk(session, conversation)["messages"]


def sent(server: OpenAIServer, n: int = -1) -> list[dict[str, Any]]:
    """The chat messages of the server's ``n``-th chat request."""
    return server.chat_requests[n].body["messages"]


async def answered(session: ChatSession, conversation: Conversation, text: str) -> Turn:
    """Send ``text`` and let its reply run to its end."""
    turn = await session.send(conversation, text)
    await turn.generation.run()
    return turn


# -- send --------------------------------------------------------------------------


async def test_send_saves_the_question_first_then_the_whole_reply(session, server):
    server.queue(Reply.text("Hi, how can I help?"))
    conversation = session.new_conversation()
    conversation.draft = "Hi there"
    turn = await session.send(conversation, "Hi there")

    assert turn.user is not None and turn.user.content == "Hi there"
    assert turn.reply is turn.generation.message and turn.reply.parent_id == turn.user.id
    assert conversation.draft == "" and conversation.title == "Hi there"
    # On disk before the request goes out: the question and an empty streaming reply.
    assert [
        (m["role"], m["content"], m["status"]) for m in disk_messages(session, conversation)
    ] == [
        ("user", "Hi there", "complete"),
        ("assistant", "", "streaming"),
    ]
    assert server.chat_requests == []
    assert session.is_generating(conversation.id)

    await turn.generation.run()
    assert not session.is_generating(conversation.id)
    reply = disk_messages(session, conversation)[1]
    assert (reply["content"], reply["status"], reply["model"]) == (
        "Hi, how can I help?",
        "complete",
        "gpt-4o-mini",
    )
    assert reply["parent_id"] == turn.user.id and reply["usage"]["completion_tokens"] > 0
    assert on_disk(session, conversation)["draft"] == ""
    request = server.chat_requests[0].body
    assert request["model"] == "gpt-4o-mini" and request["stream"] is True
    assert request["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
    ]


async def test_the_next_send_carries_the_whole_branch(session, server):
    conversation = session.new_conversation()
    await answered(session, conversation, "One")
    await answered(session, conversation, "Two")
    assert sent(server) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": "Echo: One"},
        {"role": "user", "content": "Two"},
    ]
    assert [m.content for m in conversation.messages] == ["One", "Echo: One", "Two", "Echo: Two"]
    # A fresh store reads back the same branch (what the next run of the app shows).
    again = Store(session.store.data_dir).load(conversation.id)
    assert [m.content for m in again.messages] == ["One", "Echo: One", "Two", "Echo: Two"]


# -- regenerate and edit: conversations are trees ------------------------------------------


async def test_regenerate_adds_a_new_version_beside_the_old_one(session, server):
    conversation = session.new_conversation()
    server.queue(Reply.text("First answer."), Reply.text("Second answer."))
    first = await answered(session, conversation, "Question")
    assert first.user is not None

    again = await session.regenerate(conversation)
    assert again.user is None and again.reply is not first.reply
    await again.generation.run()

    assert sent(server) == sent(server, 0)  # the same question, not the old answer
    assert conversation.siblings(again.reply) == [first.reply, again.reply]
    assert [m.content for m in conversation.messages] == ["Question", "Second answer."]
    files = disk_messages(session, conversation)
    assert [(m["content"], m["parent_id"]) for m in files] == [
        ("Question", None),
        ("First answer.", first.user.id),
        ("Second answer.", first.user.id),
    ]
    assert on_disk(session, conversation)["current_id"] == again.reply.id
    # The old version is still there to switch back to.
    assert session.switch(conversation, again.reply, -1) is first.reply
    assert [m.content for m in conversation.messages] == ["Question", "First answer."]


async def test_regenerate_without_a_question_is_refused(session):
    conversation = session.new_conversation()
    with pytest.raises(ValueError, match="no message to answer"):
        await session.regenerate(conversation)
    assert conversation.nodes == []


async def test_edit_sends_a_new_version_and_keeps_the_old_branch(session, server):
    conversation = session.new_conversation()
    first = await answered(session, conversation, "One")
    await answered(session, conversation, "Two")
    assert first.user is not None

    edited = await session.edit_and_resend(conversation, first.user, "One, edited")
    await edited.generation.run()

    assert edited.user is not None and edited.user.parent_id is None
    assert conversation.siblings(edited.user) == [first.user, edited.user]
    assert sent(server) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "One, edited"},
    ]
    assert [m.content for m in conversation.messages] == ["One, edited", "Echo: One, edited"]
    assert sorted(m["content"] for m in disk_messages(session, conversation)) == sorted(
        ["One", "Echo: One", "Two", "Echo: Two", "One, edited", "Echo: One, edited"]
    )
    # Back to the first version: its whole branch, replies and all.
    session.switch(conversation, edited.user, -1)
    assert [m.content for m in conversation.messages] == ["One", "Echo: One", "Two", "Echo: Two"]


async def test_only_the_users_own_messages_can_be_edited(session):
    conversation = session.new_conversation()
    turn = await answered(session, conversation, "One")
    with pytest.raises(ValueError, match="only your own messages"):
        await session.edit_and_resend(conversation, turn.reply, "not mine")
    assert len(conversation.nodes) == 2


# -- continue ---------------------------------------------------------------------------


async def test_continue_extends_the_cut_reply_in_place(session, server):
    server.queue(Reply(content=HELLO, cut_after=2), Reply(content=["!", " Bye."]))
    conversation = session.new_conversation()
    cut = await answered(session, conversation, "Hi")
    assert cut.reply.status is Status.ERROR and cut.reply.content == "Hello world"

    more = await session.continue_reply(conversation)
    assert more.user is None and more.reply is cut.reply
    assert disk_messages(session, conversation)[1]["status"] == "streaming"
    await more.generation.run()

    assert sent(server) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello world"},
        {"role": "user", "content": CONTINUE_INSTRUCTION},
    ]
    files = disk_messages(session, conversation)
    assert len(files) == 2  # one reply, extended; the instruction is not stored
    assert (files[1]["content"], files[1]["status"], files[1]["error"]) == (
        "Hello world! Bye.",
        "complete",
        None,
    )


async def test_continue_needs_a_partial_reply(session):
    conversation = session.new_conversation()
    with pytest.raises(ValueError, match="no partial reply"):
        await session.continue_reply(conversation)


# -- cancel ----------------------------------------------------------------------------


async def test_cancel_mid_stream_saves_the_partial_text_as_cancelled(session, server):
    server.queue(Reply(content=HELLO, stall_after=2))
    conversation = session.new_conversation()
    turn = await session.send(conversation, "Hi")
    task = asyncio.create_task(turn.generation.run())
    await eventually(lambda: turn.generation.text() == "Hello world", what="two parts")

    assert session.cancel(conversation.id)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not session.is_generating(conversation.id)
    assert not session.cancel(conversation.id)  # nothing left to stop
    reply = disk_messages(session, conversation)[1]
    assert (reply["content"], reply["status"], reply["error"]) == ("Hello world", "cancelled", None)
    await eventually(lambda: server.streams[0].client_disconnected, what="the stream closed")

    # The next turn is coherent: the cancelled words are part of the history.
    await answered(session, conversation, "Go on")
    assert sent(server)[-2:] == [
        {"role": "assistant", "content": "Hello world"},
        {"role": "user", "content": "Go on"},
    ]


async def test_a_second_reply_in_the_same_conversation_is_refused_while_one_runs(session, server):
    resume = threading.Event()
    server.queue(Reply(content=HELLO, stall_after=1, resume=resume))
    conversation = session.new_conversation()
    turn = await session.send(conversation, "Hi")
    task = asyncio.create_task(turn.generation.run())
    await eventually(turn.generation.text, what="the first part")
    nodes = list(conversation.nodes)
    with pytest.raises(RuntimeError, match="already being generated"):
        await session.send(conversation, "Another")
    assert conversation.nodes == nodes
    resume.set()
    await task
    assert turn.reply.content == "".join(HELLO)


# -- retry with a countdown ----------------------------------------------------------------


async def test_a_429_then_a_503_are_waited_out_with_a_countdown(session, server, clock):
    session.settings.retry_attempts = 3
    session.settings.retry_base = 0.02
    server.queue(
        Reply(status=429, headers={"Retry-After": "0.05"}),
        Reply(status=503),
        Reply.text("Fine now."),
    )
    seen: list[tuple[State, int, str | None, float | None]] = []

    def heard(conversation_id: str, generation: Any) -> None:
        kind = generation.cause.kind if generation.cause else None
        seen.append((generation.state, generation.attempt, kind, generation.retry_in()))
        if generation.state is State.RETRYING:
            clock.now += 0.01  # the countdown follows the session's clock
            seen.append((generation.state, generation.attempt, kind, generation.retry_in()))

    session.on_generation_state.append(heard)
    conversation = session.new_conversation()
    turn = await session.send(conversation, "Hi")
    await turn.generation.run()

    retrying = [s for s in seen if s[0] is State.RETRYING]
    assert [(state, attempt, kind) for state, attempt, kind, _ in retrying] == [
        (State.RETRYING, 1, "rate_limit"),
        (State.RETRYING, 1, "rate_limit"),
        (State.RETRYING, 2, "server"),
        (State.RETRYING, 2, "server"),
    ]
    waits = [left for *_, left in retrying if left is not None]
    assert len(waits) == 4
    assert waits[0] == pytest.approx(0.05) and waits[1] == pytest.approx(0.04)  # Retry-After
    # No Retry-After: backoff with jitter, base 0.02 doubled for the second attempt.
    assert 0.02 <= waits[2] <= 0.04 and waits[3] == pytest.approx(waits[2] - 0.01)
    assert seen[-1][0] is State.COMPLETE
    assert len(server.chat_requests) == 3
    reply = disk_messages(session, conversation)[1]
    assert (reply["content"], reply["status"], reply["error"]) == ("Fine now.", "complete", None)


async def test_retries_run_out_and_the_reply_says_why(session, server):
    session.settings.retry_attempts = 1
    server.queue(Reply(status=503, headers={"Retry-After": "0.01"}, repeat=2))
    conversation = session.new_conversation()
    turn = await session.send(conversation, "Hi")
    await turn.generation.run()
    assert len(server.chat_requests) == 2
    reply = disk_messages(session, conversation)[1]
    assert reply["status"] == "error" and "503" in reply["error"]


# -- a save that fails takes the whole transaction back ---------------------------------------


class Fault:
    """A real disk fault on the conversations folder: ``fault()`` makes the next save
    fail, ``fault.mend()`` undoes it.

    "not-a-directory": the folder is moved aside and a file takes its place (works
    for every user). "read-only": the folder loses its write permission (skipped as
    root, whom permissions do not stop).
    """

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.folder = folder
        self.aside = folder.with_name(folder.name + ".aside")
        self.broken = False

    def __call__(self) -> None:
        if self.kind == "read-only":
            if os.geteuid() == 0:
                pytest.skip("root ignores permissions")
            self.folder.chmod(0o500)
        else:
            self.folder.rename(self.aside)
            self.folder.write_text("a file where the folder should be")
        self.broken = True

    def mend(self) -> None:
        if not self.broken:
            return
        if self.kind == "read-only":
            self.folder.chmod(0o700)
        else:
            self.folder.unlink()
            self.aside.rename(self.folder)
        self.broken = False


@pytest.fixture(params=["not-a-directory", "read-only"])
def broken_folder(request: pytest.FixtureRequest, session: ChatSession) -> Iterator[Fault]:
    fault = Fault(request.param, session.store.data_dir / "conversations")
    yield fault
    fault.mend()


def snapshot(conversation: Conversation) -> tuple[Any, ...]:
    """Everything a failed transaction must leave as it was."""
    return (
        [(m.id, m.role, m.content, m.status, m.parent_id) for m in conversation.nodes],
        conversation.current_id,
        conversation.draft,
        conversation.title,
        conversation.updated_at,
    )


async def _send(session: ChatSession, conversation: Conversation) -> Turn:
    return await session.send(conversation, "Three")


async def _regenerate(session: ChatSession, conversation: Conversation) -> Turn:
    return await session.regenerate(conversation)


async def _edit(session: ChatSession, conversation: Conversation) -> Turn:
    return await session.edit_and_resend(conversation, conversation.messages[0], "One again")


async def _continue(session: ChatSession, conversation: Conversation) -> Turn:
    return await session.continue_reply(conversation)


@pytest.mark.parametrize(
    "transaction",
    [_send, _regenerate, _edit, _continue],
    ids=["send", "regenerate", "edit", "continue"],
)
async def test_a_failed_save_takes_the_transaction_back(
    session, server, broken_folder, transaction
):
    server.queue(Reply.text("Echo: One"), Reply(content=HELLO, cut_after=2))
    conversation = session.new_conversation()
    await answered(session, conversation, "One")
    await answered(session, conversation, "Two")  # cut: a partial reply to continue
    conversation.draft = "Three"
    before = snapshot(conversation)
    requests = len(server.chat_requests)
    told: list[tuple[str, str | None]] = []
    session.on_save_state.append(lambda cid, error: told.append((cid, error)))
    on_screen = conversation.messages[-1]

    broken_folder()
    with pytest.raises((StoreError, OSError)):
        await transaction(session, conversation)

    assert snapshot(conversation) == before
    assert conversation.messages[-1] is on_screen and on_screen.status is Status.ERROR
    assert len(server.chat_requests) == requests  # nothing was sent
    assert not session.is_generating(conversation.id)
    reason = {"not-a-directory": "Not a directory", "read-only": "Permission denied"}[
        broken_folder.kind
    ]
    assert told == [(conversation.id, reason)]
    assert session.unsaved == {conversation.id: reason}

    # Once the disk is back the same transaction works, and the session says so.
    broken_folder.mend()
    turn = await transaction(session, conversation)
    await turn.generation.run()
    assert told[-1] == (conversation.id, None) and session.unsaved == {}
    assert disk_messages(session, conversation)[-1]["status"] == "complete"


# -- checkpoints while a reply streams ----------------------------------------------------------


async def test_a_held_reply_is_on_disk_with_the_text_so_far(session, server):
    session.store.acquire_lock(wait=0)  # as the app does: readers do not fold its journal
    resume = threading.Event()
    server.queue(Reply(content=HELLO, stall_after=3, resume=resume))
    conversation = session.new_conversation()
    turn = await session.send(conversation, "Hi")
    path = session.store.path_for(conversation.id)
    journal = session.store.journal_path(conversation.id)
    sent_stat = path.stat()
    task = asyncio.create_task(turn.generation.run())

    def checkpointed() -> bool:
        reply = Store(session.store.data_dir).load(conversation.id).messages[1]
        return reply.content == "Hello world!"

    # The server holds the stream after three parts; the checkpoint appends them to the
    # journal. A new run of the app reading the conversation now sees the words so far.
    await eventually(checkpointed, what="a checkpoint of the held text")
    assert task.done() is False and turn.generation.state is State.STREAMING
    # The conversation file was not rewritten for it: only the journal grew.
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (
        sent_stat.st_ino,
        sent_stat.st_mtime_ns,
    )
    assert disk_messages(session, conversation)[1]["status"] == "streaming"
    lines = journal_lines(journal)
    assert lines is not None and "".join(line.get("text", "") for line in lines) == "Hello world!"

    resume.set()
    await task
    reply = disk_messages(session, conversation)[1]
    assert (reply["content"], reply["status"]) == ("".join(HELLO), "complete")
    assert not journal.exists(), "the end of the reply folds the journal into the file"


async def test_streaming_into_a_big_conversation_writes_about_the_reply_not_the_file(
    session, server
):
    """Bytes written per byte of reply, counted: the 2 MB conversation file is not
    rewritten while the reply streams; only the journal grows, by about the reply."""
    conversation = session.new_conversation()
    filler = "lorem ipsum dolor sit amet " * 80
    for _ in range(1000):
        conversation.add(Message(role="user", content="go on"))
        conversation.add(Message(role="assistant", content=filler))
    await session.save(conversation)
    server.queue(Reply.tokens(300, delay=0.005))
    turn = await session.send(conversation, "and a long reply, please")
    path = session.store.path_for(conversation.id)
    journal = session.store.journal_path(conversation.id)
    sent = (path.stat().st_ino, path.stat().st_mtime_ns)
    grown: list[int] = []
    task = asyncio.create_task(turn.generation.run())
    while not task.done():
        if turn.generation.active:
            assert (path.stat().st_ino, path.stat().st_mtime_ns) == sent, "file rewritten"
            if journal.exists():
                grown.append(journal.stat().st_size)
        await asyncio.sleep(0.01)
    await task
    assert turn.generation.state is State.COMPLETE
    reply_bytes = len(turn.reply.content.encode())
    assert path.stat().st_size > 2_000_000
    assert len(set(grown)) >= 3, "several checkpoints while it streamed"
    assert max(grown) <= 5 * reply_bytes, f"{max(grown) / reply_bytes:.2f}x the reply's bytes"
    assert not journal.exists()
