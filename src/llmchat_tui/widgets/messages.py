"""The message pane and the views of single messages.

Finished messages are drawn cheaply: one ``Static`` holding a Rich Markdown
renderable, no widget tree per paragraph. The reply in flight is a
:class:`~llmchat_tui.widgets.reply_body.ReplyBody`: finished blocks frozen,
one live block redrawn per frame.

A long conversation is shown through a window: at most :data:`WINDOW` message
views are mounted at a time (Textual lays out every mounted widget on every
frame, so the cost of a frame grows with what is mounted, not with what is
seen). Opening shows the last :data:`BATCH` messages; scrolling to either end
of the window mounts the next batch there and unmounts views beyond
:data:`WINDOW` at the other end; Home and End jump straight to the first or last
batch instead of mounting everything in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from llmchat_tui import clipboard
from llmchat_tui.blocks import code_blocks
from llmchat_tui.budget import Price, cost, format_cost
from llmchat_tui.generation import Generation, State
from llmchat_tui.keymap import Keymap
from llmchat_tui.models import Conversation, Message, Status
from llmchat_tui.outbox import Queued
from llmchat_tui.sanitize import clean, clean_line
from llmchat_tui.widgets.reply_body import ReplyBody, markdown_renderable

BATCH = 40
#: The most message views mounted at once (scrolling on unmounts the far end).
WINDOW = 3 * BATCH
SHOWN_USER_CHARS = 8_000
#: The follower's frame budget: a round (hand text to the body, let the screen draw it)
#: should take about this long, so keys pressed meanwhile are handled and drawn soon.
FRAME_BUDGET_S = 1 / 30
#: Characters handed to the body per round: the start, the least and the most. The
#: least is about what one frame shows of a full-speed reply on this project's
#: 2-core benchmark machine: smaller rounds would make a fast reply take longer to
#: show (every frame has a fixed cost) without making keys any faster.
ROUND_CHARS = (8_000, 4_000, 1 << 20)
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
    ) -> None:
        super().__init__(classes="message assistant")
        self.message = message
        self.generation = generation
        self.price_lookup = price_lookup
        self.versions = versions
        self.shown_parts = 0

    def compose(self) -> ComposeResult:
        header = Content.styled(clean_line(self.message.model or "assistant", 60), "$text-muted")
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
        text_at = reasoning_at = 0
        thought = generation.reasoning_prefix
        # Text taken from the generation but not yet handed to the body: a fast stream
        # on a slow machine is shown a frame's worth at a time (see FRAME_BUDGET_S), so
        # the screen falls behind the stream rather than the keyboard behind the screen.
        backlog = generation.prefix  # continuing a reply: what it already said comes first
        limit, least, most = ROUND_CHARS
        last_round = time.perf_counter()
        try:
            while True:
                fresh, text_at = generation.text_since(text_at)
                self.shown_parts = text_at
                backlog += fresh
                if backlog:
                    now = time.perf_counter()
                    took, last_round = now - last_round, now
                    if took > 1.5 * FRAME_BUDGET_S:
                        limit = max(least, limit * 2 // 3)
                    elif took < FRAME_BUDGET_S and len(backlog) > limit:
                        limit = min(most, limit * 3 // 2)
                    body.append(backlog[:limit])
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
                if generation.state is State.RETRYING:
                    footer.update(Content.styled("waiting to retry…", "$warning"))
                if not backlog:
                    await generation.wait_for_news(text_at, reasoning_at, state=generation.state)
                    last_round = time.perf_counter()  # waiting for the server is not drawing
                # Let a burst of deltas pile up: one append per frame, not per token.
                await asyncio.sleep(1 / 60)
        finally:
            if body.is_attached:
                await body.finish()
        footer.update(message_footer(self.message, self._price()))
        reasoning_text.update(Content.styled(self.message.reasoning, "italic $text-muted"))

    def _price(self) -> Price | None:
        lookup = self.price_lookup
        return lookup(self.message.model or "") if lookup is not None else None


MessageView = AssistantMessageView | UserMessageView | QueuedMessageView


class MessagePane(VerticalScroll):
    """The scrolling list of messages of the open conversation.

    With the focus here, Up/Down select a message; C copies it, B copies its
    code blocks one after another, E edits a message of yours and resends it (or
    takes a queued one back into the prompt), Delete removes it (or cancels a
    queued one), Esc goes back to the prompt.
    """

    BINDINGS = [
        Binding("up", "select(-1)", "Previous", id="message_previous", show=False),
        Binding("down", "select(1)", "Next", id="message_next", show=False),
        Binding("left", "switch(-1)", "‹ Older version", id="version_previous"),
        Binding("right", "switch(1)", "Newer version ›", id="version_next"),
        Binding("c", "copy_message", "Copy", id="copy_message"),
        Binding("b", "copy_code", "Copy code", id="copy_code"),
        Binding("e", "edit_message", "Edit", id="edit_message"),
        Binding("delete,x", "delete_message", "Delete", id="delete_message"),
        Binding("escape", "leave", "Back to prompt", id="leave_messages"),
        Binding("home", "first_message", "First message", id="message_first", show=False),
        Binding("end", "last_message", "Last message", id="message_last", show=False),
    ]

    @dataclass
    class EditRequested(TextualMessage):
        """Edit and resend this user message."""

        message: Message

    @dataclass
    class DeleteRequested(TextualMessage):
        """Delete this message (after asking)."""

        message: Message

    @dataclass
    class SwitchRequested(TextualMessage):
        """Show another version of this message (-1 older, 1 newer)."""

        message: Message
        step: int

    @dataclass
    class QueuedEditRequested(TextualMessage):
        """Take this waiting message back into the prompt."""

        queued: Queued

    @dataclass
    class QueuedCancelRequested(TextualMessage):
        """Drop this waiting message."""

        queued: Queued

    @dataclass
    class Left(TextualMessage):
        """The user left the message list (Esc)."""

    def __init__(
        self,
        keymap: Keymap,
        *,
        price_lookup: PriceLookup | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.keymap = keymap
        self.price_lookup = price_lookup
        self.conversation: Conversation | None = None
        #: Messages above the mounted window (oldest first), and below it.
        self._hidden: list[Message] = []
        self._later: list[Message] = []
        self._queued: list[Queued] = []
        self._generation: Generation | None = None
        self._left_out: set[str] = set()
        self._loading = False
        self._jumping = False
        self.selected: MessageView | None = None
        self._code_turn = 0

    # -- selection ---------------------------------------------------------

    def on_focus(self) -> None:
        # Entering the list starts at the newest message, every time.
        views = self.views()
        if views:
            self._select(views[-1])

    def on_blur(self) -> None:
        for view in self.query(".-selected"):
            view.remove_class("-selected")

    def _select(self, view: MessageView, scroll: bool = True) -> None:
        for old in self.query(".-selected"):
            old.remove_class("-selected")
        view.add_class("-selected")
        self.selected = view
        self._code_turn = 0
        if scroll:
            self.scroll_to_widget(view, animate=False)
        else:  # just mounted: it has no place on screen until the next layout
            self.call_after_refresh(self.scroll_to_widget, view, animate=False)
        self.refresh_bindings()

    @property
    def selected_message(self) -> Message | None:
        """The selected sent message (None for none, or a queued one)."""
        view = self.selected
        return None if view is None or isinstance(view, QueuedMessageView) else view.message

    def action_select(self, step: int) -> None:
        """Select the previous (-1) or next (1) message."""
        views = self.views()
        if not views:
            return
        current = self.selected
        index = views.index(current) if current in views else len(views)
        self._select(views[max(0, min(len(views) - 1, index + step))])

    def _selected_text(self) -> tuple[str, str] | None:
        view = self.selected
        if view is None:
            return None
        if isinstance(view, QueuedMessageView):
            return view.queued.text, "your queued message"
        who = "your message" if view.message.role == "user" else "the reply"
        return view.message.content, who

    def action_copy_message(self) -> None:
        """Copy the selected message (sanitized) to the clipboard."""
        found = self._selected_text()
        if found is None:
            return
        text = clean(found[0])
        self._copy(text, f"{found[1]} ({len(text):,} characters)")

    def action_copy_code(self) -> None:
        """Copy the selected message's code blocks, one per press."""
        found = self._selected_text()
        if found is None:
            return
        blocks = code_blocks(found[0])
        if not blocks:
            self.notify("This message has no code block.", timeout=3)
            return
        index = self._code_turn % len(blocks)
        self._code_turn += 1
        text = clean(blocks[index])
        again = self.keymap.label("copy_code")
        more = f" Press {again} again for the next block." if len(blocks) > 1 else ""
        what = f"code block {index + 1} of {len(blocks)} ({len(text.splitlines())} lines)"
        self._copy(text, what, more)

    def _copy(self, text: str, what: str, after: str = "") -> None:
        """Copy ``text``: OSC 52 to the terminal always, and the desktop's clipboard tool
        where there is one; the notification says which of them was used."""
        self.app.copy_to_clipboard(text)
        tool = clipboard.local_tool()
        if tool is None:
            self._told_copy(clipboard.describe(what, None, None) + after)
        else:
            self._copy_with(tool, text, what, after)

    @work(group="clipboard", exit_on_error=False)
    async def _copy_with(self, tool: clipboard.Tool, text: str, what: str, after: str) -> None:
        error = await asyncio.to_thread(clipboard.run_tool, tool, text)
        self._told_copy(clipboard.describe(what, tool, error) + after, error is not None)

    def _told_copy(self, message: str, failed: bool = False) -> None:
        self.notify(
            message, severity="warning" if failed else "information", timeout=6, markup=False
        )

    def action_edit_message(self) -> None:
        """Edit the selected message of yours (or take a queued one back)."""
        view = self.selected
        if view is None:
            return
        if isinstance(view, QueuedMessageView):
            self.post_message(self.QueuedEditRequested(view.queued))
            return
        if view.message.role != "user":
            regenerate = self.keymap.label("regenerate")
            self.notify(
                f"Only your own messages can be edited; {regenerate} regenerates a reply.",
                timeout=4,
                markup=False,
            )
            return
        self.post_message(self.EditRequested(view.message))

    def action_delete_message(self) -> None:
        """Delete the selected message (or cancel a queued one)."""
        view = self.selected
        if isinstance(view, QueuedMessageView):
            self.post_message(self.QueuedCancelRequested(view.queued))
        elif view is not None:
            self.post_message(self.DeleteRequested(view.message))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch":
            view = self.selected
            versions = getattr(view, "versions", None)
            return bool(versions and versions[1] > 1)  # shown only where there are others
        return True

    def action_switch(self, step: int) -> None:
        """Show the older or newer version of the selected message."""
        message = self.selected_message
        if message is not None:
            self.post_message(self.SwitchRequested(message, step))

    def select_message(self, message: Message) -> None:
        """Select the view of ``message`` (after the pane was redrawn)."""
        view = self.view_of(message)
        if view is not None:
            self._select(view)
        elif any(m is message for m in self._hidden + self._later):
            self.call_later(self._select_unmounted, message)

    async def _select_unmounted(self, message: Message) -> None:
        """Mount the batch around ``message`` (only that batch) and select it."""
        messages = self._shown_messages()
        index = next((i for i, m in enumerate(messages) if m is message), None)
        if index is None:
            return
        await self._mount_window(messages, index - BATCH // 2)
        view = self.view_of(message)
        if view is not None:
            self._select(view, scroll=False)

    def action_leave(self) -> None:
        """Back to the prompt."""
        self.post_message(self.Left())

    # -- showing -----------------------------------------------------------

    def view_for(self, message: Message, generation: Generation | None) -> MessageView:
        """The widget that draws ``message`` (live if ``generation`` is writing it)."""
        versions = None
        if self.conversation is not None:
            siblings = self.conversation.siblings(message)
            if len(siblings) > 1 and message in siblings:
                versions = (siblings.index(message) + 1, len(siblings))
        view: MessageView
        if message.role == "user":
            view = UserMessageView(message, versions)
        else:
            live = generation if generation is not None and generation.message is message else None
            view = AssistantMessageView(message, live, self.price_lookup, versions)
        if message.id in self._left_out:
            view.add_class("-left-out")
        return view

    def _queued_hint(self) -> str:
        select = self.keymap.label("select_messages")
        edit = self.keymap.label("edit_message")
        cancel = self.keymap.label("delete_message")
        return f"{select} then {edit} edits, {cancel} cancels"

    async def show(
        self,
        conversation: Conversation,
        generation: Generation | None,
        queued: Sequence[Queued] = (),
    ) -> None:
        """Show ``conversation``: its last messages now, others as the user scrolls."""
        self.conversation = conversation
        self.selected = None
        self._generation = generation
        self._queued = list(queued)
        self._left_out = set()
        messages = [m for m in conversation.messages if m.role != "system"]
        await self._mount_window(messages, len(messages) - BATCH)
        self.anchor()

    def _shown_messages(self) -> list[Message]:
        """Every message of the conversation the pane shows, mounted or not, in order."""
        mounted = [v.message for v in self.views() if not isinstance(v, QueuedMessageView)]
        return self._hidden + mounted + self._later

    async def _mount_window(self, messages: Sequence[Message], start: int) -> None:
        """Mount ``messages[start:start + BATCH]`` in place of everything in the pane."""
        start = max(0, min(start, len(messages) - BATCH))
        self._hidden = list(messages[:start])
        self._later = list(messages[start + BATCH :])
        views: list[Widget] = [
            self.view_for(m, self._generation) for m in messages[start : start + BATCH]
        ]
        if not self._later:
            views += [QueuedMessageView(q, self._queued_hint()) for q in self._queued]
        self._jumping = True
        try:
            with self.app.batch_update():
                await self.remove_children()
                await self.mount_all(views)
                await self._update_hints()
        finally:
            self._jumping = False
        if self.selected is not None and not self.selected.is_attached:
            self.selected = None
        if self._later:
            self.anchor(False)  # the end is not mounted: do not follow it

    async def _update_hints(self) -> None:
        """The lines above and below the window saying how many messages are not shown."""
        for hidden, name, where in (
            (self._hidden, "older-hint", "earlier messages: scroll up to load them"),
            (self._later, "later-hint", "later messages: scroll down to load them"),
        ):
            found = list(self.query(f".{name}"))
            if not hidden:
                for hint in found:
                    await hint.remove()
                continue
            text = Content.styled(f"{len(hidden)} {where}", "$text-muted")
            if found and isinstance(found[0], Static):
                found[0].update(text)
            elif name == "older-hint":
                await self.mount(Static(text, classes=name), before=0)
            else:
                await self.mount(Static(text, classes=name))

    async def _to_end(self) -> None:
        """Mount the last batch if the window is elsewhere (new messages go at the end)."""
        if self._later:
            await self._mount_window(self._shown_messages(), len(self._shown_messages()))

    async def action_first_message(self) -> None:
        """Home: to the first message, mounting only the first batch (not all between)."""
        if self._hidden:
            await self._mount_window(self._shown_messages(), 0)
        self.scroll_home(animate=False, immediate=True)
        self._select_end(first=True)

    async def action_last_message(self) -> None:
        """End: to the newest message, following the end again."""
        await self._to_end()
        self.anchor()
        self._select_end(first=False)

    def _select_end(self, first: bool) -> None:
        """With the focus here, select the first or the last message."""
        views = self.views()
        if self.has_focus and views:
            self._select(views[0] if first else views[-1], scroll=False)

    async def add_message(self, message: Message, generation: Generation | None = None) -> None:
        """Append a view for a new message (above any queued ones) and follow the end."""
        await self._to_end()
        if generation is not None:
            self._generation = generation
        view = self.view_for(message, generation)
        first_queued = next(iter(self.query(QueuedMessageView)), None)
        if first_queued is not None:
            await self.mount(view, before=first_queued)
        else:
            await self.mount(view)
        self.anchor()

    async def add_queued(self, queued: Queued) -> None:
        """Show a message waiting for the reply to end."""
        self._queued.append(queued)
        await self._to_end()
        if not any(v.queued is queued for v in self.query(QueuedMessageView)):
            await self.mount(QueuedMessageView(queued, self._queued_hint()))
        self.anchor()

    async def remove_queued(self, queued: Queued) -> None:
        """Take a waiting message off the screen (sent, cancelled or taken back)."""
        self._queued = [q for q in self._queued if q != queued]
        for view in list(self.query(QueuedMessageView)):
            if view.queued == queued:
                if self.selected is view:
                    self.selected = None
                await view.remove()

    async def remove_message(self, message: Message) -> None:
        """Take a deleted message's view off the screen."""
        self._hidden = [m for m in self._hidden if m is not message]
        self._later = [m for m in self._later if m is not message]
        view = self.view_of(message)
        if view is not None:
            if self.selected is view:
                self.selected = None
            await view.remove()
        await self._update_hints()

    def mark_left_out(self, messages: Sequence[Message]) -> None:
        """Dim the messages the next request leaves out (they do not fit)."""
        self._left_out = {m.id for m in messages}
        for view in self.views():
            if not isinstance(view, QueuedMessageView):
                view.set_class(view.message.id in self._left_out, "-left-out")

    def views(self) -> list[MessageView]:
        """Every message view, top to bottom (queued ones last)."""
        return [
            w
            for w in self.children
            if isinstance(w, (AssistantMessageView, UserMessageView, QueuedMessageView))
        ]

    def view_of(self, message: Message) -> AssistantMessageView | UserMessageView | None:
        """The view drawing ``message``, if it is mounted."""
        for view in reversed(self.views()):
            if not isinstance(view, QueuedMessageView) and view.message is message:
                return view
        return None

    async def reveal(self, message: Message | None) -> bool:
        """Scroll to ``message`` and mark it as the found one (loading older
        messages first if it is not mounted yet); None clears the mark.
        False if the message is not in the conversation on screen."""
        for old in self.query(".-found"):
            old.remove_class("-found")
        if message is None:
            return True
        if self.view_of(message) is None:
            # Not mounted: mount the batch around it (only that batch), as a version
            # switch on a far message does.
            messages = self._shown_messages()
            index = next((i for i, m in enumerate(messages) if m is message), None)
            if index is None:
                return False
            await self._mount_window(messages, index - BATCH // 2)
        view = self.view_of(message)
        if view is None:
            return False
        view.add_class("-found")
        # After the refresh, so it comes after any keep-your-place scroll of a load.
        self.call_after_refresh(self.scroll_to_widget, view, animate=False, top=True)
        return True

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._loading or self._jumping:
            return
        if new <= 1 and self._hidden:
            self._loading = True
            self.call_later(self._load_older)
        elif self._later and new >= self.max_scroll_y - 1:
            self._loading = True
            self.call_later(self._load_later)

    def _message_views(self) -> list[AssistantMessageView | UserMessageView]:
        return [v for v in self.views() if not isinstance(v, QueuedMessageView)]

    async def _load_older(self) -> None:
        """Mount the batch above the window; unmount what is beyond WINDOW below."""
        try:
            if not self._hidden or self.scroll_y > 1:
                return
            batch = self._hidden[-BATCH:]
            del self._hidden[-BATCH:]
            mounted = self._message_views()
            first = mounted[0] if mounted else None
            place = self._place(first)
            views = [self.view_for(m, self._generation) for m in batch]
            later_hint = next(iter(self.query(".later-hint")), None)
            if first is not None:
                await self.mount_all(views, before=first)
            elif later_hint is not None:  # every mounted message was deleted
                await self.mount_all(views, before=later_hint)
            else:
                await self.mount_all(views)
            excess = len(mounted) + len(views) - WINDOW
            if excess > 0:
                drop: list[Widget] = list(mounted[-excess:])
                self._later[:0] = [v.message for v in mounted[-excess:]]
                drop += list(self.query(QueuedMessageView))
                if self.selected in drop:
                    self.selected = None
                self.anchor(False)  # the end is not mounted: do not follow it
                await self.remove_children(drop)
            await self._update_hints()
            if first is not None:
                self._keep_place(first, place)
        finally:
            self._loading = False

    async def _load_later(self) -> None:
        """Mount the batch below the window; unmount what is beyond WINDOW above."""
        try:
            if not self._later or self.scroll_y < self.max_scroll_y - 1:
                return
            batch = self._later[:BATCH]
            del self._later[:BATCH]
            mounted = self._message_views()
            excess = len(mounted) + len(batch) - WINDOW
            kept = mounted[excess] if 0 < excess < len(mounted) else None
            place = self._place(kept)
            views: list[Widget] = [self.view_for(m, self._generation) for m in batch]
            if not self._later:
                views += [QueuedMessageView(q, self._queued_hint()) for q in self._queued]
            if mounted:
                await self.mount_all(views, after=mounted[-1])
            else:
                await self.mount_all(views)
            if kept is not None:
                drop = mounted[:excess]
                self._hidden += [v.message for v in drop]
                if self.selected in drop:
                    self.selected = None
                await self.remove_children(drop)
            await self._update_hints()
            if kept is not None:
                self._keep_place(kept, place)
            if not self._later:
                # Back at the end: follow it again once the user scrolls to the bottom
                # (Textual re-anchors a released anchor there; no public way to arm one).
                self._anchored = True
                self.release_anchor()
        finally:
            self._loading = False

    @staticmethod
    def _place(view: Widget | None) -> int:
        """Where ``view`` is in the scrolled content (measure before mounting anything:
        Textual cannot place widgets that were mounted but not laid out yet)."""
        return view.virtual_region.y if view is not None else 0

    def _keep_place(self, view: Widget, before: int) -> None:
        """Keep ``view`` where it was on screen after views above it came or went."""

        def keep() -> None:
            if view.is_attached:
                moved = view.virtual_region.y - before
                self.scroll_to(y=self.scroll_y + moved, animate=False, immediate=True)

        self.call_after_refresh(keep)
