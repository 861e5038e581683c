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
a line that does not continue it (not indented), or at a closing fence. Code
fences are followed line by line by :class:`llmchat_tui.blocks.FenceTracker`
(each line looked at once). Before a block freezes, the renderer's own parse
of the tail so far (:func:`llmchat_tui.blocks.outline`, block rules only,
bounded by the block) confirms that no top-level block runs across the cut; it
also corrects the tracker where a fence it cannot see (in a list item) decides.
Each piece is drawn with exactly the lines it has in the whole reply
(:class:`~llmchat_tui.widgets.reply_markdown.FrozenBlock`), so the reply looks
the same however the stream was cut, and the same renderer
(:func:`markdown_renderable`) draws finished replies loaded from history.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual.containers import Vertical
from textual.geometry import Size
from textual.widgets import Static

from llmchat_tui.blocks import (
    FenceTracker,
    LineKind,
    fence_content,
    line_count,
    line_start,
    outline,
)
from llmchat_tui.widgets.reply_markdown import AFTER_NOTHING, FrozenBlock, markdown_renderable

__all__ = ["FrozenBlock", "ReplyBody", "markdown_renderable"]


def _is_blank(line: str) -> bool:
    """A blank line as markdown-it reads one (spaces and tabs only)."""
    return not line.strip(" \t\r")


class FrozenStatic(Static):
    """A finished block of a streaming reply: it never changes, so its height at a
    width is measured once. (Textual keeps one width per widget; columns side by side
    are measured at more than one, which made every frame measure every block.)"""

    #: Heights by width, a few of them.
    KEPT = 4

    def __init__(self, renderable: RenderableType, *, classes: str) -> None:
        super().__init__(renderable, classes=classes)
        self._heights: dict[int, int] = {}

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        height = self._heights.get(width)
        if height is None:
            height = super().get_content_height(container, viewport, width)
            if len(self._heights) >= self.KEPT:
                del self._heights[next(iter(self._heights))]
            self._heights[width] = height
        return height


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
    """

    def __init__(self) -> None:
        super().__init__(classes="body")
        self._tail_text = ""  # the unfinished block(s)
        self._scan_from = 0  # offset in _tail_text of the first line not yet seen
        self._fences = FenceTracker()
        self._fence_at = -1  # offset in _tail_text of the open fence's opening line
        self._boundary: int | None = None  # end of the last finished block in _tail_text
        self._tail: Static | None = None
        self._after = AFTER_NOTHING  # what the next frozen block follows
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
            start = self._scan_from
            line = text[start:end]
            self._scan_from = end + 1
            kind = self._fences.feed(line)
            if kind is LineKind.OPEN:
                self._fence_at = start
            if kind is LineKind.CLOSE:
                self._fence_at = -1
                self._boundary = self._scan_from  # a closed fence ends a block
            elif kind is LineKind.TEXT and _is_blank(line):
                self._boundary = self._scan_from
            elif self._boundary == start and line[:1] in (" ", "\t"):
                # An indented line right after a blank one continues the block
                # (a list item's paragraph): not a boundary after all.
                self._boundary = None

    def _can_split(self, boundary: int) -> bool:
        """Whether the renderer agrees that a block ends at ``boundary``.

        One block-level parse of the tail seen so far (bounded by the block).
        Where it finds the text inside a fence the line tracker missed (say a
        fence in a list item closed too far left), the tracker follows it.
        """
        seen = self._tail_text[: self._scan_from]
        shape = outline(seen)
        if shape.open_fence is not None:
            self._fences.open = shape.open_fence
            self._fence_at = line_start(seen, shape.open_fence_line)
        return shape.splits_at(line_count(self._tail_text[:boundary]))

    async def render_pending(self) -> None:
        """Freeze finished blocks and redraw the tail (one call per frame)."""
        assert self._tail is not None
        boundary = self._boundary
        if boundary is not None and self._scan_from > boundary and boundary > 0:
            self._boundary = None
            if self._can_split(boundary):
                finished = self._tail_text[:boundary]
                self._tail_text = self._tail_text[boundary:]
                self._scan_from -= boundary
                if self._fence_at >= 0:
                    self._fence_at -= boundary
                if finished.strip():
                    block = FrozenBlock(finished, self._after)
                    self._after = block.then or self._after
                    await self.mount(FrozenStatic(block, classes="frozen"), before=self._tail)
                    self.frozen_blocks += 1
        self._tail.update(self._tail_renderable())

    def _markdown_tail(self, text: str) -> RenderableType:
        """The tail drawn as Markdown, as it looks after the frozen blocks."""
        if self._after is AFTER_NOTHING:
            return markdown_renderable(text)
        return FrozenBlock(text, self._after)

    def _tail_renderable(self) -> RenderableType:
        text = self._tail_text
        fence = self._fences.open
        if fence is None or self._fence_at < 0:
            return self._markdown_tail(text)
        # An open code fence: plain text until it closes (highlight once, later).
        head = text[: self._fence_at]
        first_newline = text.find("\n", self._fence_at)
        body = text[first_newline + 1 :] if first_newline >= 0 else ""
        if "\r" in body:
            body = body.replace("\r\n", "\n")
        if fence.indent:
            body = "\n".join(fence_content(fence, line) for line in body.split("\n"))
        code = Text(body, style="dim")
        if head.strip():
            return Group(self._markdown_tail(head), code)
        return code

    async def finish(self) -> None:
        """The stream ended: freeze what is left."""
        assert self._tail is not None
        if self._tail_text.strip():
            self._tail.update(self._markdown_tail(self._tail_text))
        else:
            await self._tail.remove()
