"""The streamed reply body draws the same however the stream was cut into frames."""

from __future__ import annotations

from textual.app import App, ComposeResult

from llmchat_tui.widgets.reply_body import ReplyBody

TEXT = (
    "Here is how to **reverse a list**:\n\n"
    "- `reversed(items)`\n- `items[::-1]`\n- `items.reverse()`\n\n"
    "```python\nitems.reverse()\n```\n\n"
    "1. one\n2. two\n\n"
    "That's all.\n"
)


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ReplyBody()


async def drawn_after(pieces: list[str]) -> tuple[list[str], int]:
    """Feed ``pieces`` one frame each; the body's lines on screen and its frozen blocks."""
    app = Host()
    async with app.run_test(size=(80, 60)) as pilot:
        body = app.query_one(ReplyBody)
        for piece in pieces:
            body.append(piece)
            await body.render_pending()
            await pilot.pause()
        await body.finish()
        await pilot.pause()
        strips = app.screen._compositor.render_strips()[: body.region.height]
        return [strip.text.rstrip() for strip in strips], body.frozen_blocks


async def test_drawing_does_not_depend_on_where_blocks_froze():
    whole, frozen_whole = await drawn_after([TEXT])
    by_line, frozen_by_line = await drawn_after(TEXT.splitlines(keepends=True))
    assert frozen_whole != frozen_by_line  # the two runs really split differently
    assert by_line == whole
    assert "• items.reverse()" in "\n".join(by_line)  # no item cropped away
