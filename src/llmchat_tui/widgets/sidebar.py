"""The sidebar: every saved conversation, newest first, with a filter that acts as a picker.

Built on ``OptionList`` (a single widget drawing only visible rows) so tens
of thousands of conversations list at once. Titles are plain text.

The filter box works like a picker: typing narrows the list, Up/Down move through
the results without leaving the box, Enter opens the highlighted (or top) match,
Esc clears the filter and shows every conversation again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from llmchat_tui.keymap import Keymap
from llmchat_tui.models import Conversation, parse_iso
from llmchat_tui.sanitize import clean_line
from llmchat_tui.store import Summary
from llmchat_tui.widgets.ordered_keys import (
    TakesOrderedKeys,
    forward_if_focus_moved,
    run_binding_now,
)


def relative_time(iso: str, now: datetime | None = None) -> str:
    """``just now``, ``5 min``, ``3 h``, ``2 d``, or a date for older ones."""
    try:
        then = parse_iso(iso)
    except ValueError:
        return ""
    now = now or datetime.now(UTC)
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    if seconds < 7 * 86400:
        return f"{int(seconds // 86400)} d"
    return then.strftime("%Y-%m-%d")


@dataclass(slots=True)
class Row:
    """What the sidebar shows of one conversation."""

    id: str
    title: str
    updated_at: str
    model: str
    generating: bool = False
    draft_only: bool = False  # a new chat holding only unsent text


def row_prompt(row: Row, now: datetime | None = None) -> Content:
    """The two lines of one row: marker and title, then age, model or "draft"."""
    marker = ("● ", "$success") if row.generating else ("  ", "")
    title = clean_line(row.title, 26) or "New chat"
    details = [relative_time(row.updated_at, now)]
    details.append("draft" if row.draft_only else clean_line(row.model, 30))
    detail = " · ".join(x for x in details if x)
    style = "italic" if row.draft_only else "bold"
    return Content.assemble(marker, (title, style), "\n  ", (detail, "$text-muted"))


WINDOW = 200  # rows drawn at a time
MORE_ID = "__more__"


class ConversationList(OptionList):
    """The list itself; keys act on the highlighted conversation."""

    BINDINGS = [
        Binding("f2,r", "rename", "Rename", id="rename_conversation"),
        Binding("delete,d", "delete", "Delete", id="delete_conversation"),
        Binding("escape", "leave", "Back to prompt", id="leave_sidebar"),
    ]

    @dataclass
    class NearEnd(Message):
        """The list was scrolled close to its last drawn row: draw more."""

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new >= self.max_scroll_y - self.size.height:
            self.post_message(self.NearEnd())

    def on_focus(self) -> None:
        # Keys act on the highlighted row: make sure there is one.
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def action_rename(self) -> None:
        """Rename the highlighted conversation."""
        if self.highlighted_id() not in (None, MORE_ID):
            self.post_message(Sidebar.RenameRequested(self.highlighted_id()))

    def action_delete(self) -> None:
        """Delete the highlighted conversation (after asking)."""
        if self.highlighted_id() not in (None, MORE_ID):
            self.post_message(Sidebar.DeleteRequested(self.highlighted_id()))

    def action_leave(self) -> None:
        """Back to the prompt."""
        self.post_message(Sidebar.Left())

    def highlighted_id(self) -> str | None:
        """The id of the highlighted row, if any."""
        option = self.highlighted_option
        return option.id if option is not None else None


class FilterInput(TakesOrderedKeys, Input):
    """The filter box: Up/Down move through the results, Enter opens, Esc clears."""

    BINDINGS = [
        Binding("down", "move(1)", "Next match", id="filter_next", show=False),
        Binding("up", "move(-1)", "Previous match", id="filter_previous", show=False),
        Binding("escape", "clear_filter", "Clear filter", id="filter_clear"),
    ]

    @dataclass
    class Moved(Message):
        """Up or Down in the filter box."""

        step: int

    @dataclass
    class Cleared(Message):
        """Esc in the filter box (``was_empty``: nothing was typed)."""

        was_empty: bool

    async def _on_key(self, event: events.Key) -> None:
        if forward_if_focus_moved(self, event):
            return
        await run_binding_now(self, event)  # Input's own handler runs after (text)

    def action_move(self, step: int) -> None:
        """Move the highlight in the results."""
        self.post_message(self.Moved(step))

    def action_clear_filter(self) -> None:
        """Clear the filter (or leave the box when it is already empty)."""
        was_empty = not self.value
        self.value = ""
        self.post_message(self.Cleared(was_empty))


class Sidebar(Vertical):
    """Conversations, newest first, and a filter box."""

    @dataclass
    class ConversationSelected(Message):
        """The user chose a conversation to open."""

        conversation_id: str

    @dataclass
    class RenameRequested(Message):
        """Rename this conversation."""

        conversation_id: str | None

    @dataclass
    class DeleteRequested(Message):
        """Delete this conversation."""

        conversation_id: str | None

    @dataclass
    class FilterChanged(Message):
        """The filter text changed: the screen searches and calls :meth:`show_only`."""

        query: str

    @dataclass
    class Left(Message):
        """The user left the sidebar (Esc in an empty filter box)."""

    def __init__(self, keymap: Keymap, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keymap = keymap
        self.rows: dict[str, Row] = {}
        self.order: list[str] = []
        self.filtered_ids: list[str] | None = None  # None: all rows
        self.current: str | None = None
        self._shown = 0

    def compose(self) -> ComposeResult:
        yield FilterInput(
            placeholder=f"Filter ({self.keymap.label('filter')})", id="filter", compact=True
        )
        yield Static("", id="sidebar-busy", markup=False)
        yield ConversationList(id="conversations")

    @property
    def option_list(self) -> ConversationList:
        """The list of conversations."""
        return self.query_one(ConversationList)

    @property
    def filter_input(self) -> FilterInput:
        """The filter box."""
        return self.query_one(FilterInput)

    @property
    def filtering(self) -> bool:
        """Whether a filter narrows the list now."""
        return self.filtered_ids is not None

    def set_rows(self, rows: list[Row]) -> None:
        """Replace every row (newest first)."""
        self.rows = {row.id: row for row in rows}
        self.order = [row.id for row in rows]
        self._rebuild()

    def add_rows(self, rows: list[Row], order: list[str]) -> None:
        """Add conversations that were read late (the store reads the files index.json
        does not vouch for after the first frame); ``order`` is every conversation id
        the store knows, newest first (sorted off the UI thread). Rows already listed
        are kept, and so are rows the store does not know yet (a new chat: on top)."""
        known = self.rows
        for row in rows:
            known.setdefault(row.id, row)
        if len(known) != len(order):
            listed = set(order)
            order = [i for i in self.order if i not in listed] + [i for i in order if i in known]
        self.order = order
        self._rebuild()

    def set_busy(self, text: str | None) -> None:
        """Show ``text`` above the list (e.g. conversations still being read), or hide it."""
        busy = self.query_one("#sidebar-busy", Static)
        busy.update(text or "")
        busy.display = text is not None

    def upsert(self, row: Row, *, to_top: bool = True) -> None:
        """Add or update one conversation's row.

        A conversation that is new to the list shows even under a filter (it was
        just created or saved; hiding it would look like a loss).
        """
        known = row.id in self.rows
        self.rows[row.id] = row
        if to_top or not known:
            if known:
                self.order.remove(row.id)
            self.order.insert(0, row.id)
            if self.filtered_ids is not None and row.id not in self.filtered_ids:
                self.filtered_ids.insert(0, row.id)
            self._rebuild()
        else:
            self._replace(row.id)

    def remove_row(self, conversation_id: str) -> None:
        """Take one conversation off the list."""
        if conversation_id in self.rows:
            del self.rows[conversation_id]
            self.order.remove(conversation_id)
            if self.filtered_ids is not None and conversation_id in self.filtered_ids:
                self.filtered_ids.remove(conversation_id)
            self._rebuild()

    def set_generating(self, conversation_id: str, generating: bool) -> None:
        """Show or hide the ● of a conversation whose reply is streaming."""
        row = self.rows.get(conversation_id)
        if row is not None and row.generating != generating:
            row.generating = generating
            self._replace(conversation_id)

    def select(self, conversation_id: str | None) -> None:
        """Highlight the open conversation (without opening it again)."""
        self.current = conversation_id
        option_list = self.option_list
        if conversation_id is None:
            option_list.highlighted = None
            return
        ids = self._ids()
        if conversation_id in self.rows and conversation_id in ids:
            while conversation_id not in ids[: self._shown]:
                self.extend()
        try:
            option_list.highlighted = option_list.get_option_index(conversation_id)
        except Exception:  # not listed (filtered out, or not saved yet)
            pass

    def show_only(self, ids: list[str] | None) -> None:
        """Show only ``ids`` (in the given order), or every row for None.

        The highlighted result stays highlighted when it is still listed (new
        results arrive as the user types and moves through them).
        """
        before = self.option_list.highlighted_id()
        self.filtered_ids = ids
        self._rebuild()
        if ids:
            try:
                keep = self.option_list.get_option_index(before) if before else 0
            except Exception:  # no longer listed
                keep = 0
            self.option_list.highlighted = keep

    def clear_filter(self) -> None:
        """Empty the filter box and show every conversation."""
        self.filter_input.value = ""
        self.show_only(None)

    def _ids(self) -> list[str]:
        if self.filtered_ids is None:
            return self.order
        return [i for i in self.filtered_ids if i in self.rows]

    def _rebuild(self) -> None:
        """Draw the first :data:`WINDOW` rows; more are added as the user scrolls.

        ``OptionList`` renders every prompt to measure it, so drawing 10,000
        rows at start-up took over a second (benchmark B4); a window keeps the
        first frame fast and scrolling adds rows before they are needed.
        """
        now = datetime.now(UTC)
        ids = self._ids()
        self._shown = min(len(ids), WINDOW)
        options: list[Option] = [
            Option(row_prompt(self.rows[i], now), id=i) for i in ids[: self._shown]
        ]
        if len(ids) > self._shown:
            options.append(self._more_option(len(ids) - self._shown))
        option_list = self.option_list
        option_list.set_options(options)
        if self.current is not None and not self.filtering:
            self.select(self.current)
        if option_list.has_focus and option_list.highlighted is None and options:
            # Focused while empty (rows read after the first frame arrive
            # later): keys act on the highlighted row, as on focus.
            option_list.highlighted = 0

    def _more_option(self, count: int) -> Option:
        hint = f"  … {count:,} more (scroll, or {self.keymap.label('filter')} to filter)"
        return Option(Content.styled(hint, "$text-muted"), id=MORE_ID)

    def extend(self) -> None:
        """Draw the next window of rows (the user scrolled near the end)."""
        ids = self._ids()
        if self._shown >= len(ids):
            return
        option_list = self.option_list
        now = datetime.now(UTC)
        end = min(len(ids), self._shown + WINDOW)
        new = [Option(row_prompt(self.rows[i], now), id=i) for i in ids[self._shown : end]]
        self._shown = end
        highlighted = option_list.highlighted
        option_list.remove_option(MORE_ID)
        if end < len(ids):
            new.append(self._more_option(len(ids) - end))
        option_list.add_options(new)
        if highlighted is not None:
            option_list.highlighted = min(highlighted, option_list.option_count - 1)

    def _replace(self, conversation_id: str) -> None:
        try:
            self.option_list.replace_option_prompt(
                conversation_id, row_prompt(self.rows[conversation_id])
            )
        except Exception:  # not visible under the current filter
            pass

    def on_conversation_list_near_end(self, event: ConversationList.NearEnd) -> None:
        event.stop()
        self.extend()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id == MORE_ID or event.option_index >= self._shown - 5:
            self.extend()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id == MORE_ID:
            self.extend()
            return
        if event.option.id is not None:
            self.post_message(self.ConversationSelected(event.option.id))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.FilterChanged(event.value))

    def on_filter_input_moved(self, event: FilterInput.Moved) -> None:
        event.stop()
        option_list = self.option_list
        if not option_list.option_count:
            return
        if option_list.highlighted is None:
            option_list.highlighted = 0
        elif event.step > 0:
            option_list.action_cursor_down()
        else:
            option_list.action_cursor_up()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter box opens the highlighted (or top) result."""
        event.stop()
        chosen = self.option_list.highlighted_id()
        if chosen is None and self.option_list.option_count:
            chosen = self.option_list.get_option_at_index(0).id
        if chosen is not None and chosen != MORE_ID:
            self.post_message(self.ConversationSelected(chosen))

    def on_filter_input_cleared(self, event: FilterInput.Cleared) -> None:
        event.stop()
        self.show_only(None)
        if event.was_empty:
            self.post_message(self.Left())


def row_of(
    conversation: Conversation | Summary, generating: bool = False, draft_only: bool = False
) -> Row:
    """The sidebar row of a conversation (open or only summarised)."""
    if isinstance(conversation, Summary):
        draft_only = conversation.message_count == 0
    return Row(
        id=conversation.id,
        title=conversation.title,
        updated_at=conversation.updated_at,
        model=conversation.model,
        generating=generating,
        draft_only=draft_only,
    )
