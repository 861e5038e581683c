"""The message pane and the views of single messages.

Finished messages are drawn cheaply: one ``Static`` holding a Rich Markdown
renderable, no widget tree per paragraph. The reply in flight is a
:class:`~llmchat_tui.widgets.reply_body.ReplyBody`: finished blocks frozen,
one live block redrawn per frame. A long
conversation mounts its last messages first and older ones in batches as the
user scrolls up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from llmchat_tui.blocks import code_blocks
from llmchat_tui.budget import Price, cost, format_cost
from llmchat_tui.generation import Generation, State
from llmchat_tui.models import Conversation, Message, Status
from llmchat_tui.sanitize import clean, clean_line
from llmchat_tui.widgets.reply_body import ReplyBody, markdown_renderable

BATCH = 40
SHOWN_USER_CHARS = 8_000
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
        stats.append(f"{mark}{message.usage.completion_tokens:,} tokens")
        spent = cost(message.usage.prompt_tokens, message.usage.completion_tokens, price)
        if spent is not None:
            stats.append(f"{mark}{format_cost(spent)}")
    if stats:
        parts += ["  " if parts else "", (" · ".join(stats), "$text-muted")]
    return Content.assemble(*parts)


class UserMessageView(Static):
    """A message the user wrote: plain text, never markup."""

    def __init__(self, message: Message) -> None:
        text = clean(message.content)
        if len(text) > SHOWN_USER_CHARS:
            # A huge paste is sent and saved whole; drawing all of it would
            # stall the screen, so only its start is shown.
            text = (
                text[:SHOWN_USER_CHARS]
                + f"\n… ({len(message.content):,} characters in all; the full text was sent)"
            )
        super().__init__(Content(text), classes="message user")
        self.message = message


class AssistantMessageView(Vertical):
    """A reply: a header, the body, and a footer with its status and stats.

    Finished replies render as one Static (Rich Markdown). A reply in flight
    gets a :class:`ReplyBody` and follows its generation.
    """

    def __init__(self, message: Message, generation: Generation | None = None) -> None:
        super().__init__(classes="message assistant")
        self.message = message
        self.generation = generation
        self.shown_parts = 0

    def compose(self) -> ComposeResult:
        header = clean_line(self.message.model or "assistant", 60)
        yield Static(Content.styled(header, "$text-muted"), classes="header")
        if self.generation is not None and self.generation.active:
            yield self._reasoning_block("")
            yield ReplyBody()
        else:
            if self.message.reasoning:
                block = self._reasoning_block(self.message.reasoning)
                block.add_class("shown")
                yield block
            yield Static(markdown_renderable(self.message.content), classes="body")
        yield Static(message_footer(self.message, self._price()), classes="footer")

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
        shown_reasoning = 0
        try:
            while True:
                generation.changed.clear()
                parts = generation.parts
                end = len(parts)
                if end > self.shown_parts:
                    fresh = "".join(parts[self.shown_parts : end])
                    self.shown_parts = end
                    body.append(fresh)
                    await body.render_pending()
                if len(generation.reasoning_parts) > shown_reasoning:
                    shown_reasoning = len(generation.reasoning_parts)
                    text = generation.reasoning()
                    reasoning.title = f"Reasoning ({len(text):,} characters)"
                    reasoning.add_class("shown")
                    if not reasoning.collapsed:
                        reasoning_text.update(Content.styled(text, "italic $text-muted"))
                if generation.done.is_set() and self.shown_parts >= len(generation.parts):
                    break
                if generation.state is State.RETRYING:
                    footer.update(Content.styled("waiting to retry…", "$warning"))
                await generation.changed.wait()
                # Let a burst of deltas pile up: one append per frame, not per token.
                await asyncio.sleep(1 / 60)
        finally:
            if body.is_attached:
                await body.finish()
        footer.update(message_footer(self.message, self._price()))
        reasoning_text.update(Content.styled(generation.reasoning(), "italic $text-muted"))

    def _price(self) -> Price | None:
        pane = self.parent
        lookup = getattr(pane, "price_lookup", None)
        return lookup(self.message.model or "") if lookup is not None else None


class MessagePane(VerticalScroll):
    """The scrolling list of messages of the open conversation.

    With the focus here, Up/Down select a message; C copies it, B copies its
    code blocks one after another, E edits a message of yours and resends it,
    Delete removes it, Esc goes back to the prompt.
    """

    BINDINGS = [
        Binding("up", "select(-1)", "Previous", id="message_previous", show=False),
        Binding("down", "select(1)", "Next", id="message_next", show=False),
        Binding("c", "copy_message", "Copy", id="copy_message"),
        Binding("b", "copy_code", "Copy code", id="copy_code"),
        Binding("e", "edit_message", "Edit", id="edit_message"),
        Binding("delete,x", "delete_message", "Delete", id="delete_message"),
        Binding("escape", "leave", "Back to prompt", id="leave_messages"),
    ]

    @dataclass
    class EditRequested(TextualMessage):
        """Edit and resend this user message (later messages are dropped)."""

        message: Message

    @dataclass
    class DeleteRequested(TextualMessage):
        message: Message

    @dataclass
    class Left(TextualMessage):
        """The user left the message list (Esc)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.conversation: Conversation | None = None
        self._hidden: list[Message] = []
        self._loading_older = False
        self.selected: Message | None = None
        self._code_turn = 0
        self.price_lookup: Callable[[str], Price | None] | None = None

    # -- selection ---------------------------------------------------------

    def on_focus(self) -> None:
        if self.selected is None or self.view_of(self.selected) is None:
            views = self.views()
            if views:
                self._select(views[-1])

    def on_blur(self) -> None:
        for view in self.query(".-selected"):
            view.remove_class("-selected")

    def _select(self, view: Widget) -> None:
        for old in self.query(".-selected"):
            old.remove_class("-selected")
        view.add_class("-selected")
        self.selected = view.message  # type: ignore[attr-defined]
        self._code_turn = 0
        self.scroll_to_widget(view, animate=False)

    def action_select(self, step: int) -> None:
        views = self.views()
        if not views:
            return
        current = self.view_of(self.selected) if self.selected is not None else None
        index = views.index(current) if current in views else len(views)
        self._select(views[max(0, min(len(views) - 1, index + step))])

    def action_copy_message(self) -> None:
        message = self.selected
        if message is None:
            return
        text = clean(message.content)
        self.app.copy_to_clipboard(text)
        who = "your message" if message.role == "user" else "the reply"
        self.notify(f"Copied {who} ({len(text):,} characters) to the clipboard.", timeout=3)

    def action_copy_code(self) -> None:
        message = self.selected
        if message is None:
            return
        blocks = code_blocks(message.content)
        if not blocks:
            self.notify("This message has no code block.", timeout=3)
            return
        index = self._code_turn % len(blocks)
        self._code_turn += 1
        text = clean(blocks[index])
        self.app.copy_to_clipboard(text)
        more = " (press B again for the next)" if len(blocks) > 1 else ""
        self.notify(
            f"Copied code block {index + 1} of {len(blocks)} "
            f"({len(text.splitlines())} lines){more}.",
            timeout=4,
        )

    def action_edit_message(self) -> None:
        if self.selected is None:
            return
        if self.selected.role != "user":
            self.notify(
                "Only your own messages can be edited; Ctrl+R regenerates a reply.", timeout=4
            )
            return
        self.post_message(self.EditRequested(self.selected))

    def action_delete_message(self) -> None:
        if self.selected is not None:
            self.post_message(self.DeleteRequested(self.selected))

    def action_leave(self) -> None:
        self.post_message(self.Left())

    def view_for(self, message: Message, generation: Generation | None) -> Static | Vertical:
        if message.role == "user":
            return UserMessageView(message)
        live = generation if generation is not None and generation.message is message else None
        return AssistantMessageView(message, live)

    async def show(self, conversation: Conversation, generation: Generation | None) -> None:
        """Show ``conversation``: its last messages now, older ones on scroll up."""
        self.conversation = conversation
        messages: Sequence[Message] = [m for m in conversation.messages if m.role != "system"]
        self._hidden = list(messages[:-BATCH]) if len(messages) > BATCH else []
        recent = messages[-BATCH:]
        with self.app.batch_update():
            await self.remove_children()
            if self._hidden:
                await self.mount(
                    Static(
                        Content.styled(
                            f"{len(self._hidden)} earlier messages: scroll up to load them",
                            "$text-muted",
                        ),
                        classes="older-hint",
                    )
                )
            await self.mount_all([self.view_for(m, generation) for m in recent])
        self.anchor()

    async def add_message(self, message: Message, generation: Generation | None = None) -> None:
        """Append a view for a new message and follow the end."""
        await self.mount(self.view_for(message, generation))
        self.anchor()

    def mark_left_out(self, messages: Sequence[Message]) -> None:
        """Dim the messages the next request leaves out (they do not fit)."""
        ids = {m.id for m in messages}
        for view in self.views():
            view.set_class(view.message.id in ids, "-left-out")

    def views(self) -> list[AssistantMessageView | UserMessageView]:
        return [w for w in self.children if isinstance(w, (AssistantMessageView, UserMessageView))]

    def view_of(self, message: Message) -> AssistantMessageView | UserMessageView | None:
        for view in reversed(self.views()):
            if view.message is message:
                return view
        return None

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 1 and self._hidden and not self._loading_older:
            self._loading_older = True
            self.call_later(self._load_older)

    async def _load_older(self) -> None:
        try:
            batch = self._hidden[-BATCH:]
            del self._hidden[-BATCH:]
            hints = self.query(".older-hint")
            first = next(iter(self.views()), None)
            before_height = self.virtual_size.height
            views = [self.view_for(m, None) for m in batch]
            if first is not None:
                await self.mount_all(views, before=first)
            else:
                await self.mount_all(views)
            if not self._hidden:
                await hints.remove()
            else:
                for hint in hints:
                    hint.update(
                        Content.styled(
                            f"{len(self._hidden)} earlier messages: scroll up to load them",
                            "$text-muted",
                        )
                    )

            def keep_place() -> None:
                grown = self.virtual_size.height - before_height
                self.scroll_to(y=self.scroll_y + grown, animate=False, immediate=True)

            self.call_after_refresh(keep_place)
        finally:
            self._loading_older = False
