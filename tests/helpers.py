"""Helpers for app tests: reading the screen, typing."""

from __future__ import annotations

from typing import Any


def screen_text(app: Any) -> str:
    """Everything visible on the app's screen, as plain text lines."""
    lines = []
    for strip in app.screen._compositor.render_strips():
        lines.append(strip.text)
    return "\n".join(lines)


def footer_text(app: Any) -> str:
    """The status line under the last reply, as plain text."""
    from llmchat_tui.widgets.messages import AssistantMessageView

    views = list(app.chat.query(AssistantMessageView))
    return str(views[-1].query_one(".footer").render()) if views else ""


async def type_text(pilot: Any, text: str) -> None:
    """Put ``text`` in the prompt as if typed (newlines via Ctrl+J)."""
    app = pilot.app
    app.chat.prompt.focus()
    app.chat.prompt.insert(text)
    await pilot.pause()


async def send(pilot: Any, text: str) -> None:
    """Type ``text`` into the prompt and press Enter."""
    await type_text(pilot, text)
    await pilot.press("enter")


def current(app: Any) -> Any:
    """The open conversation's reply (running or last)."""
    return app.session.generation(app.chat.conversation.id)


async def finished(pilot: Any, timeout: float = 15.0) -> Any:
    """Wait until the open conversation's reply has ended; return it."""
    from conftest import wait_until

    generation = current(pilot.app)
    await wait_until(
        pilot, lambda: generation is not None and not generation.active, timeout, "reply end"
    )
    await pilot.pause()
    return generation
