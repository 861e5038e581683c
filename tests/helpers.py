"""Helpers for app tests: reading the screen, typing."""

from __future__ import annotations

import html
import re
from typing import Any

from rich.cells import cell_len

#: One run of text in Textual's SVG screenshot (Rich's ``export_svg``): where it starts
#: (x, in units of one cell's width), how wide one character is drawn, which line.
_SVG_TEXT = re.compile(
    r'<text class="[^"]*" x="(?P<x>[\d.]+)" y="[\d.]+" textLength="(?P<length>[\d.]+)" '
    r'clip-path="url\(#[^"]*-line-(?P<line>\d+)\)">(?P<text>[^<]*)</text>'
)


def screen_lines(app: Any) -> list[str]:
    """The app's screen as it is drawn now, one string per row (each the full width).

    Read from Textual's public screenshot (:meth:`App.export_screenshot`): every run
    of text in it knows its row and first column, so the rows are rebuilt cell for
    cell, wide characters included.
    """
    width, height = app.size
    rows: list[list[tuple[int, str]]] = [[] for _ in range(height)]
    for found in _SVG_TEXT.finditer(app.export_screenshot()):
        raw = html.unescape(found["text"].replace("&#160;", " "))
        char_width = float(found["length"]) / len(raw)  # textLength is per character
        text = raw.rstrip("\n")
        column = round(float(found["x"]) / char_width)
        row = int(found["line"])
        if row < height:
            rows[row].append((column, text))
    lines = []
    for runs in rows:
        line = ""
        for column, text in sorted(runs):
            line += " " * max(0, column - cell_len(line)) + text
        lines.append(line + " " * max(0, width - cell_len(line)))
    return lines


def screen_text(app: Any) -> str:
    """Everything visible on the app's screen, as plain text lines."""
    return "\n".join(screen_lines(app))


class Toasts:
    """A ``message_hook`` for ``app.run_test`` that keeps the text of every notification
    the app posts (``app.notify``), in order: ``run_test(message_hook=toasts)``."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message: Any) -> None:
        from textual.notifications import Notify

        if isinstance(message, Notify):
            self.messages.append(message.notification.message)


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
