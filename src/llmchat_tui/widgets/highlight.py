"""Marking the words the find bar looks for, in drawn messages.

A reply is drawn as Rich Markdown, so the words are found in what is drawn (each
line as it appears on screen), not in the Markdown source: ``**otter**`` is found
as "otter". Case is ignored, as the find bar ignores it. A match broken across two
lines by wrapping is not marked (the message itself still is).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from rich.style import Style

#: How a found word is drawn (the same in light and dark themes).
MATCH_STYLE = Style(color="black", bgcolor="yellow")


def spans_of(text: str, needle: str) -> list[tuple[int, int]]:
    """Where ``needle`` is in ``text`` (case ignored), as (start, end), not overlapping."""
    wanted = needle.strip().lower()
    if not wanted:
        return []
    hay = text.lower()
    if len(hay) != len(text):
        return []  # lower-casing changed the length: offsets would not be the text's
    found = []
    at = hay.find(wanted)
    while at != -1:
        found.append((at, at + len(wanted)))
        at = hay.find(wanted, at + len(wanted))
    return found


def mark_line(line: Iterable[Segment], needle: str, style: Style = MATCH_STYLE) -> list[Segment]:
    """One drawn line with the matches of ``needle`` in ``style`` (over their own)."""
    segments = list(line)
    text = "".join(segment.text for segment in segments if not segment.control)
    spans = spans_of(text, needle)
    if not spans:
        return segments
    out: list[Segment] = []
    position = 0
    for segment in segments:
        if segment.control:
            out.append(segment)
            continue
        start, end = position, position + len(segment.text)
        position = end
        cuts = sorted({start, end, *(p for s, e in spans for p in (s, e) if start < p < end)})
        for left, right in itertools.pairwise(cuts):
            piece = segment.text[left - start : right - start]
            inside = any(s <= left and right <= e for s, e in spans)
            own = segment.style or Style()
            out.append(Segment(piece, own + style if inside else segment.style))
    return out


class Highlighted:
    """``renderable`` with every match of ``needle`` marked, line by line."""

    def __init__(self, renderable: RenderableType, needle: str) -> None:
        self.renderable = renderable
        self.needle = needle

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options, pad=False, new_lines=False)
        yield from _joined(mark_line(line, self.needle) for line in lines)


def _joined(lines: Iterable[list[Segment]]) -> Iterator[Segment]:
    for line in lines:
        yield from line
        yield Segment.line()
