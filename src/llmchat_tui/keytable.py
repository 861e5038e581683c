"""Every key binding of the app in one catalogue: the keymap's defaults, the help
screen's table and the README's (through ``scripts/docs.py``).

Imports the screens and widgets that own bindings, never the app module, so the
app can import it. The app-wide bindings live here for the same reason.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

from llmchat_tui.keymap import Keymap, pretty_key, split_keys
from llmchat_tui.screens.chat import ChatScreen
from llmchat_tui.screens.compare_picker import ComparePicker
from llmchat_tui.screens.dialogs import ConfirmDialog, RenameDialog
from llmchat_tui.screens.help import HelpScreen
from llmchat_tui.screens.options_dialog import RequestOptionsDialog
from llmchat_tui.screens.pickers import PickerDialog, SystemPromptDialog
from llmchat_tui.widgets.find_bar import FindInput
from llmchat_tui.widgets.messages import MessagePane
from llmchat_tui.widgets.prompt import PromptInput
from llmchat_tui.widgets.sidebar import ConversationList, FilterInput

#: The app's own keys, active on every screen.
APP_BINDINGS: list[BindingType] = [
    Binding("f1", "help", "Help", id="help"),
    Binding("ctrl+p", "command_palette", "Palette", id="command_palette", show=False),
    Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
]

#: (where, bindings) for every place that has keys, in the order the help shows them.
OWNERS: list[tuple[str, list[BindingType]]] = [
    ("anywhere", APP_BINDINGS),
    ("chat", ChatScreen.BINDINGS),
    ("prompt", PromptInput.BINDINGS),
    ("sidebar filter", FilterInput.BINDINGS),
    ("sidebar list", ConversationList.BINDINGS),
    ("message list", MessagePane.BINDINGS),
    ("find bar", FindInput.BINDINGS),
    ("rename dialog", RenameDialog.BINDINGS),
    ("confirm dialog", ConfirmDialog.BINDINGS),
    ("model/provider picker", PickerDialog.BINDINGS),
    ("compare picker", ComparePicker.BINDINGS),
    ("system prompt editor", SystemPromptDialog.BINDINGS),
    ("request options", RequestOptionsDialog.BINDINGS),
    ("help screen", HelpScreen.BINDINGS),
]


def _bindings() -> list[tuple[str, Binding]]:
    found = []
    for where, bindings in OWNERS:
        for binding in bindings:
            assert isinstance(binding, Binding), binding
            found.append((where, binding))
    return found


def default_keys() -> dict[str, str]:
    """Binding id -> its keys as the code binds them."""
    return {binding.id: binding.key for _, binding in _bindings() if binding.id}


def make_keymap(overrides: dict[str, str] | None = None) -> Keymap:
    """The keymap of the app: the defaults with the config's ``[keymap]`` applied."""
    return Keymap(default_keys(), overrides)


def binding_rows(keymap: Keymap | None = None) -> list[tuple[str, str, str, str]]:
    """(where, keys, what, binding id) for every user-facing binding, as ``keymap`` has them."""
    keymap = keymap or make_keymap()
    rows = []
    for where, binding in _bindings():
        keys = keymap.keys(binding.id) if binding.id else split_keys(binding.key)
        shown = " / ".join(pretty_key(key) for key in keys) or "(none)"
        # The footer shows the short description; the table the longer tooltip.
        what = binding.tooltip or binding.description
        rows.append((where, shown, what, binding.id or ""))
    return rows


def key_table(keymap: Keymap | None = None) -> str:
    """The key table as Markdown."""
    lines = ["| Where | Keys | Action | Binding id |", "|---|---|---|---|"]
    for where, keys, what, binding_id in binding_rows(keymap):
        lines.append(f"| {where} | {keys} | {what} | `{binding_id}` |")
    return "\n".join(lines)
