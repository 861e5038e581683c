"""The prompt: a multi-line text area where Enter sends."""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

# Pastes longer than this are held aside and shown as a chip: a text area
# with a megabyte in it takes seconds per keystroke.
PASTE_CHIP_CHARS = 10_000
CHIP = re.compile(r"⟦pasted #(\d+): [\d,]+ characters⟧")


class PromptInput(TextArea):
    """Where the user writes. Enter sends; Shift+Enter or Ctrl+J adds a line."""

    # Not priority bindings: a priority binding runs at app level before this
    # widget has handled the keys queued ahead of it, so a fast typist's (or
    # tmux's) "text + Enter" would send the text without its last characters.
    # ``_on_key`` handles these keys in order; the bindings name them for the
    # footer, the help screen and the keymap. Shift+Enter needs a terminal that
    # reports it (kitty, WezTerm, foot, Ghostty, iTerm2 with CSI u); Ctrl+J
    # works everywhere.
    BINDINGS = [
        Binding("enter", "submit", "Send", id="send"),
        Binding("ctrl+j,shift+enter,alt+enter", "newline", "New line", id="newline", show=False),
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

        self._pastes: dict[int, str] = {}

    @property
    def full_text(self) -> str:
        """The text with every paste chip replaced by what was pasted."""
        text = self.text
        if not self._pastes or "⟦pasted #" not in text:
            return text
        return CHIP.sub(lambda m: self._pastes.get(int(m.group(1)), m.group(0)), text)

    def load(self, text: str) -> None:
        """Replace the content (a long text becomes a chip) and go to its end."""
        self._pastes.clear()
        self.text = self._chip(text) if len(text) > PASTE_CHIP_CHARS else text
        self.move_cursor(self.document.end)

    def _chip(self, text: str) -> str:
        number = len(self._pastes) + 1
        self._pastes[number] = text
        return f"⟦pasted #{number}: {len(text):,} characters⟧"

    async def _on_paste(self, event: events.Paste) -> None:
        if len(event.text) > PASTE_CHIP_CHARS and not self.read_only:
            event.stop()
            event.prevent_default()
            self.insert(self._chip(event.text))
            return
        await super()._on_paste(event)

    def action_submit(self) -> None:
        """Send the text (the app decides what to do with it)."""
        self.post_message(self.Submitted(self, self.full_text))

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
