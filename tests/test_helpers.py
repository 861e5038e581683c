"""The test helpers read the screen and the notifications right (they read Textual's
public screenshot and messages, so a change there must show here first)."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from helpers import Toasts, screen_lines


class Board(App[None]):
    CSS = "Static { margin: 1 0 0 3; }"

    def compose(self) -> ComposeResult:
        yield Static(Text("wide 你好 then  two spaces & <b>\x1b]0;t\x07"))


async def test_screen_lines_rebuild_each_row_cell_for_cell():
    app = Board()
    async with app.run_test(size=(50, 4)) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
    assert len(lines) == 4 and all(len(line) <= 50 for line in lines)
    assert lines[0].strip() == ""
    # Column 3 (the margin); the wide characters take two cells each; a raw escape
    # that reached the screen is kept, so tests can catch it (Textual drops the BEL).
    assert lines[1].rstrip() == "   wide 你好 then  two spaces & <b>\x1b]0;t"


async def test_toasts_keep_every_notification_in_order():
    app = Board()
    toasts = Toasts()
    async with app.run_test(size=(50, 4), message_hook=toasts) as pilot:
        app.notify("first")
        app.notify("second", severity="error")
        await pilot.pause()
    assert toasts.messages == ["first", "second"]
