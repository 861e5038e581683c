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
    ) -> None:
        """Follow ``generation`` (or none) for a conversation using ``model``, sent with
        ``options`` (their summary; empty when none is set)."""
        self.model = model
        self.price = price
        self.options = clean_line(options, 80)
        self.generation = generation
        self.update_running()

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
        generation = self.generation
        running = generation is not None and generation.active
        if self._timer is not None:
            if running:
                self._timer.resume()
            else:
                self._timer.pause()
        self.render_now()

    def _tick(self) -> None:
        self.render_now()
        if self.generation is None or not self.generation.active:
            self.update_running()

    def render_now(self) -> None:
        """Redraw the line now."""
        self.update(self.build())

    def _state_label(self) -> tuple[str, str]:
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
        parts += [sep, (clean_line(self.model, 40) or "no model", "bold")]
        if self.options:
            parts += [" ", (f"({self.options})", "$text-muted")]
        generation = self.generation
        if generation is not None:
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
