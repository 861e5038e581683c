"""The request-options dialog: a conversation's temperature, top_p, max_tokens, seed
and reasoning effort. Empty fields are not sent (the server's default applies)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from llmchat_tui.keymap import Keymap
from llmchat_tui.request_options import REASONING_EFFORTS, OptionError, RequestOptions, parse
from llmchat_tui.widgets.ordered_keys import OrderedInput

#: The typed fields: (option name, label, hint shown when empty).
TYPED = (
    ("temperature", "Temperature", "0 – 2"),
    ("top_p", "top_p", "0 – 1"),
    ("max_tokens", "max_tokens", "a whole number"),
    ("seed", "Seed", "a whole number"),
)


class RequestOptionsDialog(ModalScreen[RequestOptions | None]):
    """Edit request options; dismisses with the new options, or None when cancelled.

    Nothing is accepted until every field reads: a wrong value is named under the
    fields and its field gets the focus.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="options_cancel"),
        Binding("ctrl+s", "save", "Save", id="options_save"),
    ]

    def __init__(
        self, current: RequestOptions, default_temperature: float | None, keymap: Keymap
    ) -> None:
        super().__init__()
        self.current = current
        self.default_temperature = default_temperature
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog options"):
            yield Label(Content("Request options for this conversation"), classes="dialog-title")
            yield Label(
                Content.styled("Empty fields are not sent: the server decides.", "$text-muted")
            )
            with Grid(id="option-fields"):
                for name, label, hint in TYPED:
                    value = getattr(self.current, name)
                    if name == "temperature" and self.default_temperature is not None:
                        hint = f"{hint} (config: {self.default_temperature:g})"
                    yield Label(Content(label))
                    yield OrderedInput(
                        value=""
                        if value is None
                        else f"{value:g}"
                        if isinstance(value, float)
                        else str(value),
                        placeholder=hint,
                        id=f"option-{name}",
                        select_on_focus=False,
                    )
                yield Label(Content("Reasoning effort"))
                yield Select(
                    [(effort, effort) for effort in REASONING_EFFORTS],
                    prompt="(not sent)",
                    value=self.current.reasoning_effort or Select.NULL,
                    id="option-reasoning_effort",
                )
            yield Label("", id="option-problem")
            with Horizontal(classes="buttons"):
                yield Button(
                    f"Save ({self.keymap.label('options_save')})", variant="primary", id="save"
                )
                yield Button("Clear all", id="clear")
                yield Button(f"Cancel ({self.keymap.label('options_cancel')})", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#option-temperature", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        elif event.button.id == "clear":
            self.dismiss(RequestOptions())
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        """Accept the options when every field reads; else say which one does not."""
        values: dict[str, Any] = {}
        for name, _label, _hint in TYPED:
            field = self.query_one(f"#option-{name}", Input)
            try:
                values[name] = parse(name, field.value)
            except OptionError as problem:
                self.query_one("#option-problem", Label).update(
                    Content.styled(str(problem), "$error")
                )
                field.focus()
                field.select_all()  # typing replaces the wrong value
                return
        effort = self.query_one("#option-reasoning_effort", Select).value
        values["reasoning_effort"] = effort if isinstance(effort, str) else None
        self.dismiss(RequestOptions(**values))

    def action_cancel(self) -> None:
        self.dismiss(None)
