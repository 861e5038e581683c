"""Comparing models side by side: which models, and which replies form a round.

A compare sends one message to two to four models at once. Each model is named
``[profile:]model``: ``gpt-4o-mini`` uses the conversation's profile, and
``work:gpt-4o`` the profile ``work`` (its server and its key), so two providers
can be compared. A conversation that compares keeps the list in
:attr:`~llmchat_tui.models.Conversation.compare`; every message goes to all of
them until the user keeps one reply. The replies to one message are siblings in
the conversation's tree; the newest ``len(compare)`` of them are the round that
is drawn in columns.

No Textual import.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from llmchat_tui.models import Conversation, Message

MIN_MODELS = 2
MAX_MODELS = 4


class CompareError(ValueError):
    """A list of models that cannot be compared (said in words for the user)."""


@dataclass(frozen=True)
class ModelRef:
    """One model of a compare: a model name, and the profile that serves it
    (None: the conversation's own)."""

    model: str
    profile: str | None = None

    @property
    def label(self) -> str:
        return f"{self.profile}:{self.model}" if self.profile else self.model


def parse_ref(text: str, profiles: Collection[str]) -> ModelRef:
    """``work:gpt-4o`` is model ``gpt-4o`` of profile ``work`` when ``work`` is a
    known profile; otherwise the colon belongs to the model (``llama3:8b``)."""
    text = text.strip()
    head, colon, rest = text.partition(":")
    if colon and head in profiles and rest.strip():
        return ModelRef(rest.strip(), head)
    return ModelRef(text)


def parse_models(specs: str | Iterable[str], profiles: Collection[str] = ()) -> list[ModelRef]:
    """The models of ``MODEL,MODEL[,…]`` (a string) or of a list of names.

    Raises :class:`CompareError` for fewer than two, more than four, an empty
    name or the same model twice.
    """
    items = specs.split(",") if isinstance(specs, str) else list(specs)
    names = [item.strip() for item in items]
    if any(not name for name in names):
        raise CompareError("a model name is empty: write them as MODEL,MODEL[,…]")
    refs = [parse_ref(name, profiles) for name in names]
    if len(refs) < MIN_MODELS:
        raise CompareError(f"compare needs at least {MIN_MODELS} models, got {len(refs)}")
    if len(refs) > MAX_MODELS:
        raise CompareError(f"compare takes at most {MAX_MODELS} models, got {len(refs)}")
    seen: set[ModelRef] = set()
    for ref in refs:
        if ref in seen:
            raise CompareError(f"{ref.label} is named twice")
        seen.add(ref)
    return refs


def round_of(conversation: Conversation) -> list[Message]:
    """The replies drawn side by side: while the conversation compares and the
    branch on screen ends with one of the newest ``len(compare)`` replies to its
    last message, those replies, oldest first; otherwise []."""
    wanted = len(conversation.compare)
    last = conversation.current
    if wanted < MIN_MODELS or last is None or last.role != "assistant":
        return []
    replies = [m for m in conversation.siblings(last) if m.role == "assistant"][-wanted:]
    return replies if len(replies) > 1 and last in replies else []
