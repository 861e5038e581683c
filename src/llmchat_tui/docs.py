"""Generate the README's key table and config reference from the code.

    python -m llmchat_tui.docs          # print both blocks
    python -m llmchat_tui.docs --write  # rewrite them in README.md

A test fails when the README and the code disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from textual.binding import Binding

KEY_NAMES = {
    "ctrl": "Ctrl",
    "shift": "Shift",
    "alt": "Alt",
    "escape": "Esc",
    "enter": "Enter",
    "delete": "Delete",
    "tab": "Tab",
    "up": "Up",
    "down": "Down",
}


def pretty_key(key: str) -> str:
    """``ctrl+n`` -> ``Ctrl+N``; ``escape`` -> ``Esc``."""
    parts = []
    for part in key.split("+"):
        parts.append(KEY_NAMES.get(part, part.upper() if len(part) == 1 else part.title()))
    return "+".join(parts)


def binding_rows() -> list[tuple[str, str, str, str]]:
    """(where, keys, what, binding id) for every user-facing binding."""
    from llmchat_tui.app import ChatApp
    from llmchat_tui.screens.dialogs import ConfirmDialog, RenameDialog
    from llmchat_tui.screens.pickers import HelpScreen, PickerDialog, SystemPromptDialog
    from llmchat_tui.widgets.messages import MessagePane
    from llmchat_tui.widgets.prompt import PromptInput
    from llmchat_tui.widgets.sidebar import ConversationList

    rows = []
    for where, owner in (
        ("anywhere", ChatApp),
        ("prompt", PromptInput),
        ("sidebar list", ConversationList),
        ("message list", MessagePane),
        ("rename dialog", RenameDialog),
        ("confirm dialog", ConfirmDialog),
        ("model/provider picker", PickerDialog),
        ("system prompt editor", SystemPromptDialog),
        ("help screen", HelpScreen),
    ):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding)
            keys = " / ".join(pretty_key(k.strip()) for k in binding.key.split(","))
            rows.append((where, keys, binding.description, binding.id or ""))
    return rows


def key_table() -> str:
    lines = ["| Where | Keys | Action | Binding id |", "|---|---|---|---|"]
    for where, keys, what, binding_id in binding_rows():
        lines.append(f"| {where} | {keys} | {what} | `{binding_id}` |")
    return "\n".join(lines)


def config_reference() -> str:
    from llmchat_tui.config import Settings

    lines = ["| Key | Default | Meaning |", "|---|---|---|"]
    for name, default, doc in Settings.documented_fields():
        if isinstance(default, bool):
            shown = "true" if default else "false"
        elif default is None:
            shown = "(unset)"
        elif isinstance(default, dict):
            shown = "{}"
        elif isinstance(default, str):
            shown = f'"{default}"'
        else:
            shown = f"{default:g}" if isinstance(default, float) else str(default)
        lines.append(f"| `{name}` | `{shown}` | {doc} |")
    return "\n".join(lines)


def precedence_table() -> str:
    from llmchat_tui.config_target import precedence_markdown

    return precedence_markdown()


BLOCKS = {"keys": key_table, "config": config_reference, "precedence": precedence_table}


def render_readme(text: str) -> str:
    """``text`` with every generated block replaced by what the code says now."""
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.S)
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--write"]:
        readme = Path(__file__).resolve().parents[2] / "README.md"
        readme.write_text(render_readme(readme.read_text()))
        return 0
    print(key_table())
    print()
    print(config_reference())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
