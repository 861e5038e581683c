"""Saved conversations through the real app: sidebar keys, background replies, drafts."""

from __future__ import annotations

import json
from collections.abc import Callable

from conftest import wait_until
from helpers import screen_text, type_text
from llmchat_tui.generation import State
from llmchat_tui.models import Conversation, Message
from llmchat_tui.store import Store
from llmchat_tui.widgets.messages import (
    BATCH,
    WINDOW,
    AssistantMessageView,
    UserMessageView,
)
from openai_server import Reply


def seed(data_dir, titles, messages_each=2):
    """Save conversations with the given first user messages (oldest first)."""
    store = Store(data_dir)
    store.open()
    made = []
    for index, title in enumerate(titles):
        conversation = Conversation(model="gpt-4o-mini")
        for n in range(messages_each // 2):
            conversation.add(Message(role="user", content=title if n == 0 else f"q{n}"))
            conversation.add(Message(role="assistant", content=f"answer {n} about {title}"))
        conversation.updated_at = f"2026-11-{index + 1:02d}T10:00:00.000000Z"
        store.save(conversation)
        made.append(conversation)
    store.close()
    return made


def rows(app):
    return [option.id for option in app.chat.sidebar.option_list.options]


async def test_sidebar_lists_saved_conversations_newest_first(make_app, data_dir):
    made = seed(data_dir, ["oldest", "middle", "[b]newest[/b]"])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert rows(app) == [c.id for c in reversed(made)]
        text = screen_text(app)
        assert "[b]newest[/b]" in text  # titles are plain text, never markup
        assert "gpt-4o-mini" in text


async def test_open_rename_and_delete_with_keys(make_app, data_dir):
    made = seed(data_dir, ["first topic", "second topic"])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+b")
        assert app.chat.sidebar.option_list.has_focus
        # Highlight the older one and open it with Enter.
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == made[0].id, what="opened")
        assert "answer 0 about first topic" in screen_text(app)
        assert app.chat.prompt.has_focus
        # Rename it.
        await pilot.press("ctrl+b", "f2")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "RenameDialog")
        await pilot.press("ctrl+a", *"Renamed", "enter")
        await wait_until(pilot, lambda: "Renamed" in screen_text(app), what="new title")
        # Delete it, declining first, then confirming.
        await pilot.press("delete")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmDialog")
        await pilot.press("escape")
        await pilot.pause()
        assert made[0].id in rows(app)
        await pilot.press("delete")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmDialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: made[0].id not in rows(app), what="deleted")
    assert not (data_dir / "conversations" / f"{made[0].id}.json").exists()
    reopened = Store(data_dir)
    reopened.open()
    assert [s.title for s in reopened.summaries()] == ["second topic"]


async def test_renamed_title_survives_and_is_saved(make_app, data_dir):
    made = seed(data_dir, ["topic"])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+b", "r")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "RenameDialog")
        app.screen.query_one("Input").value = "[red]mine[/red]"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "[red]mine[/red]" in screen_text(app))
    saved = json.loads((data_dir / "conversations" / f"{made[0].id}.json").read_text())
    assert saved["title"] == "[red]mine[/red]"
    assert saved["title_is_custom"] is True


async def test_filter_searches_titles_and_full_text(make_app, data_dir):
    made = seed(data_dir, ["Lighthouse facts", "Sourdough", "Rust lifetimes"])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+f")
        await pilot.press(*"light")
        await wait_until(pilot, lambda: rows(app) == [made[0].id], what="title match")
        await pilot.press(*["backspace"] * 5, *"about sourdough")
        await wait_until(pilot, lambda: rows(app) == [made[1].id], what="full-text match")
        await pilot.press(*["backspace"] * 15)
        await wait_until(pilot, lambda: len(rows(app)) == 3, what="all rows back")


async def test_new_conversation_with_ctrl_n(make_app, server):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "first")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.session.generation(app.chat.conversation.id).active)
        first_id = app.chat.conversation.id
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.chat.conversation.id != first_id
        assert "New conversation" in screen_text(app)
        assert rows(app) == [first_id]  # an empty conversation is not listed


async def test_reply_goes_on_in_the_background(make_app, server, data_dir):
    server.queue(Reply.tokens(300, delay=0.02), Reply.text("Other answer."))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "long one")
        await pilot.press("enter")
        background = app.session.generation(app.chat.conversation.id)
        background_id = app.chat.conversation.id
        await wait_until(pilot, lambda: len(background.parts) > 5)
        assert "●" in screen_text(app)
        await pilot.press("ctrl+n")
        await type_text(pilot, "another")
        await pilot.press("enter")
        other = app.session.generation(app.chat.conversation.id)
        await wait_until(pilot, lambda: not other.active)
        # Esc in this conversation does not touch the background reply.
        await pilot.press("escape")
        await wait_until(pilot, lambda: background.state is State.COMPLETE, what="background")
        await pilot.pause()
        assert "●" not in screen_text(app)
        assert len(background.parts) == 300
        # Opening it shows the whole reply.
        await pilot.press("ctrl+b")
        app.chat.sidebar.select(background_id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == background_id)
    saved = json.loads((data_dir / "conversations" / f"{background_id}.json").read_text())
    assert saved["messages"][1]["status"] == "complete"
    assert saved["messages"][1]["content"] == "".join(server.streams[0].reply.content)


async def test_unsent_text_is_kept_per_conversation_and_across_restarts(make_app, data_dir):
    made = seed(data_dir, ["one", "two"])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.chat.sidebar.select(made[1].id)
        app.chat.sidebar.option_list.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == made[1].id)
        await type_text(pilot, "half-written thought")
        await pilot.press("ctrl+b")
        app.chat.sidebar.select(made[0].id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == made[0].id)
        assert app.chat.prompt.text == ""
        await pilot.press("ctrl+q")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.chat.sidebar.select(made[1].id)
        app.chat.sidebar.option_list.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == made[1].id)
        assert app.chat.prompt.text == "half-written thought"


async def test_a_thousand_messages_open_at_their_end_without_building_them_all(make_app, data_dir):
    made = seed(data_dir, ["huge"], messages_each=1000)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.chat.sidebar.select(made[0].id)
        app.chat.sidebar.option_list.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == made[0].id)
        await pilot.pause()
        pane = app.chat.pane
        views = pane.views()
        # One screenful: more than the pane shows (it can scroll), far less than a batch.
        jump = pane.jump_size()
        assert len(views) == jump < BATCH and pane.max_scroll_y > 0
        assert all(isinstance(v, (UserMessageView, AssistantMessageView)) for v in views)
        assert not pane.query("Markdown")  # finished replies are cheap Statics
        assert "answer 499 about huge" in screen_text(app)
        # Scrolling to the top loads the previous batch.
        pane.scroll_home(animate=False, immediate=True)
        await wait_until(pilot, lambda: len(pane.views()) == jump + BATCH, what="older batch")


async def test_a_long_conversation_is_mounted_through_a_bounded_window(make_app, data_dir):
    made = seed(data_dir, ["huge"], messages_each=1000)
    everything = made[0].messages
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.chat.sidebar.select(made[0].id)
        app.chat.sidebar.option_list.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == made[0].id)
        pane = app.chat.pane
        await pilot.press("ctrl+up")
        await wait_until(pilot, lambda: pane.has_focus, what="the message list")

        def ids():
            return [v.message.id for v in pane.views()]

        # Home mounts the first screenful only, and the selection follows it.
        await pilot.press("home")
        await wait_until(pilot, lambda: ids()[:1] == [everything[0].id], what="the first")
        assert ids() == [m.id for m in everything[: pane.jump_size()]]
        await wait_until(pilot, lambda: pane.selected is pane.views()[0], what="selected")
        assert "huge" in screen_text(app)

        # Scrolling down loads later batches; never more than WINDOW views at once.
        def loaded_after(last: str) -> Callable[[], bool]:
            def check() -> bool:
                # A later batch is in, and the place is kept: it is below, not scrolled to.
                at_end = ids()[-1] == everything[-1].id
                kept = pane.scroll_y < pane.max_scroll_y - 1 or at_end
                return ids()[-1] != last and kept

            return check

        while ids()[-1] != everything[-1].id:
            last = ids()[-1]
            pane.scroll_end(animate=False, immediate=True)
            await wait_until(pilot, loaded_after(last), what="a later batch")
            assert len(ids()) <= WINDOW
            # What is mounted is always a contiguous run of the conversation.
            start = [m.id for m in everything].index(ids()[0])
            assert ids() == [m.id for m in everything[start : start + len(ids())]]
        assert len(ids()) == WINDOW
        # Scrolling up again loads the older ones and unmounts the newest.
        before = ids()[0]
        pane.scroll_home(animate=False, immediate=True)
        await wait_until(pilot, lambda: ids()[0] != before, what="an older batch")
        assert len(ids()) == WINDOW
        assert ids()[-1] != everything[-1].id
        # End goes back to the newest batch, and new messages are added after it.
        await pilot.press("end")
        await wait_until(pilot, lambda: ids()[-1] == everything[-1].id, what="the last")
        assert len(ids()) == pane.jump_size()
        assert "answer 499 about huge" in screen_text(app)


async def test_switching_an_early_version_of_a_long_conversation_selects_it(make_app, data_dir):
    store = Store(data_dir)
    store.open()
    conversation = Conversation(model="gpt-4o-mini")
    question = conversation.add(Message(role="user", content="the question"))
    for version in ("first version", "second version"):
        conversation.add(Message(role="assistant", content=version), parent=question)
        conversation.extend(
            Message(role="user" if n % 2 == 0 else "assistant", content=f"{version} {n}")
            for n in range(300)
        )
    store.save(conversation)
    store.close()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.chat.sidebar.select(conversation.id)
        app.chat.sidebar.option_list.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == conversation.id)
        pane = app.chat.pane
        await pilot.press("ctrl+up")
        await wait_until(pilot, lambda: pane.has_focus, what="the message list")
        await pilot.press("home")
        await wait_until(
            pilot,
            lambda: pane.selected_message is not None and pane.selected_message.id == question.id,
            what="the first message selected",
        )
        await pilot.press("down")
        assert pane.selected_message is not None
        assert pane.selected_message.content == "second version"
        await pilot.press("left")  # the branch is redrawn from its end; the choice stays selected
        await wait_until(
            pilot,
            lambda: (
                pane.selected_message is not None
                and pane.selected_message.content == "first version"
            ),
            what="the older version selected",
        )
        assert pane.selected is not None and pane.selected.is_attached
        await wait_until(pilot, lambda: "‹1/2›" in screen_text(app), what="scrolled to it")


async def test_thousands_of_rows_are_drawn_in_windows(make_app, data_dir):
    from llmchat_tui.widgets.sidebar import MORE_ID, WINDOW

    seed(data_dir, [f"topic {n}" for n in range(WINDOW * 2 + 50)])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        option_list = app.chat.sidebar.option_list
        assert option_list.option_count == WINDOW + 1  # the window and a "more" row
        assert option_list.get_option_at_index(WINDOW).id == MORE_ID
        assert "… 250 more" in str(option_list.get_option_at_index(WINDOW).prompt)
        option_list.scroll_end(animate=False, immediate=True)
        await wait_until(pilot, lambda: option_list.option_count > WINDOW + 1, what="more rows")
        # Filtering still searches every conversation, drawn or not.
        await pilot.press("ctrl+f", *"topic 3")
        await wait_until(
            pilot,
            lambda: (
                "topic 3" in screen_text(app)
                and len(rows(app)) >= 1
                and all(
                    "topic 3" in app.chat.sidebar.rows[i].title for i in rows(app) if i != MORE_ID
                )
            ),
        )
        oldest = next(i for i, r in app.chat.sidebar.rows.items() if r.title == "topic 0")
        app.chat.sidebar.show_only(None)
        app.chat.sidebar.select(oldest)  # far beyond the first window
        assert option_list.highlighted == option_list.get_option_index(oldest)


async def test_a_filter_typed_while_conversations_are_read_finds_them_once_read(
    make_app, data_dir, monkeypatch
):
    """With no index.json the files are read after the first frame; a filter typed
    before they are all read is searched again when they are (it used to keep showing
    nothing until it was typed again)."""
    from llmchat_tui.app import ChatApp

    made = seed(data_dir, ["Lighthouse facts", "Sourdough", "Rust lifetimes"])
    for index in data_dir.rglob("index.json"):
        index.unlink()
    app = make_app(defer=True)
    assert app.session.store.pending == 3
    monkeypatch.setattr(app, "_read_pending", lambda: None)  # until the filter is typed
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+f")
        await pilot.press(*"sourdough")
        await wait_until(
            pilot, lambda: app.chat.sidebar.filtering and rows(app) == [], what="no hit yet"
        )
        ChatApp._read_pending(app)  # now the files are read
        await wait_until(pilot, lambda: rows(app) == [made[1].id], what="the hit, once read")
