"""Pickers and editors: model, provider profile, system prompt, and the help screen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, TextArea
from textual.widgets.option_list import Option

from llmchat_tui.keymap import Keymap
from llmchat_tui.sanitize import clean_line


class PickerDialog(ModalScreen[str | None]):
    """Pick one of many strings: type to filter, Enter picks.

    With ``allow_free_text`` the typed text itself is accepted when nothing in
    the list matches (or the list could not be loaded). ``load`` fills the
    list in the background; its failure is shown and free text still works.
    """

    #: The most options drawn at once.
    MAX_SHOWN = 300

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker_cancel"),
        Binding("down", "cursor_down", "Next", id="picker_next", show=False),
        Binding("up", "cursor_up", "Previous", id="picker_previous", show=False),
    ]

    def __init__(
        self,
        title: str,
        *,
        current: str = "",
        choices: list[str] | None = None,
        load: Callable[[], Awaitable[list[str]]] | None = None,
        allow_free_text: bool = True,
        placeholder: str = "Type to filter",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.current = current
        self.choices = list(choices or [])
        self.load = load
        self.allow_free_text = allow_free_text
        self.placeholder = placeholder
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label(Content(self.title_text), classes="dialog-title")
            yield Input(placeholder=self.placeholder, id="query")
            yield OptionList(id="choices")
            yield Label(Content(""), id="picker-note")

    def on_mount(self) -> None:
        self.query_one("#query", Input).focus()
        self._refill("")
        if self.load is not None:
            self._note("Loading the list from the server…")
            self._load()

    @work(exclusive=True, group="picker-load", exit_on_error=False)
    async def _load(self) -> None:
        assert self.load is not None
        try:
            found = await self.load()
        except Exception as error:
            reason = clean_line(str(error) or type(error).__name__, 80)
            self._note(f"Could not list them ({reason}); type a name and press Enter.")
            return
        self.choices = [clean_line(c, 120) for c in found]
        self.loaded = True
        self._refill(self.query_one("#query", Input).value)

    def _note(self, text: str) -> None:
        self.query_one("#picker-note", Label).update(Content.styled(text, "$text-muted"))

    def _refill(self, query: str) -> None:
        needle = query.strip().lower()
        matching = [c for c in self.choices if needle in c.lower()] if needle else self.choices
        # Drawing tens of thousands of options takes seconds: show the first ones
        # and say how many more there are (typing narrows them).
        shown = matching[: self.MAX_SHOWN]
        if len(matching) > len(shown):
            self._note(
                f"Showing {len(shown):,} of {len(matching):,}: type to narrow"
                + ("; or type any name" if self.allow_free_text else "")
            )
        elif self.choices and self.loaded:
            self._note(
                f"{len(self.choices):,} available"
                + ("; or type any name" if self.allow_free_text else "")
            )
        option_list = self.query_one("#choices", OptionList)
        option_list.set_options(
            Option(Content.assemble((c, "bold") if c == self.current else c), id=str(i))
            for i, c in enumerate(shown)
        )
        self._shown = shown
        if shown:
            index = shown.index(self.current) if self.current in shown else 0
            option_list.highlighted = index

    @on(Input.Changed, "#query")
    def _filter(self, event: Input.Changed) -> None:
        self._refill(event.value)

    @on(Input.Submitted, "#query")
    def _submit(self, event: Input.Submitted) -> None:
        option_list = self.query_one("#choices", OptionList)
        if option_list.highlighted is not None and self._shown:
            self.dismiss(self._shown[option_list.highlighted])
        elif self.allow_free_text and event.value.strip():
            self.dismiss(clean_line(event.value, 200))

    @on(OptionList.OptionSelected, "#choices")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._shown[event.option_index])

    def action_cursor_down(self) -> None:
        self.query_one("#choices", OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#choices", OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class SystemPromptDialog(ModalScreen[str | None]):
    """Edit a conversation's system prompt; named prompts from the config can be inserted."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="system_prompt_cancel"),
        Binding("ctrl+s", "save", "Save", id="system_prompt_save"),
    ]

    def __init__(self, current: str, named: dict[str, str], keymap: Keymap) -> None:
        super().__init__()
        self.current = current
        self.named = named
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(Content("System prompt for this conversation"), classes="dialog-title")
            yield TextArea(self.current, id="system-prompt", soft_wrap=True)
            if self.named:
                yield Label(Content.styled("Named prompts (from the config):", "$text-muted"))
                yield OptionList(
                    *[Option(Content(name), id=name) for name in self.named], id="named-prompts"
                )
            with Horizontal(classes="buttons"):
                save = self.keymap.label("system_prompt_save")
                cancel = self.keymap.label("system_prompt_cancel")
                yield Button(f"Save ({save})", variant="primary", id="save")
                yield Button(f"Cancel ({cancel})", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#system-prompt", TextArea).focus()

    @on(OptionList.OptionSelected, "#named-prompts")
    def _use_named(self, event: OptionList.OptionSelected) -> None:
        name = event.option.id or ""
        area = self.query_one("#system-prompt", TextArea)
        area.text = self.named.get(name, "")
        area.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        self.dismiss(self.query_one("#system-prompt", TextArea).text.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
