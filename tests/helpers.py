"""Helpers for app tests: reading the screen, typing."""

from __future__ import annotations

from typing import Any


def screen_text(app: Any) -> str:
    """Everything visible on the app's screen, as plain text lines."""
    lines = []
    for strip in app.screen._compositor.render_strips():
        lines.append(strip.text)
    return "\n".join(lines)


async def type_text(pilot: Any, text: str) -> None:
    """Put ``text`` in the prompt as if typed (newlines via Ctrl+J)."""
    app = pilot.app
    app.prompt.focus()
    app.prompt.insert(text)
    await pilot.pause()
