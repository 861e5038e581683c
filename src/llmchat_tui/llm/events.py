"""Typed events of one streamed chat completion. No Textual import."""

from __future__ import annotations

from dataclasses import dataclass, field


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
class Facts:
    """What is known about a failure, before it is put into words.

    The client and the generation gather these; :func:`llmchat_tui.llm.errors.word`
    is the one place that turns them into the sentence the user reads.

    ``received`` is the number of text deltas (answer or reasoning) that had
    arrived when a stream failed, or None when the request failed before its
    body was read. ``tokens`` is the completion tokens received, when the
    generation knows them (then sentences count tokens, not chunks).
    """

    kind: str
    base_url: str = ""
    model: str = ""
    status: int | None = None
    server_text: str = ""
    retry_after: float | None = None
    received: int | None = None
    tokens: int | None = None
    stall_timeout: float | None = None
    prompt_estimate: int | None = None
    limit: int | None = None
    key_hint: str = ""
    models: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a request failed, worded for the user.

    ``kind`` is a stable identifier (``auth``, ``rate_limit``, ``cut``, ...);
    ``message`` is one line saying what happened; ``hint`` says what to do;
    ``label`` is a few words for a status line ("rate limited").
    ``retryable`` marks transient failures that may be retried before the
    first token; ``retry_after`` is the server's ``Retry-After`` in seconds.
    ``facts`` are what the wording was made from (None for a hand-made cause).
    """

    kind: str
    message: str
    hint: str = ""
    retryable: bool = False
    retry_after: float | None = None
    status: int | None = None
    detail: str = ""
    label: str = ""
    facts: Facts | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        """Message and hint in one line."""
        return f"{self.message} — {self.hint}" if self.hint else self.message


Event = TextDelta | ReasoningDelta | UsageReported | Finished | Failed
