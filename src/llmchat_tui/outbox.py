"""Messages written while a reply streams, waiting their turn. No Textual import.

Enter while a reply is streaming does not refuse the message: it waits here, one
queue per conversation, and goes when the reply ends. Whoever ends a reply asks
:meth:`Outbox.after_reply` what to do next; the answer depends on how it ended:

- complete: send the first waiting message (the rest wait for its reply);
- stopped by the user, or failed: send nothing, and give every waiting message back
  (the screen puts the text back in the prompt, unsent and not lost).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Queued:
    """One waiting message."""

    conversation_id: str
    text: str
    number: int = field(default_factory=lambda: next(_numbers))


class Next(Enum):
    """What to do with the waiting messages once a reply has ended."""

    SEND = "send"
    GIVE_BACK = "give back"
    NOTHING = "nothing"


class Outbox:
    """The waiting messages of every conversation, oldest first."""

    def __init__(self) -> None:
        self._queues: dict[str, list[Queued]] = {}

    def add(self, conversation_id: str, text: str) -> Queued:
        """Queue ``text`` behind the conversation's running reply."""
        queued = Queued(conversation_id, text)
        self._queues.setdefault(conversation_id, []).append(queued)
        return queued

    def waiting(self, conversation_id: str) -> list[Queued]:
        """The conversation's waiting messages, oldest first."""
        return list(self._queues.get(conversation_id, ()))

    def remove(self, queued: Queued) -> bool:
        """Take one waiting message out (cancelled or taken back to edit)."""
        queue = self._queues.get(queued.conversation_id, [])
        if queued not in queue:
            return False
        queue.remove(queued)
        if not queue:
            del self._queues[queued.conversation_id]
        return True

    def take_all(self, conversation_id: str) -> list[Queued]:
        """Every waiting message of the conversation, removed from the queue."""
        return self._queues.pop(conversation_id, [])

    def after_reply(self, conversation_id: str, completed: bool) -> tuple[Next, list[Queued]]:
        """A reply of ``conversation_id`` ended: what to do, and with which messages.

        ``(SEND, [first])`` after a complete reply (the first message is removed;
        the rest keep waiting), ``(GIVE_BACK, all)`` after a stopped or failed one
        (all removed), ``(NOTHING, [])`` when nothing waits.
        """
        queue = self._queues.get(conversation_id)
        if not queue:
            return Next.NOTHING, []
        if completed:
            first = queue.pop(0)
            if not queue:
                del self._queues[conversation_id]
            return Next.SEND, [first]
        return Next.GIVE_BACK, self.take_all(conversation_id)

    def conversations(self) -> list[str]:
        """Ids of the conversations that have waiting messages."""
        return list(self._queues)


def joined(queued: list[Queued], current: str = "") -> str:
    """The texts of ``queued`` (and what is in the prompt now) as one draft."""
    parts = [q.text for q in queued]
    if current.strip():
        parts.append(current)
    return "\n\n".join(parts)
