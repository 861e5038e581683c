"""Key names as the user sees them, after the user's ``[keymap]``. No Textual import.

Every binding has an id; the config's ``[keymap]`` table may give an id other keys.
:class:`Keymap` answers "which keys run binding X now?" and "what do I call them on
screen?", so every hint (placeholder, welcome panel, dialogs, notifications, help)
names the key the user actually has to press.
"""

from __future__ import annotations

from collections.abc import Mapping

KEY_NAMES = {
    "ctrl": "Ctrl",
    "shift": "Shift",
    "alt": "Alt",
    "escape": "Esc",
    "enter": "Enter",
    "delete": "Delete",
    "backspace": "Backspace",
    "tab": "Tab",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "home": "Home",
    "end": "End",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "space": "Space",
    "backslash": "\\",
    "slash": "/",
}


def pretty_key(key: str) -> str:
    """``ctrl+n`` -> ``Ctrl+N``; ``escape`` -> ``Esc``; ``f8`` -> ``F8``."""
    parts = []
    for part in key.strip().split("+"):
        if part in KEY_NAMES:
            parts.append(KEY_NAMES[part])
        elif len(part) == 1 or (part[:1] == "f" and part[1:].isdigit()):
            parts.append(part.upper())
        else:
            parts.append(part.replace("_", " ").title())
    return "+".join(parts)


def split_keys(keys: str) -> list[str]:
    """``"ctrl+j, shift+enter"`` -> ``["ctrl+j", "shift+enter"]``."""
    return [key.strip() for key in keys.split(",") if key.strip()]


class Keymap:
    """The keys of every binding id: the defaults, with the user's overrides applied.

    Args:
        defaults: binding id -> comma-separated keys, as the code binds them.
        overrides: the config's ``[keymap]`` table (binding id -> keys).
    """

    def __init__(
        self, defaults: Mapping[str, str], overrides: Mapping[str, str] | None = None
    ) -> None:
        self.defaults = dict(defaults)
        self.overrides = {k: v for k, v in (overrides or {}).items() if split_keys(v)}

    def keys(self, binding_id: str) -> list[str]:
        """The key names that run ``binding_id`` now (empty if it has none)."""
        return split_keys(self.overrides.get(binding_id, self.defaults.get(binding_id, "")))

    def matches(self, binding_id: str, key: str) -> bool:
        """Whether pressing ``key`` runs ``binding_id``."""
        return key in self.keys(binding_id)

    def label(self, binding_id: str, *, every: bool = False) -> str:
        """How to name the key of ``binding_id`` on screen: its first key (``Ctrl+J``),
        or with ``every`` all of them (``Ctrl+J / Alt+Enter``); ``?`` if unbound."""
        keys = self.keys(binding_id)
        if not keys:
            return "?"
        shown = keys if every else keys[:1]
        return " / ".join(pretty_key(key) for key in shown)

    def unknown_ids(self) -> list[str]:
        """Ids in the overrides that no binding has (a typo in the config)."""
        return sorted(set(self.overrides) - set(self.defaults))
