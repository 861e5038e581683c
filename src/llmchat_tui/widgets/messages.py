"""The message pane: the open conversation's messages, through a window.

How one message is drawn is in :mod:`~llmchat_tui.widgets.message_views` (and a
compare round's columns in :mod:`~llmchat_tui.widgets.compare_row`).

A long conversation is shown through a window: at most :data:`WINDOW` message
views are mounted at a time (Textual lays out every mounted widget on every
frame, so the cost of a frame grows with what is mounted, not with what is
seen). A jump (opening, Home, End, a found message, another version of a far
message) mounts one screenful there and nothing between; scrolling to either
end of the window mounts the next :data:`BATCH` there and unmounts views beyond
:data:`WINDOW` at the other end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from textual import work
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widget import Widget
from textual.widgets import Static

from llmchat_tui import clipboard, compare
from llmchat_tui.blocks import code_blocks
from llmchat_tui.generation import Generation
from llmchat_tui.keymap import Keymap
from llmchat_tui.models import Conversation, Message
from llmchat_tui.outbox import Queued
from llmchat_tui.sanitize import clean
from llmchat_tui.widgets.compare_row import CompareRow
from llmchat_tui.widgets.message_views import (
    AssistantMessageView,
    PriceLookup,
    QueuedMessageView,
    UserMessageView,
    message_footer,
)

__all__ = [
    "BATCH",
    "WINDOW",
    "AssistantMessageView",
    "CompareRow",
    "MessagePane",
    "QueuedMessageView",
    "UserMessageView",
    "message_footer",
]

BATCH = 40
#: The fewest messages a jump (open, Home, End, a found message) mounts.
MIN_JUMP = 10
#: The most message views mounted at once (scrolling on unmounts the far end).
WINDOW = 3 * BATCH
MessageView = AssistantMessageView | UserMessageView | QueuedMessageView | CompareRow
SentView = AssistantMessageView | UserMessageView | CompareRow


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
        Binding(
            "left",
            "choose(-1)",
            "‹ Reply",
            id="column_previous",
            tooltip="Models compared: choose the reply to the left",
        ),
        Binding(
            "right",
            "choose(1)",
            "Reply ›",
            id="column_next",
            tooltip="Models compared: choose the reply to the right",
        ),
        Binding("left", "switch(-1)", "‹ Older version", id="version_previous"),
        Binding("right", "switch(1)", "Newer version ›", id="version_next"),
        Binding(
            "k",
            "keep_reply",
            "Keep this reply",
            id="keep_reply",
            tooltip="Models compared: go on with the chosen reply",
        ),
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
    class KeepRequested(TextualMessage):
        """Keep this reply of a compare round (the others stay as its siblings)."""

        message: Message

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
        #: The replies being written, by message id.
        self._live: dict[str, Generation] = {}
        #: The compare round drawn side by side ([] when not comparing).
        self._round: list[Message] = []
        #: The find bar's words, marked in every message drawn (None: none).
        self._needle: str | None = None
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
        if isinstance(view, CompareRow):
            return view.chosen_message
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
        message = self.selected_message
        if message is None:
            return None
        who = "your message" if message.role == "user" else "the reply"
        return message.content, who

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
        if isinstance(view, CompareRow) or view.message.role != "user":
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
            message = self.selected_message
            if message is not None:
                self.post_message(self.DeleteRequested(message))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":  # Left/Right in a compare round: choose a column
            return isinstance(self.selected, CompareRow)
        if action == "switch":
            view = self.selected
            if isinstance(view, CompareRow):
                return False  # the keys choose a column there
            versions = getattr(view, "versions", None)
            return bool(versions and versions[1] > 1)  # shown only where there are others
        if action == "keep_reply":
            return isinstance(self.selected, CompareRow)
        return True

    def action_choose(self, step: int) -> None:
        """In a compare round, choose the reply to the left (-1) or right (1)."""
        view = self.selected
        if isinstance(view, CompareRow):
            view.choose(step)

    def action_switch(self, step: int) -> None:
        """Show the older or newer version of the selected message."""
        message = self.selected_message
        if message is not None:
            self.post_message(self.SwitchRequested(message, step))

    def action_keep_reply(self) -> None:
        """Keep the chosen reply of the compare round (the others stay as versions)."""
        view = self.selected
        if isinstance(view, CompareRow):
            self.post_message(self.KeepRequested(view.chosen_message))

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
        jump = self.jump_size()
        await self._mount_window(messages, index - jump // 2, jump)
        view = self.view_of(message)
        if view is not None:
            self._select(view, scroll=False)

    def action_leave(self) -> None:
        """Back to the prompt."""
        self.post_message(self.Left())

    # -- showing -----------------------------------------------------------

    def view_for(self, message: Message) -> MessageView:
        """The widget that draws ``message`` (live if one of the replies being
        written is it; the replies of a compare round side by side)."""
        if message in self._round:
            row = CompareRow(message, self._round, self._live, self.price_lookup)
            row.mark(self._needle)
            return row
        versions = None
        if self.conversation is not None:
            siblings = self.conversation.siblings(message)
            if len(siblings) > 1 and message in siblings:
                versions = (siblings.index(message) + 1, len(siblings))
        view: MessageView
        if message.role == "user":
            view = UserMessageView(message, versions)
        else:
            live = self._live.get(message.id)
            if live is not None and live.message is not message:
                live = None
            view = AssistantMessageView(message, live, self.price_lookup, versions)
        if message.id in self._left_out:
            view.add_class("-left-out")
        if self._needle:
            view.mark(self._needle)
        return view

    def mark(self, needle: str | None) -> None:
        """Mark the matches of ``needle`` in every message drawn now or later."""
        needle = needle if needle and needle.strip() else None
        if needle == self._needle:
            return
        self._needle = needle
        for view in self._message_views():
            view.mark(needle)

    def _queued_hint(self) -> str:
        select = self.keymap.label("select_messages")
        edit = self.keymap.label("edit_message")
        cancel = self.keymap.label("delete_message")
        return f"{select} then {edit} edits, {cancel} cancels"

    async def show(
        self,
        conversation: Conversation,
        generations: Sequence[Generation] = (),
        queued: Sequence[Queued] = (),
    ) -> None:
        """Show ``conversation``: its last messages now, others as the user scrolls;
        ``generations`` are its replies being written (or just written)."""
        self.conversation = conversation
        self.selected = None
        self._live = {g.message.id: g for g in generations}
        self._round = compare.round_of(conversation)
        self._queued = list(queued)
        self._left_out = set()
        messages = [m for m in conversation.messages if m.role != "system"]
        await self._mount_window(messages, len(messages), self.jump_size())
        self.anchor()

    def _shown_messages(self) -> list[Message]:
        """Every message of the conversation the pane shows, mounted or not, in order."""
        mounted = [v.message for v in self.views() if not isinstance(v, QueuedMessageView)]
        return self._hidden + mounted + self._later

    def jump_size(self) -> int:
        """How many messages a jump mounts: a screenful. Every message view is at
        least two rows high (a line and the space above it), so half the pane's
        height fills it; scrolling on mounts :data:`BATCH` more at a time."""
        height = self.size.height
        return max(MIN_JUMP, height // 2 + 2) if height else BATCH

    async def _mount_window(
        self, messages: Sequence[Message], start: int, size: int = BATCH
    ) -> None:
        """Mount ``messages[start:start + size]`` in place of everything in the pane."""
        start = max(0, min(start, len(messages) - size))
        self._hidden = list(messages[:start])
        self._later = list(messages[start + size :])
        views: list[Widget] = [self.view_for(m) for m in messages[start : start + size]]
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
            shown = self._shown_messages()
            await self._mount_window(shown, len(shown), self.jump_size())

    async def action_first_message(self) -> None:
        """Home: to the first message, mounting only the first batch (not all between)."""
        if self._hidden:
            await self._mount_window(self._shown_messages(), 0, self.jump_size())
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
            self._live[message.id] = generation
        view = self.view_for(message)
        first_queued = next(iter(self.query(QueuedMessageView)), None)
        if first_queued is not None:
            await self.mount(view, before=first_queued)
        else:
            await self.mount(view)
        self.anchor()
        await self._trim_top()

    async def _trim_top(self) -> None:
        """At the end of a growing conversation, keep about a screenful of views
        mounted (:meth:`jump_size`): the older ones are scrolled away and each holds
        its drawn lines (a long session grew by 3.6 MB a reply, B10); scrolling up
        mounts them again."""
        mounted = self._message_views()
        excess = len(mounted) - self.jump_size()
        if excess <= 0:
            return
        drop = mounted[:excess]
        self._hidden += [view.message for view in drop]
        if self.selected in drop:
            self.selected = None
        await self.remove_children(drop)
        await self._update_hints()

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
            if isinstance(w, (AssistantMessageView, UserMessageView, QueuedMessageView, CompareRow))
        ]

    def view_of(self, message: Message) -> SentView | None:
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
            jump = self.jump_size()
            await self._mount_window(messages, index - jump // 2, jump)
        view = self.view_of(message)
        if view is None:
            return False
        view.add_class("-found")
        # After the refresh, so it comes after any keep-your-place scroll of a load.
        self.call_after_refresh(self.scroll_to_widget, view, animate=False, top=True)
        return True

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._check_edges()

    def _check_edges(self) -> None:
        """At the top (or bottom) of the window with more beyond it: load that batch."""
        if self._loading or self._jumping or not self.is_attached:
            return
        if self.scroll_y <= 1 and self._hidden:
            self._loading = True
            self.call_later(self._load_older)
        elif self._later and self.scroll_y >= self.max_scroll_y - 1:
            self._loading = True
            self.call_later(self._load_later)

    def _message_views(self) -> list[SentView]:
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
            views = [self.view_for(m) for m in batch]
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
            # Once laid out (and kept in place): still at an edge? Then the next batch.
            # A scroll that came before the layout had nothing to measure against.
            self.call_after_refresh(self._check_edges)

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
            views: list[Widget] = [self.view_for(m) for m in batch]
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
            self.call_after_refresh(self._check_edges)

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
