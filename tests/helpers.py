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

    views = list(app.query(AssistantMessageView))
    return str(views[-1].query_one(".footer").render()) if views else ""


async def type_text(pilot: Any, text: str) -> None:
    """Put ``text`` in the prompt as if typed (newlines via Ctrl+J)."""
    app = pilot.app
    app.prompt.focus()
    app.prompt.insert(text)
    await pilot.pause()
