"""The streamed reply body draws the same however the stream was cut into frames.

And it draws what the copy-code key copies and what an export keeps: the three
read code fences with one rule, the renderer's (markdown-it-py, under Rich).
"""

from __future__ import annotations

import io
import random
import re

import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import Static

from helpers import screen_lines
from llmchat_tui.blocks import FenceTracker, LineKind, code_blocks, fence_content
from llmchat_tui.exporting import to_markdown
from llmchat_tui.models import Conversation, Message
from llmchat_tui.sanitize import clean
from llmchat_tui.widgets.reply_body import ReplyBody, markdown_renderable

TEXT = (
    "Here is how to **reverse a list**:\n\n"
    "- `reversed(items)`\n- `items[::-1]`\n- `items.reverse()`\n\n"
    "```python\nitems.reverse()\n```\n\n"
    "1. one\n2. two\n\n"
    "That's all.\n"
)

# What Rich's Markdown parses with (rich.markdown.Markdown.__init__).
RENDERER = MarkdownIt().enable("strikethrough").enable("table")


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ReplyBody()


class History(App[None]):
    """A finished reply as the message list draws it from history."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield Static(markdown_renderable(self.text), classes="body")


def on_screen(app: App[None], height: int) -> list[str]:
    return [line.rstrip() for line in screen_lines(app)[:height]]


async def drawn_after(pieces: list[str], width: int = 80) -> tuple[list[str], int]:
    """Feed ``pieces`` one frame each; the body's lines on screen and its frozen blocks."""
    app = Host()
    async with app.run_test(size=(width, 60)) as pilot:
        body = app.query_one(ReplyBody)
        for piece in pieces:
            body.append(piece)
            await body.render_pending()
            await pilot.pause()
        await body.finish()
        await pilot.pause()
        return on_screen(app, body.region.height), body.frozen_blocks


async def drawn_whole(text: str, width: int = 80) -> list[str]:
    """``text`` drawn in one piece, as a reply loaded from history is."""
    app = History(text)
    async with app.run_test(size=(width, 60)) as pilot:
        await pilot.pause()
        static = app.query_one(Static)
        return on_screen(app, static.region.height)


async def test_drawing_does_not_depend_on_where_blocks_froze():
    whole, frozen_whole = await drawn_after([TEXT])
    by_line, frozen_by_line = await drawn_after(TEXT.splitlines(keepends=True))
    assert frozen_whole != frozen_by_line  # the two runs really split differently
    assert by_line == whole
    assert "• items.reverse()" in "\n".join(by_line)  # no item cropped away


# ---------------------------------------------------------------------------
# One fence rule: copy-code, the live body and export agree with the renderer
# ---------------------------------------------------------------------------

FENCES = {
    "backtick in a backtick info string is inline code": (
        "```js`odd is inline code\nstill text\n\n```py\nx = 1\n```\n\nafter\n"
    ),
    "tilde fence takes backticks in its info": "~~~ js`odd`\ncode `here`\n~~~\n\nafter\n",
    "backtick fence takes a tilde in its info": "```~x\ncode\n```\n\nafter\n",
    "indented 1-3 spaces, content dedented": (
        " ```\none\n ```\n\n  ```\n  two\n    deeper\n  ```\n\n   ~~~\n   three\n   ~~~\n\nafter\n"
    ),
    "indented 4 spaces is indented code": "para\n\n    ```\n    not a fence\n\ntext after\n",
    "indented by a tab is indented code": "\t```\n\tnot a fence\n\ntext after\n\n```\nfence\n```\n",
    "longer closing fence closes": "```\ncode\n``````\n\nafter\n",
    "shorter closing fence does not close": "````\ncode\n```\nstill code\n````\n\nafter\n",
    "closing fence with text after is code": "```\ncode\n``` not a close\nstill\n```\n\nafter\n",
    "closing fence with spaces and a tab after closes": "```\ncode\n```  \t\n\nafter\n",
    "closing fence indented 4 is code": "```\ncode\n    ```\nstill code\n```\n\nafter\n",
    "mixed backticks and tildes": (
        "```\n~~~\n```\n\n~~~\n```\ncode\n~~~\n\n```\nlast, never closed\n~~~\n"
    ),
    "nested-looking fences": "````md\n```py\nx = 1\n```\n````\n\nafter\n",
    "fence interrupts a paragraph": "para\n```\ncode\n```\nafter\n",
    "unclosed fence with blank lines": "intro\n\n```py\ndef f():\n\n    return 1\n\nmore\n",
    "CRLF line ends": "intro\r\n\r\n```py\r\nx = 1\r\n\r\ny = 2\r\n```\r\n\r\nafter\r\n",
    "closing fence at the very end, no newline": "text\n\n```py\nx = 1\n```",
    "opening fence at the very end, no newline": "text\n\n```py",
    "fence in a list item, closed": "1. Step:\n   ```bash\n   pip install x\n   ```\n2. Run it.\n",
    "fence in a list item, closed too far left": (
        "1. Step:\n   ```bash\n   pip install x\n```\n\nthe rest is code now\n"
    ),
    "fence in a quote": "> ```\n> code\n>\n> more\n> ```\n\nafter\n",
    "loose list": "- one\n\n- two\n\n- three\n\nafter\n",
}


def rendered_code(text: str) -> list[str]:
    """The code blocks the renderer draws for ``text`` (non-blank, trailing newline dropped)."""
    return [
        token.content.rstrip("\n")
        for token in RENDERER.parse(text)
        if token.type in ("fence", "code_block") and token.content.strip()
    ]


def ends_inside_a_fence(text: str) -> bool:
    """Whether the renderer would draw text written after ``text`` as code."""
    tokens = RENDERER.parse(text + "\n\nSENTINEL")
    return any(token.type == "fence" and "SENTINEL" in token.content for token in tokens)


def chunkings(text: str) -> dict[str, list[str]]:
    pick = random.Random(len(text))
    cuts = sorted(pick.sample(range(1, len(text)), min(8, len(text) - 1)))
    return {
        "whole": [text],
        "by line": text.splitlines(keepends=True),
        "by character": list(text),
        "random": [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)],
    }


@pytest.mark.parametrize("name", FENCES)
async def test_copy_code_live_body_and_export_agree_with_the_renderer(name):
    text = FENCES[name]

    # The copy-code key copies the code blocks that are drawn.
    assert code_blocks(text) == rendered_code(text)

    # The live body, however the stream was cut, ends as the reply drawn whole.
    whole = await drawn_whole(text)
    for how, pieces in chunkings(text).items():
        live, _ = await drawn_after(pieces)
        assert live == whole, how

    # An export closes a fence left open, so what follows stays outside it;
    # anything else is exported as written.
    conversation = Conversation(title="t")
    conversation.extend(
        [
            Message("user", "question"),
            Message("assistant", text, model="m"),
            Message("user", "next question"),
        ]
    )
    exported = to_markdown(conversation)
    tokens = RENDERER.parse(exported)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[-2:] == ["Assistant (m)", "You"]
    assert tokens[-3].type == "paragraph_open" and tokens[-2].content == "next question"
    section = exported.split("## Assistant (m)\n\n")[1].split("\n\n## You")[0]
    assert rendered_code(section) == rendered_code(clean(text))
    if not ends_inside_a_fence(text):
        assert section == clean(text).strip("\n")


BLOCKS = {
    "a table": "Intro\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nafter\n",
    "a rule, then a list": "para\n\n---\n\n- a\n- b\n",
    "ends with a list": "para\n\n- a\n- b\n",
    "ends with a quote": "para\n\n> quoted\n",
    "an HTML block": "para\n\n<div>\nhello words\n</div>\n\nafter\n",
    "an empty quote": "para\n\n>\n\nnext\n",
}


@pytest.mark.parametrize("name", BLOCKS)
async def test_live_body_ends_as_the_reply_drawn_whole(name):
    text = BLOCKS[name]
    whole = await drawn_whole(text)
    for how, pieces in chunkings(text).items():
        live, _ = await drawn_after(pieces)
        assert live == whole, how
    assert "hello words" in "\n".join(whole) or "hello" not in text  # raw HTML is shown


def tracked_code(text: str) -> list[str]:
    """The fenced code blocks :class:`FenceTracker` finds, line by line."""
    tracker = FenceTracker()
    blocks: list[list[str]] = []
    for line in re.split(r"\r\n|\n", text):
        fence = tracker.open
        kind = tracker.feed(line)
        if kind is LineKind.OPEN:
            blocks.append([])
        elif kind is LineKind.CODE:
            assert fence is not None
            blocks[-1].append(fence_content(fence, line))
    return ["\n".join(block).rstrip("\n") for block in blocks if "".join(block).strip()]


TOP_LEVEL = [name for name in FENCES if "list" not in name and "quote" not in name]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_the_line_by_line_tracker_reads_top_level_fences_as_the_renderer(name):
    text = FENCES[name]
    fenced = [
        token.content.rstrip("\n")
        for token in RENDERER.parse(text)
        if token.type == "fence" and token.content.strip()
    ]
    assert tracked_code(text) == fenced


# ---------------------------------------------------------------------------
# Text that is saved is drawn, however deeply it is nested
# ---------------------------------------------------------------------------

DEEP = {
    "10 quote levels (too wide at 40 columns)": "> " * 10 + "ten levels down\n",
    "25 quote levels": "> " * 25 + "twenty five levels down\n",
    "12 list levels": "".join("  " * i + f"- level{i} item\n" for i in range(12)),
    "200 quote levels": ">" * 200 + " two hundred levels down\n",
    "5000 quote levels": "> " * 5000 + "five thousand levels down\n",
    "5000 list levels": "- " * 5000 + "five thousand items down\n",
    "deep quote between paragraphs": (
        "Before **the** quote.\n\n" + "> " * 30 + "deep inside\n\nAfter *the* quote.\n"
    ),
}


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+", text)


def printed(text: str, width: int) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(markdown_renderable(text))
    return console.export_text()


@pytest.mark.parametrize("name", DEEP)
async def test_deeply_nested_text_is_drawn(name):
    text = DEEP[name]
    for width in (80, 40):
        drawn = printed(text, width)
        for word in words(text):
            assert word in drawn, (width, word)
    history = "\n".join(await drawn_whole(text))
    live = "\n".join((await drawn_after(text.splitlines(keepends=True)))[0])
    for word in words(text):
        assert word in history and word in live, word


async def test_nesting_the_renderer_can_draw_is_drawn_as_markdown():
    text = "Before **the** quote.\n\n" + "> " * 30 + "deep inside\n\nAfter *the* quote.\n"
    drawn = printed(text, 80)
    assert "Before the quote." in drawn and "After the quote." in drawn  # still Markdown
    assert printed("> " * 3 + "three\n", 80) == printed("> > > three\n", 80)
    assert "▌ ▌ ▌ three" in printed("> " * 3 + "three\n", 80)


def test_found_words_are_marked_inside_styled_segments() -> None:
    from rich.segment import Segment
    from rich.style import Style

    from llmchat_tui.widgets.highlight import MATCH_STYLE, mark_line

    bold = Style(bold=True)
    line = [Segment("The "), Segment("Walrus", bold), Segment(" and a walrus.")]
    marked = mark_line(line, "WALRUS")
    assert "".join(s.text for s in marked) == "The Walrus and a walrus."
    hits = [s for s in marked if s.style is not None and s.style.bgcolor == MATCH_STYLE.bgcolor]
    assert [s.text for s in hits] == ["Walrus", "walrus"]
    assert hits[0].style is not None and hits[0].style.bold  # its own style kept
    assert mark_line(line, "otter") == line


def test_a_reply_is_drawn_once_per_width() -> None:
    """Textual draws a body twice at one width (its height, then its lines): the
    second draw reuses the first; another width draws again."""
    from rich.console import Console

    from llmchat_tui.widgets.reply_markdown import ReplyMarkdown

    console = Console(width=80, color_system=None)
    body = ReplyMarkdown("# Title\n\nSome *text* and `code`.\n\n```python\nprint(1)\n```\n")
    draws = 0
    draw = body._render

    def counted(*args: object) -> object:
        nonlocal draws
        draws += 1
        return draw(*args)  # type: ignore[arg-type]

    body._render = counted  # type: ignore[method-assign,assignment]
    first = console.render_lines(body, console.options.update_width(60))
    second = console.render_lines(body, console.options.update_width(60))
    assert draws == 1 and first == second
    narrow = console.render_lines(body, console.options.update_width(30))
    assert draws == 2 and len(narrow) >= len(first)


async def test_a_frozen_block_is_measured_once_per_width() -> None:
    """Columns side by side are measured at more than one width; a finished block of a
    streaming reply keeps its height for each, so a frame does not measure it again."""
    from textual.geometry import Size

    from llmchat_tui.widgets.reply_body import FrozenStatic
    from llmchat_tui.widgets.reply_markdown import FrozenBlock

    block = FrozenStatic(FrozenBlock("A paragraph that wraps " * 8), classes="frozen")
    measured: list[int] = []
    original = Static.get_content_height

    def counting(self: Static, container: Size, viewport: Size, width: int) -> int:
        measured.append(width)
        return original(self, container, viewport, width)

    app: App[None] = App()
    async with app.run_test():
        await app.mount(block)
        Static.get_content_height = counting  # type: ignore[method-assign,assignment]
        try:
            size = Size(80, 24)
            heights = [block.get_content_height(size, size, w) for w in (30, 60, 30, 60, 30)]
        finally:
            Static.get_content_height = original  # type: ignore[method-assign]
    assert measured == [30, 60] and heights[0] > heights[1] and heights[0] == heights[2]


def _count_renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the Markdown renders a ReplyMarkdown really does (the cache aside)."""
    from llmchat_tui.widgets import reply_markdown

    calls: list[int] = []
    original = reply_markdown.ReplyMarkdown._render

    def counting(self: reply_markdown.ReplyMarkdown, console: Console, options: object) -> object:
        calls.append(1)
        return original(self, console, options)  # type: ignore[arg-type]

    monkeypatch.setattr(reply_markdown.ReplyMarkdown, "_render", counting)
    return calls


def test_measures_and_draws_at_one_width_render_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_renders(monkeypatch)
    console = Console(file=io.StringIO(), width=60, color_system="truecolor")
    renderable = markdown_renderable(TEXT)
    measured = console.render_lines(renderable, console.options)
    drawn = console.render_lines(renderable, console.options.update(height=len(measured)))
    assert drawn == measured
    assert console.render_lines(renderable, console.options) == measured
    assert len(calls) == 1


def test_another_width_or_code_theme_renders_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmchat_tui.widgets.reply_markdown import use_dark_code

    calls = _count_renders(monkeypatch)
    console = Console(file=io.StringIO(), width=60, color_system="truecolor")
    renderable = markdown_renderable(TEXT)
    wide = console.render_lines(renderable, console.options)
    narrow = console.render_lines(renderable, console.options.update_width(30))
    assert len(calls) == 2 and narrow != wide
    console.render_lines(renderable, console.options)  # 60 again: kept (a few widths are)
    assert len(calls) == 2
    try:
        use_dark_code(False)  # the app then draws the replies again
        console.render_lines(renderable, console.options)
    finally:
        use_dark_code(True)
    assert len(calls) == 3


async def test_history_and_live_body_draw_the_same_with_the_render_kept() -> None:
    """The kept render changes nothing on screen (Textual measures, then draws)."""
    pieces = [TEXT[i : i + 7] for i in range(0, len(TEXT), 7)]
    live, _ = await drawn_after(pieces)
    assert live == await drawn_whole(TEXT)
