"""The prompt: a multi-line text area where Enter sends and the new-line keys add a line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from textual import events
from textual.app import SuspendNotSupported
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from llmchat_tui import attachments, external_editor
from llmchat_tui.keymap import Keymap
from llmchat_tui.sanitize import clean_line, normalize_newlines
from llmchat_tui.widgets.ordered_keys import (
    TakesOrderedKeys,
    forward_if_focus_moved,
    run_binding_now,
)

# Pastes longer than this are held aside and shown as a chip: a text area
# with a megabyte in it takes seconds per keystroke.
PASTE_CHIP_CHARS = 10_000
CHIP = re.compile(r"⟦pasted #(\d+): [\d,]+ characters⟧")
#: An ``@path`` word being typed, at the end of the text before the cursor.
_AT_WORD = re.compile(r"(?:^|\s)@(\S*)$")
#: How far back from the cursor an ``@`` word is looked for (characters).
AT_WORD_REACH = 1024


class PromptInput(TakesOrderedKeys, TextArea):
    """Where the user writes. Enter sends; Ctrl+J, Alt+Enter or Shift+Enter adds a line.

    Every way text gets in (typing, a bracketed paste, a draft loaded back) has its
    line ends normalised to ``\\n`` once, here: terminals send pasted newlines as CR
    or CRLF.
    """

    # Not priority bindings: a priority binding runs at app level before this
    # widget has handled the keys queued ahead of it, so a fast typist's (or
    # tmux's) "text + Enter" would send the text without its last characters.
    # ``_on_key`` handles these keys in order; the bindings name them for the
    # footer, the help screen and the keymap. Shift+Enter needs a terminal that
    # reports it (kitty, WezTerm, foot, Ghostty, iTerm2 with CSI u); Ctrl+J and
    # Alt+Enter work everywhere.
    BINDINGS = [
        Binding("enter", "submit", "Send", id="send"),
        Binding("ctrl+j,alt+enter,shift+enter", "newline", "New line", id="newline", show=False),
        Binding("escape", "cancel_edit", "Cancel edit", id="cancel_edit"),
        Binding(
            "tab",
            "complete_path",
            "Complete @file",
            id="complete_path",
            show=False,
            tooltip="Complete the @file name at the cursor (elsewhere: next widget)",
        ),
        Binding(
            "ctrl+o",
            "compose_in_editor",
            "Editor",
            id="compose_in_editor",
            show=False,
            tooltip="Write the message in $VISUAL/$EDITOR",
        ),
    ]

    @dataclass
    class Submitted(Message):
        """The user pressed Enter with this text in the prompt."""

        prompt: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            """The prompt that was submitted."""
            return self.prompt

    @dataclass
    class EditCancelled(Message):
        """The user left edit mode without sending."""

        prompt: PromptInput

    def __init__(self, keymap: Keymap, *, id: str | None = None) -> None:
        self.keymap = keymap
        super().__init__(
            "",
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            compact=True,
            placeholder=self._placeholder(),
        )
        self._pastes: dict[int, str] = {}
        self.editing = False

    def _placeholder(self, editing: bool = False) -> str:
        send = self.keymap.label("send")
        newline = self.keymap.label("newline")
        if editing:
            return f"Your edited message ({send} sends it, {newline} adds a line)"
        return f"Message ({send} to send, {newline} for a new line)"

    @property
    def full_text(self) -> str:
        """The text with every paste chip replaced by what was pasted."""
        text = self.text
        if not self._pastes or "⟦pasted #" not in text:
            return text
        return CHIP.sub(lambda m: self._pastes.get(int(m.group(1)), m.group(0)), text)

    def load(self, text: str) -> None:
        """Replace the content (a long text becomes a chip) and go to its end."""
        text = normalize_newlines(text)
        self._pastes.clear()
        self.text = self._chip(text) if len(text) > PASTE_CHIP_CHARS else text
        self.move_cursor(self.document.end)

    def set_editing(self, title: str | None, subtitle: str = "") -> None:
        """Show on the prompt itself that the user is editing a sent message (or not)."""
        self.editing = title is not None
        self.set_class(self.editing, "-editing")
        self.border_title = title
        self.border_subtitle = subtitle if self.editing else None
        self.placeholder = self._placeholder(self.editing)
        self.refresh_bindings()  # the footer offers "Cancel edit" only while editing

    def _chip(self, text: str) -> str:
        number = len(self._pastes) + 1
        self._pastes[number] = text
        return f"⟦pasted #{number}: {len(text):,} characters⟧"

    async def _on_paste(self, event: events.Paste) -> None:
        # Handled here entirely: Textual also calls TextArea's own paste handler
        # unless the default is prevented (calling it as well pasted twice).
        event.stop()
        event.prevent_default()
        if self.read_only:
            return
        text = normalize_newlines(event.text)
        if len(text) > PASTE_CHIP_CHARS:
            text = self._chip(text)
        result = self.replace(text, *self.selection, maintain_selection_offset=False)
        if result is not None:
            self.move_cursor(result.end_location)
        self.focus()

    def action_submit(self) -> None:
        """Send the text (the screen decides what to do with it).

        The prompt is emptied at once, in the same step as the key: keys typed
        right after Enter (a burst) belong to the next message. The screen puts
        the text back if it cannot be sent. Blank text is left where it is.
        """
        text = self.full_text
        if text.strip():
            self.load("")
        self.post_message(self.Submitted(self, text))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_edit":
            return self.editing  # otherwise Esc goes on to the screen (stop a reply)
        return True

    def action_cancel_edit(self) -> None:
        """Leave edit mode (the screen puts the draft back)."""
        self.post_message(self.EditCancelled(self))

    async def action_compose_in_editor(self) -> None:
        """Open the text in $VISUAL/$EDITOR; what is saved there replaces it.

        The app is suspended while the editor runs (replies pause and go on
        afterwards). An empty or unchanged file changes nothing.
        """
        before = self.full_text
        problem: str | None = None
        edited = before
        try:
            argv = external_editor.editor_command()
            with self.app.suspend():
                # Nothing may escape this block: Textual resumes the app only
                # when it ends normally.
                try:
                    edited = external_editor.edit_text(before, argv)
                except external_editor.EditorError as error:
                    problem = str(error)
                except Exception as error:  # reported; the app must resume
                    problem = f"The editor could not be used: {error}"
        except external_editor.EditorError as error:
            problem = str(error)
        except SuspendNotSupported:
            problem = "The editor cannot be opened in this session."
        if problem is not None:
            self.notify(problem, severity="warning", timeout=8, markup=False)
            return
        edited = normalize_newlines(edited)
        if not edited.strip() or edited == before:
            self.notify("Nothing changed in the editor: the message is as it was.", timeout=4)
            return
        self.load(edited)
        self.focus()

    def at_word(self) -> str | None:
        """The ``@path`` word being typed at the cursor (without the ``@``), if any."""
        row, column = self.cursor_location
        # The end of the line only: a word is short, and a huge pasted line stays cheap.
        before = self.document.get_line(row)[:column][-AT_WORD_REACH:]
        match = _AT_WORD.search(before)
        return match.group(1) if match is not None else None

    def action_complete_path(self) -> None:
        """Complete the ``@path`` word before the cursor; elsewhere Tab moves the focus."""
        row, column = self.cursor_location
        before = self.document.get_line(row)[:column]
        match = _AT_WORD.search(before)
        if match is None:
            self.screen.focus_next()
            return
        word = match.group(1)
        completed, names = attachments.complete_path(word, Path.cwd())
        if not names:
            self.notify(f"No file or folder starts with {word or 'that'} here.", timeout=3)
            return
        if len(names) == 1 and not completed.endswith("/"):
            completed += " "
        if completed.startswith(word) and completed != word:
            self.insert(completed[len(word) :])
        elif len(names) > 1:
            shown = "  ".join(names[:30]) + (
                f"  … {len(names) - 30} more" if len(names) > 30 else ""
            )
            self.notify(clean_line(shown, 600), title="Matching files", timeout=6, markup=False)

    def action_newline(self) -> None:
        """Add a line break at the cursor."""
        self.insert("\n")

    async def _on_key(self, event: events.Key) -> None:
        if forward_if_focus_moved(self, event):
            return
        if self.keymap.matches("send", event.key):
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        if self.keymap.matches("newline", event.key):
            event.stop()
            event.prevent_default()
            self.action_newline()
            return
        await run_binding_now(self, event)
        # Anything else: Textual goes on to TextArea's own key handler.
