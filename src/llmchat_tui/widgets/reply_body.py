"""A reply body that streams Markdown at the cost of an append.

Textual's live ``Markdown`` widget re-splits its whole source and rebuilds a
widget per block as text arrives; measured here it fell behind fast streams
(see benchmarks/README.md). This body instead:

- keeps the finished part of the reply as *frozen* blocks: each a ``Static``
  holding a Rich ``Markdown`` renderable, rendered once;
- keeps only the block being written (the *tail*) live, re-rendered at most
  once per frame, so the work per update is bounded by one block, not by the
  reply;
- shows an open code fence as plain text until it closes, then highlights it
  once as it freezes.

A block is finished at a blank line outside a code fence that is followed by
a line that does not continue it (not indented). The same Rich renderer draws
finished replies loaded from history, so a reply looks the same live and
after a restart.
"""

from __future__ import annotations

import re

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def markdown_renderable(text: str) -> RichMarkdown:
    """How every reply body is drawn (live or from history)."""
    return RichMarkdown(text or " ", code_theme="monokai", hyperlinks=False)


def _blank(line: list[Segment]) -> bool:
    """An empty line (spaces without a background, as between paragraphs)."""
    return all(
        not segment.text.strip() and (segment.style is None or not segment.style.bgcolor)
        for segment in line
    )


class FrozenBlock:
    """A finished block drawn without blank lines at either end.

    Rich puts a blank line before some elements (lists) when they are drawn
    on their own; the widget's one-line margin is the only gap after a frozen
    block, so the reply is as tall as the same text drawn whole, wherever the
    stream happened to be split into blocks.
    """

    def __init__(self, text: str) -> None:
        self.markdown = markdown_renderable(text)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Render at the natural height: Textual passes the widget's height,
        # which would crop the untrimmed lines before they are trimmed.
        lines = console.render_lines(self.markdown, options.update(height=None), pad=False)
        while lines and _blank(lines[-1]):
            lines.pop()
        while lines and _blank(lines[0]):
            lines.pop(0)
        new_line = Segment.line()
        for line in lines:
            yield from line
            yield new_line


class FenceTracker:
    """Follows code fences line by line, incrementally (each line seen once)."""

    def __init__(self) -> None:
        self.open_fence: str | None = None

    def feed_line(self, line: str) -> None:
        match = _FENCE.match(line)
        if match is None:
            return
        marker = match.group(1)
        if self.open_fence is None:
            self.open_fence = marker
        elif (
            marker[0] == self.open_fence[0]
            and len(marker) >= len(self.open_fence)
            and not line.strip()[len(marker) :].strip()
        ):
            self.open_fence = None


class ReplyBody(Vertical):
    """The streamed body of one reply: frozen blocks plus one live tail."""

    DEFAULT_CSS = """
    ReplyBody {
        height: auto;
        layout: stream;
    }
    ReplyBody > Static {
        height: auto;
    }
    ReplyBody > Static.frozen {
        margin-bottom: 1;
    }
    """

    def __init__(self) -> None:
        super().__init__(classes="body")
        self._tail_text = ""  # the unfinished block(s)
        self._scan_from = 0  # offset in _tail_text of the first line not yet seen
        self._fences = FenceTracker()
        self._boundary: int | None = None  # end of the last finished block in _tail_text
        self._tail: Static | None = None
        self.frozen_blocks = 0

    def on_mount(self) -> None:
        self._tail = Static(" ", classes="tail")
        self.mount(self._tail)

    def append(self, text: str) -> None:
        """Add streamed text; call :meth:`render_pending` (once per frame) to show it."""
        self._tail_text += text
        self._scan()

    def _scan(self) -> None:
        """Look at each newly completed line once: fences and block boundaries."""
        text = self._tail_text
        while True:
            end = text.find("\n", self._scan_from)
            if end < 0:
                return
            line = text[self._scan_from : end]
            start = self._scan_from
            self._scan_from = end + 1
            was_open = self._fences.open_fence is not None
            self._fences.feed_line(line)
            if was_open and self._fences.open_fence is None:
                self._boundary = self._scan_from  # a closed fence ends a block
            elif not was_open and self._fences.open_fence is None and not line.strip():
                self._boundary = self._scan_from
            elif self._boundary is not None and self._boundary == start and line[:1] in (" ", "\t"):
                # An indented line right after a blank one continues the block
                # (a list item's paragraph): not a boundary after all.
                self._boundary = None

    async def render_pending(self) -> None:
        """Freeze finished blocks and redraw the tail (one call per frame)."""
        assert self._tail is not None
        boundary = self._boundary
        if boundary is not None and self._scan_from > boundary and boundary > 0:
            finished = self._tail_text[:boundary]
            self._tail_text = self._tail_text[boundary:]
            self._scan_from -= boundary
            self._boundary = None
            if finished.strip():
                # One blank line after every finished block, as in a full render.
                frozen = Static(FrozenBlock(finished), classes="frozen")
                await self.mount(frozen, before=self._tail)
                self.frozen_blocks += 1
        self._tail.update(self._tail_renderable())

    def _tail_renderable(self) -> RichMarkdown | Text:
        text = self._tail_text
        if self._fences.open_fence is not None:
            # An open code fence: plain text until it closes (highlight once, later).
            fence_at = text.rfind("\n" + self._fences.open_fence)
            head = 0 if fence_at < 0 else fence_at + 1
            code = text[head:]
            first_newline = code.find("\n")
            body = code[first_newline + 1 :] if first_newline >= 0 else ""
            if text[:head].strip():
                from rich.console import Group

                return Group(markdown_renderable(text[:head]), Text(body, style="dim"))
            return Text(body, style="dim")
        return markdown_renderable(text)

    async def finish(self) -> None:
        """The stream ended: freeze what is left."""
        assert self._tail is not None
        if self._tail_text.strip():
            self._tail.update(markdown_renderable(self._tail_text))
        else:
            await self._tail.remove()
