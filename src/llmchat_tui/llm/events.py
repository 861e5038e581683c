"""Typed events of one streamed chat completion. No Textual import."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply's content (already sanitized)."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning (``reasoning_content`` or ``reasoning``)."""

    text: str


@dataclass(frozen=True, slots=True)
class UsageReported:
    """Token usage as the server reported it."""

    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True, slots=True)
class Finished:
    """The stream ended properly; ``reason`` is the server's finish reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    """The request or the stream failed; ``cause`` says why and what to do."""

    cause: Cause


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a request failed, worded for the user.

    ``kind`` is a stable identifier (``auth``, ``rate_limit``, ``cut``, ...);
    ``message`` is one line saying what happened; ``hint`` says what to do.
    ``retryable`` marks transient failures that may be retried before the
    first token; ``retry_after`` is the server's ``Retry-After`` in seconds.
    """

    kind: str
    message: str
    hint: str = ""
    retryable: bool = False
    retry_after: float | None = None
    status: int | None = None
    detail: str = ""

    @property
    def text(self) -> str:
        """Message and hint in one line."""
        return f"{self.message} — {self.hint}" if self.hint else self.message


Event = TextDelta | ReasoningDelta | UsageReported | Finished | Failed
