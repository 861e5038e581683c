"""Code fences and code blocks in Markdown, as the renderer reads them. No Textual import.

The one place that knows the CommonMark fenced-code-block rule. Replies are
drawn by Rich, which parses with markdown-it-py, so markdown-it-py is the
authority: :func:`code_blocks` (the copy-code key) and :func:`outline` (export,
and the live reply's check before it freezes a block) read its block tokens
directly. The live reply cannot afford a parse per token, so
:class:`FenceTracker` applies the same rule line by line, each line seen once,
for a document read as flat (fences at the top level; a fence inside a list
item or quote is not seen by the tracker, and the live reply checks each
block against :func:`outline` before freezing it).

The rule (CommonMark 0.31 §4.5, as markdown-it-py implements it): an opening
fence is up to 3 columns of indentation (a tab counts to the next multiple of
4), then 3 or more backticks or 3 or more tildes, then an info string, which
after backticks may not contain a backtick. The fence is closed by a line of
up to 3 columns of indentation, the same character repeated at least as many
times, and nothing after it but spaces and tabs. Its content loses up to as
many columns of indentation as the opening fence had. An unclosed fence runs
to the end of the document (or of its container). Lines indented 4 or more
columns never open or close a fence.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = [
    "Fence",
    "FenceTracker",
    "LineKind",
    "Outline",
    "close_open_fence",
    "code_blocks",
    "fence_content",
    "line_count",
    "line_start",
    "opening_fence",
    "outline",
]

# markdown-it's line breaks (its "normalize" rule): CRLF, CR or LF.
_NEWLINE = re.compile(r"\r\n?|\n")
# A line that is surely no top-level block: after the text and a blank line it
# shows whether the text leaves something open that would swallow what follows.
_SENTINEL = "\n\nend-of-text"


@cache
def _parser() -> MarkdownIt:
    """markdown-it-py set up as Rich's Markdown sets it up, block rules only."""
    # Rich: MarkdownIt().enable("strikethrough").enable("table"); strikethrough is
    # an inline rule, and inline parsing does not change the block structure.
    return MarkdownIt().enable("table").disable("inline")


def _block_tokens(markdown: str) -> list[Token]:
    return _parser().parse(markdown)


def _indent(line: str) -> tuple[int, int]:
    """Leading spaces/tabs of ``line``: (columns, characters); tabs stop every 4."""
    columns = 0
    for position, character in enumerate(line):
        if character == " ":
            columns += 1
        elif character == "\t":
            columns += 4 - columns % 4
        else:
            return columns, position
    return columns, len(line)


@dataclass(frozen=True)
class Fence:
    """An opening code fence: its character, run length and indentation."""

    char: str  # "`" or "~"
    length: int  # 3 or more
    indent: int  # columns of indentation (0-3), removed from each content line
    info: str = ""

    @property
    def markup(self) -> str:
        """The fence's run of backticks or tildes (what closes it, at the least)."""
        return self.char * self.length

    def closed_by(self, line: str) -> bool:
        """Whether ``line`` (without its line break) closes this fence."""
        columns, start = _indent(line)
        if columns >= 4:
            return False
        end = start
        while end < len(line) and line[end] == self.char:
            end += 1
        return end - start >= self.length and not line[end:].strip(" \t")


def opening_fence(line: str) -> Fence | None:
    """The fence ``line`` (without its line break) opens, if it opens one."""
    columns, start = _indent(line)
    if columns >= 4 or len(line) - start < 3:
        return None
    char = line[start]
    if char not in "`~":
        return None
    end = start
    while end < len(line) and line[end] == char:
        end += 1
    if end - start < 3:
        return None
    info = line[end:]
    if char == "`" and "`" in info:
        return None  # inline code, not a fence: ```js`odd
    return Fence(char, end - start, columns, info)


def fence_content(fence: Fence, line: str) -> str:
    """A line inside ``fence`` as the code block shows it: the fence's indentation removed."""
    columns = 0
    position = 0
    while position < len(line) and columns < fence.indent:
        character = line[position]
        if character == " ":
            columns += 1
        elif character == "\t":
            columns += 4 - columns % 4
        else:
            break
        position += 1
    # A tab that reaches past the fence's indentation keeps its excess as spaces.
    return " " * max(columns - fence.indent, 0) + line[position:]


class LineKind(enum.Enum):
    """What a line is to :class:`FenceTracker`."""

    TEXT = "text"  # outside any fence
    OPEN = "open"  # an opening fence
    CODE = "code"  # inside a fence
    CLOSE = "close"  # a closing fence


class FenceTracker:
    """Follows top-level code fences line by line, each line looked at once.

    Feed it every line in order (without the line break; a trailing CR is
    ignored). :attr:`open` is the fence the text so far ends inside, if any.
    """

    def __init__(self) -> None:
        self.open: Fence | None = None

    def feed(self, line: str) -> LineKind:
        """Take the next line; say what it was."""
        line = line.removesuffix("\r")
        if self.open is None:
            self.open = opening_fence(line)
            return LineKind.TEXT if self.open is None else LineKind.OPEN
        if self.open.closed_by(line):
            self.open = None
            return LineKind.CLOSE
        return LineKind.CODE


def line_count(text: str) -> int:
    """How many line breaks markdown-it sees in ``text`` (CRLF, CR or LF)."""
    return len(_NEWLINE.findall(text))


def line_start(text: str, line: int) -> int:
    """The offset in ``text`` where line number ``line`` (from 0) starts, as markdown-it counts."""
    if line <= 0:
        return 0
    for number, match in enumerate(_NEWLINE.finditer(text), start=1):
        if number == line:
            return match.end()
    return len(text)


@dataclass(frozen=True)
class Outline:
    """The top-level blocks of a Markdown text, as the renderer parses it."""

    spans: tuple[tuple[int, int], ...]  # [first line, end line) of each top-level block
    open_fence: Fence | None  # the fence the text ends inside, if any
    open_fence_line: int  # the line that opened it (-1 if none)

    def splits_at(self, line: int) -> bool:
        """Whether the text can be cut before ``line`` without changing any block.

        True when no top-level block runs across that point: drawn as two
        pieces, the text looks as it does drawn whole (Rich draws top-level
        blocks one after another with one blank line between them).
        """
        return not any(start < line < end for start, end in self.spans)


def outline(markdown: str) -> Outline:
    """Parse ``markdown`` (block structure only: about 0.7 ms per KB)."""
    lines = line_count(markdown) + (0 if markdown.endswith(("\n", "\r")) else 1)
    sentinel = line_count(markdown + "\n\n")  # the index of the sentinel line
    tokens = _block_tokens(markdown + _SENTINEL)
    spans = []
    open_fence: Fence | None = None
    opened_at = -1
    for token in tokens:
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        start, end = token.map
        if token.type == "fence" and start < sentinel < end:
            # The sentinel became code: the text ends inside this fence.
            opened_at = start
            first = _NEWLINE.split(markdown, maxsplit=start + 1)[start]
            open_fence = opening_fence(first) or Fence(token.markup[0], len(token.markup), 0)
            end = lines
        if start < lines:
            spans.append((start, min(end, lines)))
    return Outline(tuple(spans), open_fence, opened_at)


def close_open_fence(markdown: str) -> str:
    """``markdown`` with a closing fence added if it ends inside a code fence.

    Whatever is written after a reply stopped in the middle of a code block
    would otherwise be drawn as part of that code. Text that does not end
    inside a fence is returned unchanged.
    """
    if "```" not in markdown and "~~~" not in markdown:
        return markdown
    fence = outline(markdown).open_fence
    if fence is None:
        return markdown
    return markdown.rstrip("\r\n") + "\n" + fence.markup


def code_blocks(markdown: str) -> list[str]:
    """The text of each code block drawn for ``markdown``, in order, for copying.

    Fenced blocks (also inside lists and quotes) and indented code blocks, as
    the renderer draws them: an unclosed fence runs to the end; blocks with
    nothing but whitespace are left out. Costs a parse: about 0.7 ms per KB.
    """
    return [
        token.content.rstrip("\n")
        for token in _block_tokens(markdown)
        if token.type in ("fence", "code_block") and token.content.strip()
    ]
