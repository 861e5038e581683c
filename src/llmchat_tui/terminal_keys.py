"""Keys that Textual 8.2's input parser gets wrong, taught to it once at start-up.

Terminals send Alt+Enter as ESC CR (and some as ESC LF). Textual 8.2 reads ESC CR
as a plain Enter after its escape delay (the Alt is dropped for named keys, see
Textual issue #6663), so Alt+Enter *sent* the message, and text typed at once after
it could be swallowed into the pending escape sequence. Mapping the two-byte
sequences to ``alt+enter`` makes the parser report the key as soon as both bytes are
in, with no escape delay.

This is the only place that touches Textual's sequence table; a test pins the
behaviour to the exact Textual version in pyproject.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual._ansi_sequences import ANSI_SEQUENCES_KEYS


@dataclass(frozen=True)
class _KeyName:
    """Stands in for a ``textual.keys.Keys`` member: the parser reads only ``.value``."""

    value: str


#: Sequences terminals send for keys the parser does not name right.
EXTRA_SEQUENCES: dict[str, str] = {
    "\x1b\r": "alt+enter",  # xterm, tmux, iTerm2, Windows Terminal (Shift+Enter there too)
    "\x1b\n": "alt+enter",  # terminals that send LF for Enter with Alt
}


def install() -> None:
    """Teach Textual's parser the :data:`EXTRA_SEQUENCES` (idempotent)."""
    table: dict[str, object] = ANSI_SEQUENCES_KEYS  # type: ignore[assignment]
    for sequence, name in EXTRA_SEQUENCES.items():
        table[sequence] = (_KeyName(name),)
