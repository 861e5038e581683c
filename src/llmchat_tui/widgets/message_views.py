"""How single messages are drawn: the user's, the queued ones, and replies.

Finished messages are drawn cheaply: one ``Static`` holding a Rich Markdown
renderable, no widget tree per paragraph. The reply in flight is a
:class:`~llmchat_tui.widgets.reply_body.ReplyBody`: finished blocks frozen,
one live block redrawn per frame, fed by :meth:`AssistantMessageView._follow`.
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from collections.abc import Callable

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Collapsible, Static

from llmchat_tui.budget import Price, cost, format_cost
from llmchat_tui.generation import Generation, State
from llmchat_tui.models import Message, Status
from llmchat_tui.outbox import Queued
from llmchat_tui.sanitize import clean, clean_line
from llmchat_tui.widgets.highlight import Highlighted
from llmchat_tui.widgets.reply_body import ReplyBody, markdown_renderable

SHOWN_USER_CHARS = 8_000
#: The most characters of one reply drawn (the rest is saved, and exported).
SHOWN_REPLY_CHARS = 200_000
#: The follower's frame budget: a round (hand text to the body, let the screen draw it)
#: should take about this long, so keys pressed meanwhile are handled and drawn soon.
FRAME_BUDGET_S = 1 / 30
#: Characters handed to the body per round: the start, the least and the most. The
#: least is about what one frame shows of a full-speed reply on this project's
#: 2-core benchmark machine: smaller rounds would make a fast reply take longer to
#: show (every frame has a fixed cost) without making keys any faster.
ROUND_CHARS = (8_000, 4_000, 1 << 20)
#: The replies being fed to the screen now (several while models are compared).
FOLLOWING: weakref.WeakSet[AssistantMessageView] = weakref.WeakSet()
#: How often a compare column's live figures are drawn again (seconds).
FIGURES_S = 0.25
PriceLookup = Callable[[str], Price | None]
STATUS_TEXT = {
    Status.CANCELLED: ("cancelled", "$warning"),
    Status.ERROR: ("error", "$error"),
    Status.INTERRUPTED: ("interrupted (the app stopped mid-reply)", "$warning"),
    Status.STREAMING: ("streaming", "$success"),
}


def message_footer(message: Message, price: Price | None = None) -> Content:
    """The line under an assistant message: status, error, speed, tokens, cost."""
    parts: list[tuple[str, str] | str] = []
    status = STATUS_TEXT.get(message.status)
    if status is not None:
        parts.append(status)
    if message.error:
        parts += [": " if parts else "", (clean_line(message.error, 400), "$error")]
    stats = []
    if message.ttft_s is not None:
        stats.append(f"TTFT {message.ttft_s:.2f} s")
    if message.tokens_per_s is not None:
        stats.append(f"{message.tokens_per_s:,.1f} tok/s")
    if message.usage is not None and message.usage.completion_tokens is not None:
        mark = "" if message.usage.source == "server" else "≈"
        count = message.usage.completion_tokens
        stats.append(f"{mark}{count:,} token{'' if count == 1 else 's'}")
        spent = cost(message.usage.prompt_tokens, message.usage.completion_tokens, price)
        if spent is not None:
            stats.append(f"{mark}{format_cost(spent)}")
    if stats:
        parts += ["  " if parts else "", (" · ".join(stats), "$text-muted")]
    return Content.assemble(*parts)


def live_footer(generation: Generation, price: Price | None = None) -> Content:
    """The footer of a reply while it streams (compare columns show their own
    figures): state, TTFT, tok/s, tokens so far, cost so far."""
    parts: list[str] = [str(generation.state)]
    if generation.ttft is not None:
        parts.append(f"TTFT {generation.ttft:.2f} s")
        speed = generation.tokens_per_second()
        if speed is not None:
            parts.append(f"{speed:,.1f} tok/s")
        count = generation.completion_tokens()
        if count.value is not None:
            mark = "" if count.exact else "≈"
            parts.append(f"{mark}{count.value:,} token{'' if count.value == 1 else 's'}")
            usage = generation.usage
            prompt = (
                usage.prompt_tokens
                if usage is not None and usage.prompt_tokens is not None
                else generation.prompt_estimate
            )
            spent = cost(prompt, count.value, price)
            if spent is not None:
                parts.append(f"≈{format_cost(spent)}")
    style = "$warning" if generation.state is State.RETRYING else "$text-muted"
    return Content.styled(" · ".join(parts), style)


def drawn_length(size: int, text: str | None = None) -> int:
    """How much of a reply of ``size`` characters is drawn: all of it up to
    :data:`SHOWN_REPLY_CHARS`, else that much, ended at a line break when ``text``
    has one near the cut (a huge reply would freeze the screen for minutes)."""
    if size <= SHOWN_REPLY_CHARS:
        return size
    if text is not None:
        at = text.rfind("\n", SHOWN_REPLY_CHARS // 2, SHOWN_REPLY_CHARS)
        if at > 0:
            return at
    return SHOWN_REPLY_CHARS


def model_label(message: Message) -> str:
    """Who wrote a reply: its model, after its profile when it was not the
    conversation's own (``work:gpt-4o``)."""
    model = message.model or "assistant"
    return f"{message.profile}:{model}" if message.profile else model


def shown_user_text(text: str, note: str = "the full text was sent") -> Content:
    """A user's text as drawn: plain, sanitized, and only its start when huge.

    A huge paste is sent and saved whole; drawing all of it would stall the
    screen, so only its first characters are shown.
    """
    shown = clean(text)
    if len(shown) > SHOWN_USER_CHARS:
        shown = shown[:SHOWN_USER_CHARS] + f"\n… ({len(text):,} characters in all; {note})"
    return Content(shown)


def versions_label(versions: tuple[int, int] | None) -> str:
    """``‹2/3›`` for the second of three versions of a message; "" for the only one."""
    return f"‹{versions[0]}/{versions[1]}›" if versions and versions[1] > 1 else ""


class UserMessageView(Static):
    """A message the user wrote: plain text, never markup."""

    def __init__(self, message: Message, versions: tuple[int, int] | None = None) -> None:
        text = shown_user_text(message.content)
        label = versions_label(versions)
        if label:
            text = Content.assemble((label + " ", "$accent"), text)
        if message.attachments:
            chips = "  ".join(f"📎 {a.label()}" for a in message.attachments)
            text = Content.assemble(text, "\n", (clean(chips), "$accent"))
        super().__init__(text, classes="message user")
        self.message = message
        self.versions = versions
        self._text = text
        self.needle: str | None = None

    def mark(self, needle: str | None) -> None:
        """Mark the matches of ``needle`` (the find bar's words); None: no marks."""
        if needle == self.needle:
            return
        self.needle = needle
        text = self._text
        if needle and needle.strip():
            pattern = "(?i)" + re.escape(needle.strip())
            text = text.highlight_regex(pattern, style="black on yellow")
        self.update(text)


class QueuedMessageView(Static):
    """A message waiting for the running reply to end before it is sent."""

    def __init__(self, queued: Queued, hint: str) -> None:
        super().__init__(
            shown_user_text(queued.text, "all of it will be sent"), classes="message user queued"
        )
        self.queued = queued
        self.border_title = "queued: sent when the reply ends"
        self.border_subtitle = hint


class AssistantMessageView(Vertical):
    """A reply: a header, the body, and a footer with its status and stats.

    Finished replies render as one Static (Rich Markdown). A reply in flight
    gets a :class:`ReplyBody` and follows its generation.
    """

    def __init__(
        self,
        message: Message,
        generation: Generation | None = None,
        price_lookup: PriceLookup | None = None,
        versions: tuple[int, int] | None = None,
        *,
        column: int | None = None,
    ) -> None:
        super().__init__(classes="message assistant")
        self.message = message
        self.generation = generation
        self.price_lookup = price_lookup
        self.versions = versions
        #: Its number in a compare round (its live figures are in its footer).
        self.column = column
        #: The find bar's words, marked in the body when it is drawn.
        self.needle: str | None = None
        self.shown_parts = 0

    def compose(self) -> ComposeResult:
        header = Content.styled(clean_line(model_label(self.message), 60), "$text-muted")
        if self.column is not None:
            header = Content.assemble((f"{self.column} ", "bold $accent"), header)
        label = versions_label(self.versions)
        if label:
            header = Content.assemble(header, "  ", (label, "$accent"))
        yield Static(header, classes="header")
        if self.generation is not None and self.generation.active:
            yield self._reasoning_block("")
            yield ReplyBody()
        else:
            if self.message.reasoning:
                block = self._reasoning_block(self.message.reasoning)
                block.add_class("shown")
                yield block
            yield Static(self._body(), classes="body")
            if len(self.message.content) > SHOWN_REPLY_CHARS:
                yield Static(self._not_drawn(self.message.content), classes="not-drawn")
        yield Static(message_footer(self.message, self._price()), classes="footer")

    @staticmethod
    def _not_drawn(text: str | None) -> Content:
        """The note under a reply too long to draw whole (``text``: the whole reply,
        None while it still streams)."""
        more = "The rest" if text is None else f"{len(text) - drawn_length(len(text), text):,}"
        return Content.styled(
            f"… {more} more characters of this reply are not drawn (a terminal cannot "
            "draw that much at once). They are saved: export the conversation (F8) to "
            "read all of it.",
            "$warning",
        )

    @staticmethod
    def _reasoning_block(text: str) -> Collapsible:
        """Reasoning: collapsed and dimmed above the answer; expand on demand."""
        title = f"Reasoning ({len(text):,} characters)" if text else "Reasoning"
        return Collapsible(
            Static(Content.styled(text, "italic $text-muted"), classes="reasoning-text"),
            title=title,
            collapsed=True,
            classes="reasoning",
        )

    def on_mount(self) -> None:
        if self.generation is not None and self.generation.active:
            self.run_worker(self._follow(self.generation), group="follow", exit_on_error=False)

    async def _follow(self, generation: Generation) -> None:
        """Feed the live body from the generation until it ends (one redraw per frame)."""
        body = self.query_one(ReplyBody)
        reasoning = self.query_one(".reasoning", Collapsible)
        reasoning_text = self.query_one(".reasoning-text", Static)
        footer = self.query_one(".footer", Static)
        text_at = reasoning_at = 0
        thought = generation.reasoning_prefix
        # Text taken from the generation but not yet handed to the body: a fast stream
        # on a slow machine is shown a frame's worth at a time (see FRAME_BUDGET_S), so
        # the screen falls behind the stream rather than the keyboard behind the screen.
        backlog = generation.prefix  # continuing a reply: what it already said comes first
        limit, least, most = ROUND_CHARS
        last_round = time.perf_counter()
        figures_at = 0.0
        handed = 0  # characters given to the body (at most SHOWN_REPLY_CHARS)
        FOLLOWING.add(self)
        try:
            while True:
                if self.column is not None and time.monotonic() - figures_at > FIGURES_S:
                    figures_at = time.monotonic()
                    footer.update(live_footer(generation, self._price()))
                fresh, text_at = generation.text_since(text_at)
                self.shown_parts = text_at
                backlog += fresh
                if handed + len(backlog) > SHOWN_REPLY_CHARS:
                    # Too long to draw: the rest is saved (and exported), not drawn.
                    backlog = backlog[: max(0, SHOWN_REPLY_CHARS - handed)]
                    if not self.query(".not-drawn"):
                        note = Static(self._not_drawn(None), classes="not-drawn")
                        await self.mount(note, before=footer)
                if backlog:
                    now = time.perf_counter()
                    took, last_round = now - last_round, now
                    if took > 1.5 * FRAME_BUDGET_S:
                        limit = max(least, limit * 2 // 3)
                    elif took < FRAME_BUDGET_S and len(backlog) > limit:
                        limit = min(most, limit * 3 // 2)
                    body.append(backlog[:limit])
                    handed += len(backlog[:limit])
                    backlog = backlog[limit:]
                    await body.render_pending()
                more, reasoning_at = generation.reasoning_since(reasoning_at)
                if more:
                    thought += more
                    reasoning.title = f"Reasoning ({len(thought):,} characters)"
                    reasoning.add_class("shown")
                    if not reasoning.collapsed:
                        reasoning_text.update(Content.styled(thought, "italic $text-muted"))
                if generation.done.is_set() and not fresh and not more and not backlog:
                    break
                if generation.state is State.RETRYING and self.column is None:
                    footer.update(Content.styled("waiting to retry…", "$warning"))
                if not backlog:
                    await generation.wait_for_news(text_at, reasoning_at, state=generation.state)
                    last_round = time.perf_counter()  # waiting for the server is not drawing
                # Let a burst of deltas pile up: one append per frame, not per token; with
                # several replies streaming (a compare), each takes its turn, so a frame
                # redraws about one of them and keys are not kept waiting behind all.
                await asyncio.sleep(max(1, len(FOLLOWING)) / 60)
        finally:
            FOLLOWING.discard(self)
            if body.is_attached:
                await body.finish()
        footer.update(message_footer(self.message, self._price()))
        reasoning_text.update(Content.styled(self.message.reasoning, "italic $text-muted"))

    def _body(self) -> RenderableType:
        content = self.message.content
        body = markdown_renderable(content[: drawn_length(len(content), content)])
        return Highlighted(body, self.needle) if self.needle and self.needle.strip() else body

    def mark(self, needle: str | None) -> None:
        """Mark the matches of ``needle`` in the finished body; None: no marks."""
        if needle == self.needle:
            return
        self.needle = needle
        if self.is_mounted and not (self.generation is not None and self.generation.active):
            for body in self.query_children(".body"):
                if isinstance(body, Static):
                    body.update(self._body())

    def _price(self) -> Price | None:
        lookup = self.price_lookup
        return lookup(self.message.model or "") if lookup is not None else None
