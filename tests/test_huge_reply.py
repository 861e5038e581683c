"""A reply too long to draw (megabytes in one delta, or saved): its first part is drawn
with a note saying the rest is not, and nothing of it is lost (the file and the
export hold all of it). Drawing megabytes of Markdown froze the screen for minutes
(benchmark B12)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import wait_until
from llmchat_tui.models import Conversation, Message
from llmchat_tui.store import Store
from llmchat_tui.widgets.message_views import SHOWN_REPLY_CHARS, drawn_length
from openai_server import OpenAIServer, Reply

HUGE = "".join(f"Line {n} of a reply far too long to draw.\n" for n in range(12_000))


def test_a_huge_reply_is_cut_at_a_line_break() -> None:
    assert len(HUGE) > SHOWN_REPLY_CHARS
    cut = drawn_length(len(HUGE), HUGE)
    assert SHOWN_REPLY_CHARS // 2 < cut <= SHOWN_REPLY_CHARS and HUGE[cut] == "\n"
    assert drawn_length(1_000, "short") == 1_000


async def test_a_saved_huge_reply_draws_its_start_and_says_the_rest_is_not_drawn(
    make_app, data_dir: Path
) -> None:
    conversation = Conversation(model="gpt-4o-mini")
    conversation.add(Message(role="user", content="everything please"))
    conversation.add(Message(role="assistant", content=HUGE))
    store = Store(data_dir)
    store.open()
    store.save(conversation)
    store.close()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.chat.open(app.session.open(conversation.id))
        await wait_until(pilot, lambda: app.chat.pane.query(".not-drawn"), what="the note")
        text = str(app.chat.pane.query(".not-drawn").first().render())
        rest = len(HUGE) - drawn_length(len(HUGE), HUGE)
        assert f"… {rest:,} more characters of this reply are not drawn" in text
    saved = json.loads(store.path_for(conversation.id).read_text("utf-8"))
    assert saved["messages"][1]["content"] == HUGE  # nothing lost


async def test_one_huge_delta_streams_its_start_and_is_saved_whole(
    make_app, server: OpenAIServer, data_dir: Path
) -> None:
    server.queue(Reply(content=["Start. ", HUGE]))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.chat.prompt.insert("one big answer")
        await pilot.press("enter")
        conversation_id = app.chat.conversation.id
        await wait_until(pilot, lambda: app.session.generation(conversation_id), what="a reply")
        generation = app.session.generation(conversation_id)
        assert generation is not None
        await wait_until(pilot, lambda: generation.done.is_set(), timeout=60, what="the end")
        await wait_until(pilot, lambda: app.chat.pane.query(".not-drawn"), what="the note")
        assert generation.message.content == "Start. " + HUGE
    files = list((data_dir / "conversations").glob("*.json"))
    saved = json.loads(files[0].read_text("utf-8"))
    assert saved["messages"][1]["content"] == "Start. " + HUGE
