"""The replies of a compare round, side by side.

One column per model (stacked one below the other in a terminal narrower than
:data:`SIDE_BY_SIDE`), each an :class:`AssistantMessageView` that follows its own
reply and shows its own figures. One column is *chosen* (highlighted): Left and
Right move the choice, and keeping a reply keeps the chosen one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal

from llmchat_tui.generation import Generation
from llmchat_tui.models import Message
from llmchat_tui.widgets.message_views import AssistantMessageView, PriceLookup

#: The least terminal width at which the columns stand side by side.
SIDE_BY_SIDE = 120


class CompareRow(Horizontal):
    """The replies of one compare round; ``message`` is the one that ends the
    branch on screen (its place in the pane's list of messages)."""

    def __init__(
        self,
        message: Message,
        replies: Sequence[Message],
        live: Mapping[str, Generation],
        price_lookup: PriceLookup | None = None,
    ) -> None:
        super().__init__(classes="message compare-row")
        self.message = message
        self.replies = list(replies)
        self.live = dict(live)
        self.price_lookup = price_lookup
        self.chosen = self.replies.index(message) if message in self.replies else 0
        self.needle: str | None = None

    def compose(self) -> ComposeResult:
        for number, reply in enumerate(self.replies, 1):
            view = AssistantMessageView(
                reply, self.live.get(reply.id), self.price_lookup, column=number
            )
            view.add_class("compare-column")
            view.needle = self.needle
            view.set_class(number - 1 == self.chosen, "-chosen")
            yield view

    def on_mount(self) -> None:
        self._fit(self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(self.app.size.width)

    def _fit(self, width: int) -> None:
        self.set_class(width < SIDE_BY_SIDE, "-stacked")

    @property
    def columns(self) -> list[AssistantMessageView]:
        return list(self.query_children(AssistantMessageView))

    @property
    def chosen_message(self) -> Message:
        return self.replies[self.chosen]

    def mark(self, needle: str | None) -> None:
        """Mark the find bar's words in every column."""
        self.needle = needle
        for column in self.columns:
            column.mark(needle)

    def choose(self, step: int) -> bool:
        """Move the choice one column left (-1) or right (1); False at the edge."""
        at = self.chosen + step
        if not 0 <= at < len(self.replies):
            return False
        self.chosen = at
        for number, column in enumerate(self.columns):
            column.set_class(number == at, "-chosen")
        return True
