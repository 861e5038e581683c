"""How a reply's Markdown is drawn: live, frozen block by block, or whole from history.

Rich's ``Markdown`` (markdown-it-py underneath) with two changes, both so that
text that was saved is never invisible:

- raw HTML blocks (``<div>``, ``<pre>``, ``<!-- -->``…) are shown as the text
  they are; Rich draws nothing for them;
- a top-level block nested deeper than markdown-it keeps (it stops parsing at
  20 levels and drops the rest: 20 quotes, 10 lists) or deeper than the width
  leaves room for (each quote takes 4 columns, each list 3; Rich then draws
  nothing) is drawn as plain, sanitized text, with a long run of quote and
  list markers in front of a line shortened. The rest of the reply stays
  Markdown.

No Textual import here: these are Rich renderables.
"""

from __future__ import annotations

import re
from typing import ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markdown import Markdown as RichMarkdown
from rich.markdown import MarkdownElement, TextElement
from rich.segment import Segment
from rich.text import Text

from llmchat_tui.sanitize import clean

__all__ = ["AFTER_NOTHING", "FrozenBlock", "ReplyMarkdown", "markdown_renderable"]

# Deeper than this markdown-it stops parsing and drops the text (Rich parses
# with the "commonmark" preset: 20 levels; a quote is one, a list item two).
_MAX_NESTING = int(MarkdownIt().options["maxNesting"])
# Fewer columns than this left for text inside quotes and lists: plain text instead.
_MIN_TEXT_WIDTH = 10
# markdown-it's line breaks: its token maps count lines this way.
_NEWLINE = re.compile(r"\r\n?|\n")
# The quote and list markers a line starts with (what nests it).
_CONTAINER_PREFIX = re.compile(r"(?:[ \t]*(?:>|[-+*](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$)))+[ \t]*")
_LONG_PREFIX = 24


class _Block:
    """One top-level block of a reply: its source lines and how deep it nests."""

    def __init__(self, start: int, end: int) -> None:
        self.start = start  # first source line
        self.end = end  # source line after the block
        self.indent = 0  # columns its deepest text is indented by quotes and lists
        self.too_deep = False  # nested past what markdown-it keeps

    def fits(self, width: int) -> bool:
        """Whether Rich can draw this block's text at ``width`` columns."""
        return not self.too_deep and self.indent + _MIN_TEXT_WIDTH <= width


def _blocks(tokens: list[Token]) -> list[_Block]:
    """The top-level blocks of a parse and their nesting, in one pass over the tokens."""
    blocks: list[_Block] = []
    steps: list[int] = []
    indent = 0
    ordered = False
    for token in tokens:
        if token.level == 0 and token.nesting >= 0 and token.map is not None:
            blocks.append(_Block(token.map[0], token.map[1]))
        if not blocks:
            continue
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            ordered = kind == "ordered_list_open"
        elif kind in ("blockquote_open", "list_item_open"):
            block = blocks[-1]
            if token.level >= _MAX_NESTING - 1:
                block.too_deep = True  # its content was at the limit: dropped
            # As Rich draws them: a quote takes 4 columns, a bullet 3, a number
            # its digits and 2.
            if kind == "blockquote_open":
                step = 4
            else:
                step = len(token.info) + 2 if ordered else 3
            steps.append(step)
            indent += step
            block.indent = max(block.indent, indent)
        elif kind in ("blockquote_close", "list_item_close") and steps:
            indent -= steps.pop()
    return blocks


def _flat_line(line: str) -> str:
    """``line`` with a long run of quote and list markers in front shortened."""
    prefix = _CONTAINER_PREFIX.match(line)
    if prefix is None or prefix.end() <= _LONG_PREFIX:
        return line
    last = prefix.group().split()[-1]
    marker = ">" if last.startswith(">") else last
    return f"… {marker} {line[prefix.end() :]}"


def _blank(line: list[Segment]) -> bool:
    """An empty line (spaces without a background, as between paragraphs)."""
    return all(
        not segment.text.strip() and (segment.style is None or not segment.style.bgcolor)
        for segment in line
    )


def _trimmed_lines(
    console: Console, renderable: RenderableType, options: ConsoleOptions
) -> list[list[Segment]]:
    """``renderable``'s lines at their natural height, without blank lines at either end."""
    lines = console.render_lines(renderable, options.update(height=None), pad=False)
    while lines and _blank(lines[-1]):
        lines.pop()
    while lines and _blank(lines[0]):
        lines.pop(0)
    return lines


class _HtmlBlock(TextElement):
    """Raw HTML written in a reply, shown as the text it is."""

    style_name = "markdown.paragraph"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.text.rstrip()
        yield self.text


#: Code block colours (Pygments styles) for dark and light app themes.
CODE_THEMES = {True: "monokai", False: "default"}
_code_theme = CODE_THEMES[True]


def use_dark_code(dark: bool) -> bool:
    """Draw code blocks from now on for a dark (or light) theme; True if that changed
    (the replies on screen must then be drawn again)."""
    global _code_theme
    wanted = CODE_THEMES[dark]
    changed = wanted != _code_theme
    _code_theme = wanted
    return changed


class _Markdown(RichMarkdown):
    """Rich Markdown as replies are drawn (themed code, no hyperlinks, HTML shown)."""

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **RichMarkdown.elements,
        "html_block": _HtmlBlock,
    }

    def __init__(self, text: str) -> None:
        super().__init__(text or " ", code_theme=_code_theme, hyperlinks=False)


#: How many draws (at different widths) each reply keeps.
DRAWS_KEPT = 3


class ReplyMarkdown(_Markdown):
    """A reply's Markdown, drawn so that none of its text is invisible.

    Blocks nested too deep to draw are plain text (see the module docstring).
    Finding them costs one pass over the tokens Rich parsed anyway, and each
    draw one comparison per top-level block; plain-text fallback only touches
    the blocks that need it.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._blocks = _blocks(self.parsed)
        #: The segments of the latest draws, by what they were drawn for. Textual draws
        #: a widget's renderable twice at one width (once to measure its height, once
        #: for its lines), and a layout of columns measures at more than one width:
        #: drawing again at a width seen lately costs nothing.
        self._drawn: dict[tuple[object, ...], list[Segment]] = {}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        key = _render_key(console, options)
        kept = self._drawn.get(key)
        if kept is not None:
            yield from kept
            return
        drawn = list(self._render(console, options))
        segments = [item for item in drawn if isinstance(item, Segment)]
        if len(segments) == len(drawn):  # only segments are kept (all there is today)
            if len(self._drawn) >= DRAWS_KEPT:
                del self._drawn[next(iter(self._drawn))]
            self._drawn[key] = segments
        yield from drawn

    def _render(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if all(block.fits(width) for block in self._blocks):
            yield from super().__rich_console__(console, options)
            return
        # Runs of blocks that fit stay Markdown; each other block is plain
        # text; one blank line between pieces, as between Markdown blocks.
        lines = _NEWLINE.split(self.markup)
        pieces: list[RenderableType] = []
        run_start: int | None = None
        for block in self._blocks:
            if block.fits(width):
                if run_start is None:
                    run_start = block.start
                continue
            if run_start is not None:
                pieces.append(_Markdown("\n".join(lines[run_start : block.start])))
                run_start = None
            plain = "\n".join(_flat_line(line) for line in lines[block.start : block.end])
            pieces.append(Text(clean(plain.strip("\n"))))
        if run_start is not None:
            pieces.append(_Markdown("\n".join(lines[run_start:])))
        new_line = Segment.line()
        for index, piece in enumerate(pieces):
            if index:
                yield new_line
            for line in _trimmed_lines(console, piece, options):
                yield from line
                yield new_line


def _render_key(console: Console, options: ConsoleOptions) -> tuple[object, ...]:
    """What a render depends on, the height aside (Rich's Markdown ignores it)."""
    return (
        id(console),
        _code_theme,
        options.max_width,
        options.min_width,
        options.justify,
        options.overflow,
        options.no_wrap,
        options.highlight,
        options.markup,
        options.ascii_only,
        options.encoding,
        options.legacy_windows,
        options.is_terminal,
    )


def markdown_renderable(text: str) -> ReplyMarkdown:
    """How every reply body is drawn (live or from history)."""
    return ReplyMarkdown(text)


# Rich draws top-level blocks one after another, with one blank line before a
# block when the element closed just before asks for one (every element but a
# horizontal rule, which draws an empty line of its own). A block drawn on its
# own lacks that context, so it is drawn after a stand-in predecessor whose
# lines are then skipped: (stand-in text, its lines).
AFTER_NOTHING = ("", 0)  # the block starts the reply
_AFTER_RULE = ("---\n\n", 2)  # the rule and the empty line under it
_AFTER_BLOCK = ("x\n\n", 1)  # any other block: a one-word paragraph


class FrozenBlock:
    """A piece of a reply, drawn with exactly the lines it has in the reply drawn whole.

    ``after`` stands for what precedes it (:data:`AFTER_NOTHING` for the
    first piece, else the previous piece's :attr:`then`). Valid where the
    reply can be cut between top-level blocks (see
    :meth:`llmchat_tui.blocks.Outline.splits_at`).
    """

    def __init__(self, text: str, after: tuple[str, int] = AFTER_NOTHING) -> None:
        stand_in, self._skip = after
        self.markdown = markdown_renderable(stand_in + text)
        tops = [t.type for t in self.markdown.parsed if t.level == 0 and t.nesting >= 0]
        #: What the next piece is drawn after (None when this one draws no block).
        self.then: tuple[str, int] | None = None
        self._drawn: dict[tuple[object, ...], list[Segment]] = {}
        if len(tops) > (1 if stand_in else 0):
            self.then = _AFTER_RULE if tops[-1] == "hr" else _AFTER_BLOCK

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        key = (id(console), options.max_width, options.justify, options.overflow)
        kept = self._drawn.get(key)
        if kept is None:
            # The natural height: Textual passes the widget's height, which would
            # crop the lines before the stand-in's are skipped.
            lines = console.render_lines(self.markdown, options.update(height=None), pad=False)
            new_line = Segment.line()
            kept = [segment for line in lines[self._skip :] for segment in (*line, new_line)]
            if len(self._drawn) >= DRAWS_KEPT:
                del self._drawn[next(iter(self._drawn))]
            self._drawn[key] = kept
        yield from kept
