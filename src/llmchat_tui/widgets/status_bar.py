"""The status bar: state, notices, the next request's size, model, then live figures.

The order is by importance, because a narrow terminal cuts the line from the right:
the state and any notice (editing, queued messages, a failed save) come first, then
``next N/limit`` (what the next message would send against the context window), the
model, and last the speed figures of the reply (TTFT, tok/s, tokens, cost).

It reads a :class:`~llmchat_tui.generation.Generation` on a 10 Hz timer that runs
only while a reply is in flight (or a retry counts down); when nothing happens it
does nothing at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from llmchat_tui.budget import Price, cost, format_cost
from llmchat_tui.generation import Generation, State
from llmchat_tui.sanitize import clean_line

STATE_STYLES = {
    "idle": "$text-muted",
    "waiting": "$warning",
    "retrying": "$warning",
    "streaming": "$success",
    "complete": "$text-muted",
    "cancelled": "$warning",
    "error": "$error",
}

NOTE_STYLES = {"info": "$text-muted", "warning": "$warning", "error": "$error", "edit": "$accent"}


def _fmt_count(value: int | None, exact: bool) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if exact else f"≈{value:,}"


class StatusBar(Static):
    """One line about the open conversation: state first, figures last."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    REFRESH_HZ = 10

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.model = ""
        self.generation: Generation | None = None
        #: The replies of a compare round with their prices (empty otherwise).
        self.together: list[tuple[Generation, Price | None]] = []
        self.prompt_tokens: int | None = None
        self.prompt_exact = True
        self.limit: int | None = None
        self.dropped = 0
        self.price: Price | None = None
        self.options = ""
        self.note = ""
        self.note_kind = "info"
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        self._timer = self.set_interval(1 / self.REFRESH_HZ, self._tick, pause=True)
        self.render_now()

    def show(
        self,
        *,
        model: str,
        generation: Generation | None,
        price: Price | None = None,
        options: str = "",
        together: Sequence[tuple[Generation, Price | None]] = (),
    ) -> None:
        """Follow ``generation`` (or none) for a conversation using ``model``, sent with
        ``options`` (their summary; empty when none is set). ``together``: every
        reply of a compare round with its price; the line then sums them."""
        self.model = model
        self.price = price
        self.options = clean_line(options, 80)
        self.generation = generation
        self.together = list(together)
        self.update_running()

    def _replies_running(self) -> bool:
        if self.together:
            return any(g.active for g, _ in self.together)
        return self.generation is not None and self.generation.active

    def set_prompt_estimate(
        self, tokens: int | None, exact: bool, limit: int | None = None, dropped: int = 0
    ) -> None:
        """The estimate of the next request's prompt tokens, against the context limit."""
        new = (tokens, exact, limit, dropped)
        if new == (self.prompt_tokens, self.prompt_exact, self.limit, self.dropped):
            return
        self.prompt_tokens, self.prompt_exact, self.limit, self.dropped = new
        self.render_now()

    def set_note(self, note: str, kind: str = "info") -> None:
        """A notice shown right after the state (``kind``: info, warning, error, edit)."""
        self.note = clean_line(note, 120)
        self.note_kind = kind
        self.render_now()

    def update_running(self) -> None:
        """Start or stop the timer to match the generation's state."""
        running = self._replies_running()
        if self._timer is not None:
            if running:
                self._timer.resume()
            else:
                self._timer.pause()
        self.render_now()

    def _tick(self) -> None:
        self.render_now()
        if not self._replies_running():
            self.update_running()

    def render_now(self) -> None:
        """Redraw the line now."""
        self.update(self.build())

    def _state_label(self) -> tuple[str, str]:
        if self.together:
            replies = [g for g, _ in self.together]
            running = sum(1 for g in replies if g.active)
            if running:
                return f"streaming {running}/{len(replies)}", STATE_STYLES["streaming"]
            states = {g.state for g in replies}
            ended = next(
                (s for s in (State.COMPLETE, State.CANCELLED, State.ERROR) if s in states),
                State.COMPLETE,
            )
            done = sum(1 for g in replies if g.state is State.COMPLETE)
            return f"{ended} {done}/{len(replies)}", STATE_STYLES.get(str(ended), "")
        generation = self.generation
        state = "idle" if generation is None else str(generation.state)
        label = state
        if generation is not None and generation.state is State.RETRYING:
            cause = generation.cause
            reason = cause.label if cause is not None and cause.label else "retrying"
            left = generation.retry_in() or 0
            label = (
                f"{reason} · retry {generation.attempt}/{generation.retry.attempts} in {left:.0f} s"
            )
        return label, STATE_STYLES.get(state, "")

    def build(self) -> Content:
        """The status line as a Content (plain text parts, never markup)."""
        parts: list[tuple[str, str] | str] = []
        sep = (" · ", "$text-muted")
        parts.append(self._state_label())
        if self.note:
            parts += [sep, (self.note, NOTE_STYLES.get(self.note_kind, ""))]
        next_text = f"next {_fmt_count(self.prompt_tokens, self.prompt_exact)}"
        if self.limit:
            next_text += f"/{self.limit:,}"
        parts += [sep, next_text]
        if self.dropped:
            parts += [" ", (f"({self.dropped} oldest left out)", "$warning")]
        if self.together:
            parts += [sep, (f"{len(self.together)} models", "bold")]
        else:
            parts += [sep, (clean_line(self.model, 40) or "no model", "bold")]
        if self.options:
            parts += [" ", (f"({self.options})", "$text-muted")]
        generation = self.generation
        if self.together:
            parts += self._sums(sep)
        elif generation is not None:
            ttft = generation.ttft
            count = generation.completion_tokens()
            if ttft is not None:  # nothing to say about speed before the first token
                parts += [sep, f"TTFT {ttft:.2f}s"]
                speed = generation.tokens_per_second()
                parts += [sep, f"{speed:,.1f} tok/s" if speed is not None else "– tok/s"]
                parts += [sep, f"out {_fmt_count(count.value, count.exact)}"]
            usage = generation.usage
            if usage is not None and usage.prompt_tokens is not None:
                parts += [sep, f"in {usage.prompt_tokens:,}"]
            elif generation.prompt_estimate is not None:
                parts += [sep, f"in ≈{generation.prompt_estimate:,}"]
            if self.price is not None:
                prompt = usage.prompt_tokens if usage is not None else generation.prompt_estimate
                spent = cost(prompt, count.value, self.price)
                if spent is not None:
                    parts += [sep, ("" if usage is not None else "≈") + format_cost(spent)]
        return Content.assemble(*parts)

    def _sums(self, sep: tuple[str, str]) -> list[tuple[str, str] | str]:
        """Tokens and cost of a compare round, summed over its replies (each
        reply's speed is in its own column)."""
        out_total = in_total = 0
        out_exact = in_exact = True
        spent_total: float | None = None
        for generation, price in self.together:
            count = generation.completion_tokens()
            out_total += count.value or 0
            out_exact = out_exact and count.exact
            usage = generation.usage
            prompt: int | None
            if usage is not None and usage.prompt_tokens is not None:
                prompt = usage.prompt_tokens
            else:
                prompt, in_exact = generation.prompt_estimate, False
            in_total += prompt or 0
            spent = cost(prompt, count.value, price) if price is not None else None
            if spent is not None:
                spent_total = (spent_total or 0.0) + spent
        parts: list[tuple[str, str] | str] = []
        if out_total:
            parts += [sep, f"out {_fmt_count(out_total, out_exact)} (sum)"]
        if in_total:
            parts += [sep, f"in {_fmt_count(in_total, in_exact)} (sum)"]
        if spent_total is not None:
            parts += [sep, ("" if out_exact and in_exact else "≈") + format_cost(spent_total)]
        return parts
