"""The sidebar: every saved conversation, newest first, with a filter.

Built on ``OptionList`` (a single widget drawing only visible rows) so tens
of thousands of conversations list at once. Titles are plain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from llmchat_tui.models import parse_iso
from llmchat_tui.sanitize import clean_line


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


@dataclass
class Row:
    """What the sidebar shows of one conversation."""

    id: str
    title: str
    updated_at: str
    model: str
    generating: bool = False


def row_prompt(row: Row, now: datetime | None = None) -> Content:
    marker = ("● ", "$success") if row.generating else ("  ", "")
    title = clean_line(row.title, 26) or "New chat"
    detail = " · ".join(
        x for x in (relative_time(row.updated_at, now), clean_line(row.model, 30)) if x
    )
    return Content.assemble(marker, (title, "bold"), "\n  ", (detail, "$text-muted"))


WINDOW = 200  # rows drawn at a time
MORE_ID = "__more__"


class ConversationList(OptionList):
    """The list itself; keys act on the highlighted conversation."""

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new >= self.max_scroll_y - self.size.height and isinstance(self.parent, Sidebar):
            self.parent.extend()

    BINDINGS = [
        Binding("f2,r", "rename", "Rename", id="rename_conversation"),
        Binding("delete,d", "delete", "Delete", id="delete_conversation"),
    ]

    def on_focus(self) -> None:
        # Keys act on the highlighted row: make sure there is one.
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def action_rename(self) -> None:
        if self._highlighted_id() != MORE_ID:
            self.post_message(Sidebar.RenameRequested(self._highlighted_id()))

    def action_delete(self) -> None:
        if self._highlighted_id() != MORE_ID:
            self.post_message(Sidebar.DeleteRequested(self._highlighted_id()))

    def _highlighted_id(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None else None


class Sidebar(Vertical):
    """Conversations, newest first, and a filter box."""

    @dataclass
    class ConversationSelected(Message):
        """The user chose a conversation to open."""

        conversation_id: str

    @dataclass
    class RenameRequested(Message):
        conversation_id: str | None

    @dataclass
    class DeleteRequested(Message):
        conversation_id: str | None

    @dataclass
    class FilterChanged(Message):
        """The filter text changed: the app searches and calls :meth:`show_only`."""

        query: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: dict[str, Row] = {}
        self.order: list[str] = []
        self.filtered_ids: list[str] | None = None  # None: all rows
        self.current: str | None = None
        self._shown = 0

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Filter (Ctrl+F)", id="filter", compact=True)
        yield ConversationList(id="conversations")

    @property
    def option_list(self) -> ConversationList:
        return self.query_one(ConversationList)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    def set_rows(self, rows: list[Row]) -> None:
        """Replace every row (newest first)."""
        self.rows = {row.id: row for row in rows}
        self.order = [row.id for row in rows]
        self._rebuild()

    def upsert(self, row: Row, *, to_top: bool = True) -> None:
        """Add or update one conversation's row."""
        known = row.id in self.rows
        self.rows[row.id] = row
        if to_top or not known:
            if known:
                self.order.remove(row.id)
            self.order.insert(0, row.id)
            self._rebuild()
        else:
            self._replace(row.id)

    def remove(self, conversation_id: str) -> None:
        if conversation_id in self.rows:
            del self.rows[conversation_id]
            self.order.remove(conversation_id)
            if self.filtered_ids is not None and conversation_id in self.filtered_ids:
                self.filtered_ids.remove(conversation_id)
            self._rebuild()

    def set_generating(self, conversation_id: str, generating: bool) -> None:
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
        """Show only ``ids`` (in the given order), or every row for None."""
        self.filtered_ids = ids
        self._rebuild()

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
        self.option_list.set_options(options)
        if self.current is not None:
            self.select(self.current)

    @staticmethod
    def _more_option(count: int) -> Option:
        return Option(
            Content.styled(f"  … {count:,} more (scroll, or Ctrl+F to filter)", "$text-muted"),
            id=MORE_ID,
        )

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

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.option_list.focus()
