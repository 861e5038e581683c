"""The prompt: a multi-line text area where Enter sends."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

# Keys that insert a newline instead of sending. Shift+Enter needs a terminal
# that reports it (kitty, WezTerm, foot, Ghostty, iTerm2 with CSI u); Ctrl+J
# works everywhere.
NEWLINE_KEYS = ("shift+enter", "ctrl+j", "alt+enter")


class PromptInput(TextArea):
    """Where the user writes. Enter sends; Shift+Enter or Ctrl+J adds a line."""

    BINDINGS = [
        Binding("enter", "submit", "Send", id="send", priority=True),
        Binding(
            "ctrl+j,shift+enter,alt+enter",
            "newline",
            "New line",
            id="newline",
            show=False,
            priority=True,
        ),
    ]

    @dataclass
    class Submitted(Message):
        """The user pressed Enter with this text in the prompt."""

        prompt: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            "",
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            compact=True,
            placeholder="Message (Enter to send, Ctrl+J for a new line)",
        )

    def action_submit(self) -> None:
        """Send the text (the app decides what to do with it)."""
        self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        self.insert("\n")

    async def _on_key(self, event: events.Key) -> None:
        keys = self._bound_keys()
        if event.key in keys["submit"]:
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        if event.key in keys["newline"]:
            event.stop()
            event.prevent_default()
            self.action_newline()
            return
        await super()._on_key(event)

    def _bound_keys(self) -> dict[str, set[str]]:
        """The keys bound to submit and newline, after the app's keymap."""
        keymap = getattr(self.app, "_keymap", {}) or {}
        found: dict[str, set[str]] = {}
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            keys = keymap.get(binding.id or "", binding.key)
            found[binding.action] = {k.strip() for k in keys.split(",") if k.strip()}
        return found
