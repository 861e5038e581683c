"""Find fenced code blocks in Markdown text (for copying). No Textual import."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n", re.M)


def code_blocks(markdown: str) -> list[str]:
    """The contents of each fenced code block, in order (an unclosed last fence
    runs to the end, as Markdown renders it)."""
    blocks = []
    position = 0
    while True:
        opening = _FENCE.search(markdown, position)
        if opening is None:
            return blocks
        fence = opening.group("fence")
        closing = re.compile(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}[ \t]*$", re.M)
        end = closing.search(markdown, opening.end())
        if end is None:
            blocks.append(markdown[opening.end() :].rstrip("\n"))
            return blocks
        blocks.append(markdown[opening.end() : end.start()].rstrip("\n"))
        position = end.end()
