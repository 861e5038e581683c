"""One reply, from request to end, with no UI.

A :class:`Generation` sends the request, consumes the LLM layer's events,
grows the assistant :class:`~llmchat_tui.models.Message`, keeps its stats
(time to first token, tokens per second, token counts), checkpoints it on a
timer while it streams, retries transient failures before the first token
(visibly: the state says so, with a deadline for a countdown), and ends it as
complete, cancelled or error. Per delta it only appends to a list and sets an
event; widgets and the status bar read it on their own schedule. Failures are
worded by :mod:`llmchat_tui.llm.errors`, from the facts the client and this
module gather.

No Textual import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from llmchat_tui import tokens
from llmchat_tui.llm import (
    Cause,
    ChatClient,
    Failed,
    Finished,
    ReasoningDelta,
    TextDelta,
    UsageReported,
    errors,
)
from llmchat_tui.models import Message, Status, Usage
from llmchat_tui.tee import Tee

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
        ceiling = min(self.cap, self.base * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


#: Speed is shown only when at least this many text deltas arrived ...
SPEED_MIN_DELTAS = 2
#: ... at least this many seconds apart (first to last); otherwise it is noise.
SPEED_MIN_SECONDS = 0.05
#: The most new text the running token estimate counts exactly at once (characters).
COUNT_AT_ONCE = 100_000
#: The longest the stream reader runs without letting the event loop do anything else.
READ_SLICE_S = 0.004
#: Seconds between checkpoints while text arrives: what a kill -9 can lose at most.
#: Cheap because a checkpoint only appends the new text to a journal (see
#: :meth:`llmchat_tui.store.Store.checkpoint`).
CHECKPOINT_INTERVAL_S = 0.2


class Generation:
    """One assistant reply in one conversation.

    Built whole: everything it works with comes in through the constructor.

    Args:
        message: the assistant message to grow (already in the conversation).
        client: the LLM client.
        request: the chat messages to send.
        model: the model name.
        save: awaited to checkpoint the reply (at most every
            ``checkpoint_interval`` seconds while text arrives, with the
            message's status ``streaming``; and once at the end, with its
            final status).
        prompt_estimate: tiktoken estimate of the prompt, until the server
            reports usage.
        dropped: how many of the oldest history messages were left out of
            ``request`` to fit the model's context.
        tee: a :class:`~llmchat_tui.tee.Tee` the reply is copied to as it
            streams (on the checkpoint timer), closed when the reply ends.
        on_state: called with the generation after each change of
            :attr:`state` (the one way to hear about state changes).

    How to follow it (no per-token callbacks):
        * New text: keep a cursor and call :meth:`text_since` /
          :meth:`reasoning_since`; to wait for more, ``await``
          :meth:`wait_for_news` (or the :attr:`changed` event, which is set on
          every delta, usage report and state change). :attr:`done` is set
          when the reply has ended. These are the one way to wait for text.
        * State: :attr:`state`, :attr:`cause`, :attr:`attempt`,
          :meth:`retry_in` (a countdown while :attr:`state` is RETRYING).
        * Figures: :attr:`ttft`, :meth:`tokens_per_second`,
          :meth:`completion_tokens`, :attr:`usage`, :attr:`prompt_estimate`.

    :attr:`parts`, :attr:`reasoning_parts` and :attr:`listeners` are kept for
    existing readers but are deprecated: use the cursors and ``on_state``.
    """

    def __init__(
        self,
        *,
        message: Message,
        client: ChatClient,
        request: Sequence[dict[str, Any]],
        model: str,
        save: Callable[[], Awaitable[None]],
        prompt_estimate: int | None = None,
        retry: RetryPolicy | None = None,
        options: Mapping[str, Any] | None = None,
        checkpoint_interval: float = CHECKPOINT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        dropped: int = 0,
        tee: Tee | None = None,
        on_state: Callable[[Generation], None] | None = None,
        continues: bool = False,
    ) -> None:
        self.message = message
        #: Continuing ``message`` (Ctrl+G): what it held before, which the reply extends.
        self.continues = continues
        self.prefix = message.content if continues else ""
        self.reasoning_prefix = message.reasoning if continues else ""
        earlier = message.usage if continues else None
        self._earlier_tokens = (earlier.completion_tokens or 0) if earlier else 0
        self._earlier_exact = earlier is None or earlier.source == "server"
        self._earlier_ttft = message.ttft_s if continues else None
        self.client = client
        self.request = list(request)
        self.model = model
        self._save = save
        self.prompt_estimate = prompt_estimate
        self.retry = retry or RetryPolicy()
        self.options = dict(options or {})
        self.checkpoint_interval = checkpoint_interval
        self.clock = clock
        self.dropped = dropped
        self.tee = tee
        self.on_state = on_state

        #: The reply's text deltas, in order (deprecated for readers: use :meth:`text_since`).
        self.parts: list[str] = []
        #: The reasoning deltas (deprecated for readers: use :meth:`reasoning_since`).
        self.reasoning_parts: list[str] = []
        #: Set on every delta, usage report and state change; readers may clear it.
        self.changed = asyncio.Event()
        #: Set once, when the reply has ended (after the final save).
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
        #: Deprecated: pass ``on_state`` instead. Called like it, after it.
        self.listeners: list[Callable[[Generation], None]] = []

        self._task: asyncio.Task[None] | None = None
        self._interrupted = False
        self._stop_early = False
        self._tee_cursor = 0
        self._counted = (0, 0)  # text and reasoning cursors of the token estimate
        self._counted_tokens = 0
        self._settled = False

    # -- reading -----------------------------------------------------------

    @property
    def active(self) -> bool:
        """True until the reply has ended (waiting, retrying or streaming)."""
        return self.state.active

    def text(self) -> str:
        """The reply so far (O(reply): prefer :meth:`text_since` on a timer)."""
        return "".join(self.parts)

    def reasoning(self) -> str:
        """The reasoning so far (O(reasoning))."""
        return "".join(self.reasoning_parts)

    def text_since(self, cursor: int) -> tuple[str, int]:
        """The reply text that arrived after ``cursor``, and the cursor to pass next.

        Start from 0; each reader keeps its own cursor. Costs O(new text).
        """
        return _since(self.parts, cursor)

    def reasoning_since(self, cursor: int) -> tuple[str, int]:
        """Like :meth:`text_since`, for the reasoning."""
        return _since(self.reasoning_parts, cursor)

    async def wait_for_news(
        self, cursor: int, reasoning_cursor: int | None = None, state: State | None = None
    ) -> None:
        """Wait for something new for a reader at ``cursor`` (and ``reasoning_cursor``).

        Returns at once when there is text after ``cursor``, reasoning after
        ``reasoning_cursor``, the state is not ``state`` (when given) or the
        reply has ended; else at the next delta, usage report or state
        change. Safe with several readers waiting at once.
        """
        if (
            self.done.is_set()
            or len(self.parts) > cursor
            or (reasoning_cursor is not None and len(self.reasoning_parts) > reasoning_cursor)
            or (state is not None and self.state is not state)
        ):
            return
        # Clearing here cannot lose a wake-up: nothing runs between the
        # checks above and the wait below, and a reader already waiting keeps
        # its own wake-up.
        self.changed.clear()
        await self.changed.wait()

    @property
    def ttft(self) -> float | None:
        """Seconds from sending the (last) request to the first token."""
        if self.first_token_at is None or self.started_at is None:
            return None
        return self.first_token_at - self.started_at

    def completion_tokens(self) -> TokenCount:
        """Completion tokens: the server's figure when reported, else an estimate.

        The estimate counts the answer and the reasoning (as servers do). It
        is incremental, so calling this on a timer costs O(new text); when
        the reply ends it is made once more from the whole text, so the saved
        figure does not depend on when this was called.
        """
        if self.usage is not None and self.usage.completion_tokens is not None:
            return TokenCount(self.usage.completion_tokens, exact=True)
        text_at, reasoning_at = self._counted
        text, text_at = self.text_since(text_at)
        reasoning, reasoning_at = self.reasoning_since(reasoning_at)
        if text or reasoning:
            encoding = tokens.encoding_for_model(self.model).name
            if len(text) + len(reasoning) > COUNT_AT_ONCE:
                # A huge delta: about four characters a token for now (counting it
                # would stall whoever asks, the status bar); the end counts exactly.
                self._counted_tokens += (len(text) + len(reasoning)) // 4
            elif tokens.is_loaded(encoding):
                self._counted_tokens += tokens.count_text(text, encoding)
                self._counted_tokens += tokens.count_text(reasoning, encoding)
            else:  # encodings still loading: one token per delta is close
                before = self._counted
                self._counted_tokens += text_at - before[0] + reasoning_at - before[1]
            self._counted = (text_at, reasoning_at)
        return TokenCount(self._counted_tokens, exact=False)

    def tokens_per_second(self) -> float | None:
        """Completion tokens per second, from the first token to the latest one.

        Shown only when measurable: at least ``SPEED_MIN_DELTAS`` (2) text
        deltas (answer or reasoning) that arrived at least
        ``SPEED_MIN_SECONDS`` (50 ms) apart, first to last. A reply that
        arrives in one chunk, or in a burst, has no honest speed: None.
        Time to first token is not counted, nor a stall after the last token.
        """
        first, last = self.first_token_at, self.last_token_at
        if first is None or last is None:
            return None
        if len(self.parts) + len(self.reasoning_parts) < SPEED_MIN_DELTAS:
            return None
        elapsed = last - first
        if elapsed < SPEED_MIN_SECONDS:
            return None
        return self.completion_tokens().value / elapsed

    def retry_in(self) -> float | None:
        """Seconds left before the next retry, while retrying."""
        if self.state is not State.RETRYING or self.retry_at is None:
            return None
        return max(self.retry_at - self.clock(), 0.0)

    # -- control -----------------------------------------------------------

    def cancel(self, *, interrupted: bool = False) -> bool:
        """Stop the reply now (closes the HTTP stream). True if it was running.

        ``interrupted``: the app is being stopped (a signal), not the user
        stopping the reply; the message is then saved as *interrupted*.
        """
        if not self.active:
            return False
        self._interrupted = interrupted
        if self._task is not None and not self._task.done():
            self._task.cancel()
        elif self._task is None:
            self._stop_early = True  # not started yet: it ends as soon as it starts
        return True

    def interrupt_now(self) -> None:
        """End the reply at once, without waiting for anything: the message gets every
        word that arrived and the status *interrupted* (the caller saves it). For a
        process about to end (its terminal is gone); :meth:`cancel` is the normal way."""
        if not self.active:
            return
        self._interrupted = True
        self._end(State.CANCELLED, None)
        self._sync_message()
        self.message.status = Status.INTERRUPTED
        self._copy_to_tee(last=True)
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def run(self) -> None:
        """Run the reply to its end. Never raises except ``CancelledError``."""
        self._task = asyncio.current_task()
        self.message.status = Status.STREAMING
        self.message.model = self.model
        if self._stop_early:  # stopped before it started: nothing was sent
            self._end(State.CANCELLED, None)
            if self._interrupted:
                self.message.status = Status.INTERRUPTED
            try:
                await self._final_save()
            finally:
                self.done.set()
                self.changed.set()
            return
        checkpoints = asyncio.create_task(self._checkpoint_loop())
        try:
            await self._attempts()
        except asyncio.CancelledError:
            self._end(State.CANCELLED, None)
            if self._interrupted:
                self.message.status = Status.INTERRUPTED
            await self._final_save()
            raise
        except Exception as error:
            log.exception("generation failed unexpectedly")
            self._end(State.ERROR, errors.unexpected(error))
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
            stream = self.client.stream(self.request, self.model, options=self.options)
            async with contextlib.aclosing(stream) as events:
                busy_since = time.perf_counter()
                async for event in events:
                    # One network read can hold hundreds of events that are parsed without
                    # awaiting anything: give keys and frames a turn every few ms.
                    if time.perf_counter() - busy_since > READ_SLICE_S:
                        await asyncio.sleep(0)
                        busy_since = time.perf_counter()
                    if type(event) is TextDelta:
                        self._token(self.parts, event.text)
                    elif type(event) is ReasoningDelta:
                        self._token(self.reasoning_parts, event.text)
                    elif type(event) is UsageReported:
                        self.usage = event
                        self.changed.set()
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
            await asyncio.to_thread(self._settle_estimate)
            failure = errors.reworded(
                failure,
                tokens=self.completion_tokens().value,
                prompt_estimate=self.prompt_estimate,
            )
            log.warning("reply failed: %s (%s)", failure.message, failure.detail)
            self._end(State.ERROR, failure)
            return

    def _token(self, target: list[str], text: str) -> None:
        """One delta: note the time, append, signal. Nothing more per token."""
        now = self.clock()
        if self.first_token_at is None:
            self.first_token_at = now
            self._set_state(State.STREAMING)
        self.last_token_at = now
        target.append(text)
        self.changed.set()

    def _set_state(self, state: State) -> None:
        if self.state is state:
            return
        self.state = state
        self.changed.set()
        for listener in [self.on_state, *self.listeners]:
            if listener is None:
                continue
            try:
                listener(self)
            except Exception:
                log.exception("generation state callback failed")

    def _settle_estimate(self) -> None:
        """Count the whole reply once more, so the final estimate is exact tiktoken."""
        if self._settled or (self.usage is not None and self.usage.completion_tokens is not None):
            return
        encoding = tokens.encoding_for_model(self.model).name
        if not tokens.is_loaded(encoding):
            return
        self._settled = True
        self._counted_tokens = tokens.count_text(self.text(), encoding) + tokens.count_text(
            self.reasoning(), encoding
        )
        self._counted = (len(self.parts), len(self.reasoning_parts))

    def _sync_message(self) -> None:
        """Copy the reply and its stats into the message (O(reply)).

        A continuation extends the message it continues: one text, the TTFT of
        its first part, the tokens of all parts, the speed of the latest part.
        """
        message = self.message
        message.content = self.prefix + self.text()
        message.reasoning = self.reasoning_prefix + self.reasoning()
        ttft = self._earlier_ttft if self.continues and self._earlier_ttft else self.ttft
        message.ttft_s = round(ttft, 4) if ttft is not None else None
        speed = self.tokens_per_second()
        message.tokens_per_s = round(speed, 2) if speed is not None else None
        message.finish_reason = self.finish_reason
        earlier = self._earlier_tokens
        if self.usage is not None and self.usage.completion_tokens is not None:
            source: Literal["server", "estimate"] = "server" if self._earlier_exact else "estimate"
            message.usage = Usage(
                self.usage.prompt_tokens, earlier + self.usage.completion_tokens, source
            )
        else:
            prompt = self.usage.prompt_tokens if self.usage is not None else None
            message.usage = Usage(
                prompt if prompt is not None else self.prompt_estimate,
                earlier + self.completion_tokens().value,
                "estimate",
            )

    def _end(self, state: State, cause: Cause | None) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = self.clock()
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
        """Append what arrived since the last copy to the tee (on the timer and at the end)."""
        tee = self.tee
        if tee is None:
            return
        text, self._tee_cursor = self.text_since(self._tee_cursor)
        tee.write(text)
        if last:
            tee.close(str(self.state))

    async def _final_save(self) -> None:
        # The exact count of the whole reply: O(reply), so off the event loop (a
        # 200,000-token reply stopped with Esc took seconds to count, B9).
        await asyncio.to_thread(self._settle_estimate)
        self._sync_message()
        self._copy_to_tee(last=True)
        try:
            await self._save()
        except Exception:
            log.exception("saving the reply failed")

    def _progress_mark(self) -> tuple[int, int, bool]:
        return len(self.parts), len(self.reasoning_parts), self.usage is not None

    async def _checkpoint_loop(self) -> None:
        """Save at most once per interval while text arrives (never per token)."""
        saved = self._progress_mark()
        while True:
            await asyncio.sleep(self.checkpoint_interval)
            self._copy_to_tee()
            mark = self._progress_mark()
            if mark != saved and self.ended_at is None:
                self._sync_message()
                self.message.status = Status.STREAMING
                try:
                    await self._save()
                except Exception:
                    # Told to the user by the session; tried again next interval.
                    log.exception("checkpoint failed")
                else:
                    saved = mark


def _since(parts: list[str], cursor: int) -> tuple[str, int]:
    """The parts after ``cursor`` joined, and the new cursor (O(new text))."""
    end = len(parts)
    start = min(max(cursor, 0), end)
    return ("".join(parts[start:end]) if start < end else ""), end


@dataclass(frozen=True)
class TokenCount:
    """A token count and whether it is the server's (exact) or an estimate."""

    value: int
    exact: bool
