"""One reply, from request to end, with no UI.

A :class:`Generation` sends the request, consumes the LLM layer's events,
grows the assistant :class:`~llmchat_tui.models.Message`, keeps its stats
(time to first token, tokens per second, token counts), checkpoints it on a
timer while it streams, retries transient failures before the first token
(visibly: the state says so, with a deadline for a countdown), and ends it as
complete, cancelled or error. Per delta it only appends to a list and sets an
event; widgets and the status bar read it on their own schedule.

No Textual import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from llmchat_tui import tokens
from llmchat_tui.llm import (
    Cause,
    ChatClient,
    Failed,
    Finished,
    ReasoningDelta,
    TextDelta,
    UsageReported,
)
from llmchat_tui.models import Message, Status, Usage

log = logging.getLogger(__name__)


class State(StrEnum):
    """Where a generation is."""

    WAITING = "waiting"
    RETRYING = "retrying"
    STREAMING = "streaming"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def active(self) -> bool:
        return self in (State.WAITING, State.RETRYING, State.STREAMING)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for failures before the first token."""

    attempts: int = 4
    base: float = 1.0
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), max(self.cap, 0.0) * 4)
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class Generation:
    """One assistant reply in one conversation.

    Args:
        message: the assistant message to grow (already in the conversation).
        client: the LLM client.
        request: the chat messages to send.
        model: the model name.
        save: awaited to checkpoint the conversation (at most every
            ``checkpoint_interval`` seconds while text arrives, and at the end).
        prompt_estimate: tiktoken estimate of the prompt, until the server
            reports usage.
    """

    def __init__(
        self,
        *,
        message: Message,
        client: ChatClient,
        request: Sequence[dict[str, str]],
        model: str,
        save: Callable[[], Awaitable[None]],
        prompt_estimate: int | None = None,
        retry: RetryPolicy | None = None,
        temperature: float | None = None,
        checkpoint_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.message = message
        self.client = client
        self.request = list(request)
        self.model = model
        self._save = save
        self.prompt_estimate = prompt_estimate
        self.retry = retry or RetryPolicy()
        self.temperature = temperature
        self.checkpoint_interval = checkpoint_interval
        self.clock = clock

        self.parts: list[str] = []
        self.reasoning_parts: list[str] = []
        self.changed = asyncio.Event()
        self.done = asyncio.Event()
        self.state = State.WAITING
        self.cause: Cause | None = None
        self.finish_reason: str | None = None
        self.usage: UsageReported | None = None
        self.attempt = 0
        self.retry_at: float | None = None
        self.started_at: float | None = None
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None
        self.ended_at: float | None = None
        self.listeners: list[Callable[[Generation], None]] = []
        self.dropped = 0  # oldest history messages left out to fit the context
        self.tee: TextIO | None = None  # a file the reply is copied to as it streams
        self._teed = 0

        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        self._counted_parts = 0
        self._counted_tokens = 0
        self._cancel_requested = False

    # -- reading -----------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.state.active

    def text(self) -> str:
        """The reply so far."""
        return "".join(self.parts)

    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)

    @property
    def ttft(self) -> float | None:
        """Seconds from sending the (last) request to the first token."""
        if self.first_token_at is None or self.started_at is None:
            return None
        return self.first_token_at - self.started_at

    def completion_tokens(self) -> TokenCount:
        """Completion tokens: the server's figure when reported, else an estimate.

        The estimate is incremental: only text that arrived since the last
        call is encoded, so calling this on a timer costs O(new text).
        """
        if self.usage is not None and self.usage.completion_tokens is not None:
            return TokenCount(self.usage.completion_tokens, exact=True)
        encoding = tokens.encoding_for_model(self.model)
        parts = self.parts
        new_end = len(parts)
        if new_end > self._counted_parts:
            if tokens.is_loaded(encoding.name):
                fresh = "".join(parts[self._counted_parts : new_end])
                self._counted_tokens += tokens.count_text(fresh, encoding.name)
            else:  # encodings still loading: one token per chunk is close
                self._counted_tokens += new_end - self._counted_parts
            self._counted_parts = new_end
        return TokenCount(self._counted_tokens, exact=False)

    def tokens_per_second(self) -> float | None:
        """Completion speed from the first token on (TTFT excluded)."""
        if self.first_token_at is None:
            return None
        end = self.clock() if self.active else (self.last_token_at or self.first_token_at)
        elapsed = end - self.first_token_at
        count = self.completion_tokens().value
        if elapsed <= 0 or count <= 1:
            return None
        return count / elapsed

    def retry_in(self) -> float | None:
        """Seconds left before the next retry, while retrying."""
        if self.state is not State.RETRYING or self.retry_at is None:
            return None
        return max(self.retry_at - self.clock(), 0.0)

    # -- control -----------------------------------------------------------

    def cancel(self) -> bool:
        """Stop the reply now (closes the HTTP stream). True if it was running."""
        if not self.active:
            return False
        self._cancel_requested = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        return True

    async def run(self) -> None:
        """Run the reply to its end. Never raises except ``CancelledError``."""
        self._task = asyncio.current_task()
        self.message.status = Status.STREAMING
        self.message.model = self.model
        checkpoints = asyncio.create_task(self._checkpoint_loop())
        try:
            await self._attempts()
        except asyncio.CancelledError:
            self._end(State.CANCELLED, None)
            await self._final_save()
            raise
        except Exception as error:
            log.exception("generation failed unexpectedly")
            self._end(
                State.ERROR,
                Cause(
                    "unexpected",
                    f"Unexpected error: {type(error).__name__}",
                    "details are in the log file",
                ),
            )
            await self._final_save()
        else:
            await self._final_save()
        finally:
            checkpoints.cancel()
            self.done.set()
            self.changed.set()

    async def _attempts(self) -> None:
        while True:
            self._set_state(State.WAITING)
            self.started_at = self.clock()
            failure: Cause | None = None
            stream = self.client.stream(self.request, self.model, temperature=self.temperature)
            async with contextlib.aclosing(stream) as events:
                async for event in events:
                    if type(event) is TextDelta:
                        self._token(self.parts, event.text)
                    elif type(event) is ReasoningDelta:
                        self._token(self.reasoning_parts, event.text)
                    elif type(event) is UsageReported:
                        self.usage = event
                        self._mark_changed()
                    elif type(event) is Finished:
                        self.finish_reason = event.reason
                    elif type(event) is Failed:
                        failure = event.cause
            if failure is None:
                self._end(State.COMPLETE, None)
                return
            received_nothing = not self.parts and not self.reasoning_parts
            if failure.retryable and received_nothing and self.attempt < self.retry.attempts:
                self.attempt += 1
                delay = self.retry.delay(self.attempt, failure.retry_after)
                self.cause = failure
                self.retry_at = self.clock() + delay
                self._set_state(State.RETRYING)
                log.info(
                    "retry %d/%d in %.1fs: %s",
                    self.attempt,
                    self.retry.attempts,
                    delay,
                    failure.detail or failure.message,
                )
                await asyncio.sleep(delay)
                self.retry_at = None
                continue
            if failure.kind == "context_length":
                failure = self._with_sizes(failure)
            if (
                failure.kind in ("cut", "connection_lost", "stalled", "malformed", "stream_error")
                or not received_nothing
            ):
                failure = self._with_progress(failure)
            log.warning("reply failed: %s (%s)", failure.message, failure.detail)
            self._end(State.ERROR, failure)
            return

    def _with_sizes(self, cause: Cause) -> Cause:
        """Add the tokens sent and the model's limit to a context-length error."""
        limit = re.search(
            r"(?:maximum context length|context window|context length|context size)"
            r"\D{0,20}?(\d[\d,]*)",
            cause.message,
            re.I,
        )
        sizes = []
        if self.prompt_estimate is not None:
            sizes.append(f"≈{self.prompt_estimate:,} tokens sent")
        if limit:
            sizes.append(f"limit {int(limit.group(1).replace(',', '')):,}")
        if not sizes:
            return cause
        return Cause(
            cause.kind,
            f"The conversation is too long for {self.model} ({', '.join(sizes)})",
            cause.hint,
            status=cause.status,
            detail=cause.message + " | " + cause.detail,
        )

    def _with_progress(self, cause: Cause) -> Cause:
        count = self.completion_tokens().value
        reasons = {
            "cut": "stream cut without a finish reason",
            "connection_lost": "connection lost",
            "stalled": f"stalled: no data for {self.client.stall_timeout:g} s",
            "malformed": "malformed data from the server",
        }
        head = reasons.get(cause.kind)
        if head is None:
            return cause
        return Cause(
            cause.kind,
            f"{head} after {count} tokens",
            cause.hint or "regenerate or continue",
            detail=cause.detail,
        )

    def _token(self, target: list[str], text: str) -> None:
        now = self.clock()
        if self.first_token_at is None:
            self.first_token_at = now
            self._set_state(State.STREAMING)
        self.last_token_at = now
        target.append(text)
        self._mark_changed()

    def _mark_changed(self) -> None:
        self._dirty = True
        self.changed.set()

    def _set_state(self, state: State) -> None:
        if self.state is state:
            return
        self.state = state
        self.changed.set()
        for listener in list(self.listeners):
            try:
                listener(self)
            except Exception:
                log.exception("generation listener failed")

    def _sync_message(self) -> None:
        """Copy the reply and its stats into the message (O(reply))."""
        message = self.message
        message.content = "".join(self.parts)
        message.reasoning = "".join(self.reasoning_parts)
        message.ttft_s = round(self.ttft, 4) if self.ttft is not None else None
        speed = self.tokens_per_second()
        message.tokens_per_s = round(speed, 2) if speed is not None else None
        message.finish_reason = self.finish_reason
        if self.usage is not None:
            message.usage = Usage(self.usage.prompt_tokens, self.usage.completion_tokens, "server")
        else:
            message.usage = Usage(self.prompt_estimate, self.completion_tokens().value, "estimate")

    def _end(self, state: State, cause: Cause | None) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = self.clock()
        if self.last_token_at is None:
            self.last_token_at = self.ended_at
        self.cause = cause
        if state is State.COMPLETE:
            self.message.status = Status.COMPLETE
            self.message.error = None
        elif state is State.CANCELLED:
            self.message.status = Status.CANCELLED
            self.message.error = None
        else:
            self.message.status = Status.ERROR
            self.message.error = cause.text if cause else "error"
        self._set_state(state)
        self._sync_message()

    def _copy_to_tee(self, *, last: bool = False) -> None:
        """Append what arrived since the last copy to the tee file (on the timer)."""
        tee = self.tee
        if tee is None:
            return
        try:
            end = len(self.parts)
            if end > self._teed:
                tee.write("".join(self.parts[self._teed : end]))
                self._teed = end
            if last:
                note = "" if self.state is State.COMPLETE else f"\n\n*(reply {self.state})*"
                tee.write(note + "\n")
                tee.close()
                self.tee = None
            else:
                tee.flush()
        except (OSError, ValueError):
            log.exception("writing the reply to the tee file failed")
            self.tee = None

    async def _final_save(self) -> None:
        self._copy_to_tee(last=True)
        self._dirty = False
        try:
            await self._save()
        except Exception:
            log.exception("saving the reply failed")

    async def _checkpoint_loop(self) -> None:
        """Save at most once per interval while text arrives (never per token)."""
        while True:
            await asyncio.sleep(self.checkpoint_interval)
            self._copy_to_tee()
            if self._dirty and self.ended_at is None:
                self._dirty = False
                self._sync_message()
                self.message.status = Status.STREAMING
                try:
                    await self._save()
                except Exception:
                    log.exception("checkpoint failed")


@dataclass(frozen=True)
class TokenCount:
    """A token count and whether it is the server's (exact) or an estimate."""

    value: int
    exact: bool
