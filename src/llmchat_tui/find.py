"""Finding text in a conversation: every match on the branch on screen, in order.

Case is ignored (``casefold``), so "Otter" finds "otter" and "OTTER". No Textual
import here: the find bar asks for the matches and the pane shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmchat_tui.models import Message


@dataclass(frozen=True)
class Match:
    """One occurrence of the query: in ``message``, at ``start`` (a character offset)."""

    message: Message
    start: int
    end: int


def find(messages: Sequence[Message], query: str) -> list[Match]:
    """Every occurrence of ``query`` in the messages' text, top to bottom.

    An empty (or all-space) query finds nothing. Offsets are into the text as
    saved. Matches do not overlap.
    """
    needle = query.strip().casefold()
    if not needle:
        return []
    found: list[Match] = []
    for message in messages:
        text = message.content
        hay = text.casefold()
        if len(hay) != len(text):
            # Case folding changed the length (ß -> ss), so its offsets would not be
            # the text's: compare lower-cased instead.
            hay, wanted = text.lower(), query.strip().lower()
        else:
            wanted = needle
        at = hay.find(wanted)
        while at != -1:
            found.append(Match(message, at, at + len(wanted)))
            at = hay.find(wanted, at + len(wanted))
    return found


def position(matches: Sequence[Match], index: int | None) -> str:
    """``3/17`` for the third of 17 matches, ``0/0`` for none."""
    if not matches or index is None:
        return "0/0" if not matches else f"–/{len(matches)}"
    return f"{index + 1}/{len(matches)}"
