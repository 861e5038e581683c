"""The dialog that chooses the models of a compare (two to four of them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from llmchat_tui.compare import MAX_MODELS, MIN_MODELS, CompareError, parse_models
from llmchat_tui.sanitize import clean_line

#: What the keys do, under the list.
HOW = "Enter adds or removes the highlighted model · Enter on the empty box compares · Esc cancels"


class ComparePicker(ModalScreen[list[str] | None]):
    """Choose 2-4 models: Enter adds or removes the highlighted one (or the typed
    ``[profile:]model`` when nothing in the list matches); Enter on the empty box
    starts the compare; Esc cancels.

    ``choices`` are known at once (the conversation's model, each profile's
    model as ``profile:model``); ``load`` adds the server's list in the background.
    """

    MAX_SHOWN = 300

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="compare_cancel"),
        Binding("down", "cursor_down", "Next", id="compare_next", show=False),
        Binding("up", "cursor_up", "Previous", id="compare_previous", show=False),
    ]

    def __init__(
        self,
        *,
        chosen: list[str],
        choices: list[str],
        profiles: Collection[str] = (),
        load: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        super().__init__()
        self.chosen = list(chosen)
        self.choices = list(dict.fromkeys(choices))
        self.profiles = profiles
        self.load = load
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label(
                Content(f"Compare models: choose {MIN_MODELS} to {MAX_MODELS}"),
                classes="dialog-title",
            )
            yield Label(Content(""), id="compare-chosen")
            yield Input(placeholder="Type to filter, or [profile:]model", id="query")
            yield OptionList(id="choices")
            yield Label(Content(""), id="picker-note")

    def on_mount(self) -> None:
        self.query_one("#query", Input).focus()
        self._refill("")
        self._show_chosen()
        if self.load is None:
            self._note(HOW)
        else:
            self._note("Loading the model list from the server…")
            self._load()

    @work(exclusive=True, group="compare-load", exit_on_error=False)
    async def _load(self) -> None:
        assert self.load is not None
        try:
            found = await self.load()
        except Exception as error:
            reason = clean_line(str(error) or type(error).__name__, 80)
            self._note(f"Could not list the server's models ({reason}); type names instead.")
            return
        self.choices = list(dict.fromkeys(self.choices + [clean_line(c, 120) for c in found]))
        self._note(HOW)
        self._refill(self.query_one("#query", Input).value)

    def _note(self, text: str, style: str = "$text-muted") -> None:
        self.query_one("#picker-note", Label).update(Content.styled(text, style))

    def _show_chosen(self) -> None:
        count = len(self.chosen)
        if count:
            names = " · ".join(f"{n}. {clean_line(m, 40)}" for n, m in enumerate(self.chosen, 1))
            text = Content.assemble(("Chosen: ", "bold"), names)
        else:
            text = Content.styled("Nothing chosen yet", "$text-muted")
        if count >= MIN_MODELS:
            hint = "  (Enter on the empty box compares them)"
        else:
            hint = f"  (choose {MIN_MODELS - count} more)"
        self.query_one("#compare-chosen", Label).update(
            Content.assemble(text, (hint, "$text-muted"))
        )

    def _refill(self, query: str) -> None:
        needle = query.strip().lower()
        matching = [c for c in self.choices if needle in c.lower()] if needle else self.choices
        self._shown = matching[: self.MAX_SHOWN]
        option_list = self.query_one("#choices", OptionList)
        option_list.set_options(
            Option(Content.assemble(("✓ " if c in self.chosen else "  ", "$success"), c))
            for c in self._shown
        )
        # Typing highlights the first match; an empty box highlights nothing, so
        # Enter there means "compare these".
        option_list.highlighted = 0 if needle and self._shown else None

    @on(Input.Changed, "#query")
    def _filter(self, event: Input.Changed) -> None:
        self._refill(event.value)

    @on(Input.Submitted, "#query")
    def _submit(self, event: Input.Submitted) -> None:
        option_list = self.query_one("#choices", OptionList)
        typed = event.value.strip()
        if option_list.highlighted is not None and self._shown:
            self._toggle(self._shown[option_list.highlighted])
        elif typed:
            self._toggle(clean_line(typed, 200))
        else:
            self._finish()

    @on(OptionList.OptionSelected, "#choices")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self._toggle(self._shown[event.option_index])

    def _toggle(self, name: str) -> None:
        if name in self.chosen:
            self.chosen.remove(name)
        elif len(self.chosen) >= MAX_MODELS:
            self._note(f"At most {MAX_MODELS} models: remove one first.", "$warning")
            return
        else:
            self.chosen.append(name)
        self._note(HOW)
        query = self.query_one("#query", Input)
        query.value = ""
        query.focus()
        self._refill("")
        self._show_chosen()

    def _finish(self) -> None:
        try:
            refs = parse_models(self.chosen, self.profiles)
        except CompareError as error:
            self._note(f"{str(error).capitalize()}.", "$warning")
            return
        self.dismiss([ref.label for ref in refs])

    def action_cursor_down(self) -> None:
        self.query_one("#choices", OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#choices", OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
