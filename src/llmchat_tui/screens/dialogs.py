"""Small modal dialogs: rename and confirm."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from llmchat_tui.keymap import Keymap


class RenameDialog(ModalScreen[str | None]):
    """Ask for a new title. Dismisses with the title, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog_cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.current = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content("Rename conversation"), classes="dialog-title")
            yield Input(value=self.current, id="title", select_on_focus=True)
            with Horizontal(classes="buttons"):
                yield Button("Rename", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._accept()
        else:
            self.dismiss(None)

    def _accept(self) -> None:
        title = self.query_one("#title", Input).value.strip()
        self.dismiss(title or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """Ask a yes/no question; Y confirms, Esc or N declines (the buttons name the keys)."""

    BINDINGS = [
        Binding("escape,n", "decline", "No", id="dialog_no"),
        Binding("y", "confirm", "Yes", id="dialog_yes"),
    ]

    def __init__(self, question: str, keymap: Keymap, confirm_label: str = "Delete") -> None:
        super().__init__()
        self.question = question
        self.keymap = keymap
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        yes = self.keymap.label("dialog_yes")
        no = self.keymap.label("dialog_no", every=True)
        with Vertical(classes="dialog"):
            yield Label(Content(self.question), classes="dialog-title")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.confirm_label} ({yes})", variant="error", id="yes")
                yield Button(f"Cancel ({no})", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_decline(self) -> None:
        self.dismiss(False)
