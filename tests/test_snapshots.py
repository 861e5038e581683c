"""SVG snapshots of the real app (update with ``pytest --snapshot-update``)."""

from __future__ import annotations

from conftest import wait_until
from openai_server import Reply

FINISHED_REPLY = """\
Here is how to **reverse a list** in Python:

- `reversed(items)` gives an iterator
- `items[::-1]` makes a copy
- `items.reverse()` works in place

```python
items = [1, 2, 3]
items.reverse()
print(items)  # [3, 2, 1]
```

That's all.
"""


def frozen_clock() -> float:
    return 100.0


def stable(app) -> None:
    """Hide what changes run to run (the loopback port)."""
    app.settings.base_url = "http://localhost:11434/v1"


async def settle(before, pilot) -> None:
    await before(pilot)
    await still(pilot)


async def still(pilot) -> None:
    """Stop every cursor blinking (a snapshot must not catch it mid-blink)."""
    for widget in pilot.app.screen.walk_children(with_self=True):
        if hasattr(widget, "cursor_blink"):
            widget.cursor_blink = False
    await pilot.pause()


def test_fresh_screen(snap_compare, make_app):
    app = make_app()
    stable(app)

    async def before(pilot):
        await wait_until(pilot, lambda: "next 3" in app.chat.status.build().plain, what="estimate")

    assert snap_compare(
        app, terminal_size=(120, 40), run_before=lambda pilot: settle(before, pilot)
    )


def test_finished_reply_with_code_and_list(snap_compare, make_app, server):
    server.queue(
        Reply.text(
            FINISHED_REPLY, usage={"prompt_tokens": 15, "completion_tokens": 61, "total_tokens": 76}
        )
    )
    app = make_app(clock=frozen_clock)
    stable(app)

    async def before(pilot):
        app.chat.prompt.insert("How do I reverse a list in Python?")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (
                (g := app.session.generation(app.chat.conversation.id)) is not None and not g.active
            ),
            what="reply end",
        )
        await pilot.pause()

    assert snap_compare(
        app, terminal_size=(120, 40), run_before=lambda pilot: settle(before, pilot)
    )


def test_populated_sidebar(snap_compare, make_app, data_dir):
    from llmchat_tui.models import Conversation, Message
    from llmchat_tui.store import Store

    store = Store(data_dir)
    store.open()
    titles = [
        "Lighthouse facts",
        "Rust lifetimes, explained",
        "[b]not bold[/b]",
        "Sourdough starter schedule with a title far too long for the sidebar",
        "SQL window functions",
        "Trip plan: Lisbon",
    ]
    for day, title in enumerate(titles, start=1):
        conversation = Conversation(model="llama3.2" if day % 2 else "gpt-4o-mini")
        conversation.add(Message(role="user", content=title))
        conversation.add(Message(role="assistant", content="…"))
        conversation.updated_at = f"2025-03-{day:02d}T10:00:00.000000Z"
        store.save(conversation)
    store.close()
    app = make_app()
    stable(app)

    async def before(pilot):
        await pilot.press("ctrl+b")
        await pilot.pause()

    assert snap_compare(
        app, terminal_size=(120, 40), run_before=lambda pilot: settle(before, pilot)
    )


def test_model_picker_dialog(snap_compare, make_app, server):
    server.models = ["gpt-4o-mini", "llama3.2", "qwen2.5:7b", "mistral-small"]
    app = make_app()
    stable(app)

    async def before(pilot):
        await pilot.press("f3")
        await wait_until(
            pilot,
            lambda: "4 available" in str(app.screen.query_one("#picker-note").render()),
            what="list loaded",
        )

    assert snap_compare(
        app, terminal_size=(120, 40), run_before=lambda pilot: settle(before, pilot)
    )


def test_system_prompt_dialog(snap_compare, make_app):
    app = make_app(prompts={"pirate": "Talk like a pirate.", "terse": "Answer in one line."})
    stable(app)

    async def before(pilot):
        await pilot.press("f5")
        await pilot.pause()

    assert snap_compare(
        app, terminal_size=(120, 40), run_before=lambda pilot: settle(before, pilot)
    )


def test_help_screen(snap_compare, make_app):
    app = make_app()
    stable(app)

    async def before(pilot):
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(
        app, terminal_size=(120, 40), run_before=lambda pilot: settle(before, pilot)
    )
