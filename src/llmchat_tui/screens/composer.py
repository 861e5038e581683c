"""The prompt's state beyond its text: drafts per conversation and the one edit in progress.

No Textual import: the chat screen asks it what Enter means now, what to put back
in the prompt, and whether a draft changed; it never touches widgets itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llmchat_tui.models import Conversation, Message


@dataclass
class Edit:
    """An edit in progress: which message, and the draft it displaced."""

    conversation: Conversation
    message: Message
    displaced_draft: str


class Composer:
    """Drafts and edit mode for the chat screen.

    - While editing, the prompt holds the edited message's text; the unsent draft
      the user had is kept aside and comes back when the edit ends (sent or
      cancelled). Drafts are never saved while editing (the prompt does not hold
      the draft then).
    - Otherwise the prompt's text is the open conversation's draft.

    ``set_draft`` keeps a draft (the session's
    :meth:`~llmchat_tui.session.ChatSession.set_draft`, which also names a chat
    that holds only a draft); it returns whether the draft changed.
    """

    def __init__(self, set_draft: Callable[[Conversation, str], bool]) -> None:
        self._set_draft = set_draft
        self.edit: Edit | None = None

    @property
    def editing(self) -> bool:
        """Whether the prompt holds an edit of a sent message."""
        return self.edit is not None

    def take_draft(self, conversation: Conversation, prompt_text: str) -> bool:
        """Copy the prompt into ``conversation.draft``; True when that changed it.

        Does nothing while editing (the prompt holds the edit, not the draft).
        """
        if self.edit is not None:
            return False
        return self._set_draft(conversation, prompt_text)

    def begin_edit(self, conversation: Conversation, message: Message, prompt_text: str) -> str:
        """Start editing ``message``; returns the text to load into the prompt."""
        if self.edit is None:
            displaced = prompt_text
        else:  # switching from one edit to another keeps the original draft
            displaced = self.edit.displaced_draft
        self.edit = Edit(conversation, message, displaced)
        return message.content

    def end_edit(self) -> str:
        """Leave edit mode; returns the draft to put back in the prompt."""
        edit, self.edit = self.edit, None
        return edit.displaced_draft if edit is not None else ""

    def later_count(self) -> int:
        """How many messages come after the one being edited."""
        edit = self.edit
        if edit is None or edit.message not in edit.conversation.messages:
            return 0
        messages = edit.conversation.messages
        return len(messages) - messages.index(edit.message) - 1
