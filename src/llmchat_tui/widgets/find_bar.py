"""The find bar: a query box and where you are among the matches (``3/17``).

It only says what the user did (typed, stepped, closed); the chat screen finds
the matches and moves the pane.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label

from llmchat_tui.widgets.ordered_keys import OrderedInput


class FindInput(OrderedInput):
    """The query box; its keys step through the matches."""

    BINDINGS = [
        Binding("enter,down", "step(1)", "Next match", id="find_next"),
        Binding("shift+enter,up", "step(-1)", "Previous match", id="find_previous"),
        Binding("escape", "close", "Close find", id="find_close"),
    ]

    def action_step(self, step: int) -> None:
        bar = self.parent
        if isinstance(bar, FindBar):
            bar.post_message(FindBar.Stepped(bar, step))

    def action_close(self) -> None:
        bar = self.parent
        if isinstance(bar, FindBar):
            bar.post_message(FindBar.Closed(bar))


class FindBar(Horizontal):
    """Find in the open conversation."""

    DEFAULT_CSS = """
    FindBar {
        height: 3;
        display: none;
        padding: 0 1;
    }
    FindBar.-open {
        display: block;
    }
    FindBar > FindInput {
        width: 1fr;
    }
    FindBar > #find-count {
        width: auto;
        min-width: 12;
        padding: 1 1 0 1;
        color: $text-muted;
    }
    """

    @dataclass
    class Changed(Message):
        """The query changed."""

        bar: FindBar
        query: str

    @dataclass
    class Stepped(Message):
        """Go to the next (1) or previous (-1) match."""

        bar: FindBar
        step: int

    @dataclass
    class Closed(Message):
        """The user closed the bar."""

        bar: FindBar

    def compose(self) -> ComposeResult:
        yield FindInput(placeholder="Find in this conversation", id="find-query")
        yield Label("", id="find-count")

    @property
    def input(self) -> FindInput:
        return self.query_one(FindInput)

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self, query: str | None = None, *, focus: bool = True) -> None:
        """Show the bar (with ``query`` in it, if given), and the focus in it."""
        self.add_class("-open")
        if query is not None and query != self.input.value:
            self.input.value = query
        if focus:
            self.input.focus()

    def close(self) -> None:
        self.remove_class("-open")

    def show_count(self, text: str, found: bool) -> None:
        """``3/17`` (or ``no match``)."""
        self.query_one("#find-count", Label).update(
            Content.styled(text, "$text-muted" if found else "$warning")
        )

    @on(Input.Changed, "#find-query")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self, event.value))
