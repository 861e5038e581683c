"""The help screen: every key and what it does, as the user's keymap has it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown


class HelpScreen(ModalScreen[None]):
    """Every action and its key (the same table as the README, with the user's keys)."""

    BINDINGS = [Binding("escape,f1,q", "close", "Close", id="help_close")]

    def __init__(self, key_table: str, footnote: str) -> None:
        super().__init__()
        self.key_table = key_table
        self.footnote = footnote

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label(Content("llmchat-tui keys"), classes="dialog-title")
            with VerticalScroll():
                yield Markdown(self.key_table + "\n\n" + self.footnote)

    def action_close(self) -> None:
        """Close the help screen."""
        self.dismiss(None)
