"""Shared plumbing of the benchmarks: environment, server process, app, probes, stats.

Import :func:`setup_env` and call it *before* importing anything of ``llmchat_tui``
(every benchmark child process does this first).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
#: Persistent across runs: the verified tiktoken files are seeded once.
CACHE_HOME = Path(tempfile.gettempdir()) / "llmchat-tui-bench-cache"

SIZE = (120, 40)


# --------------------------------------------------------------------------- environment


def setup_env(tmp: Path, *, ansi: bool = True) -> None:
    """Point every user folder at ``tmp`` (cache: a persistent folder); no real config.

    With ``ansi`` every frame is also encoded to terminal escape sequences (see
    :func:`install_display_hook`).
    """
    global ANSI
    ANSI = ansi
    # Frames are encoded for a truecolor terminal (a typical modern one).
    os.environ["TEXTUAL_COLOR_SYSTEM"] = "truecolor"
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")
    os.environ["XDG_DATA_HOME"] = str(tmp / "data")
    os.environ["XDG_STATE_HOME"] = str(tmp / "state")
    os.environ["XDG_CACHE_HOME"] = str(CACHE_HOME)
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "LLMCHAT_MODEL",
        "LLMCHAT_DATA_DIR",
        "TIKTOKEN_CACHE_DIR",
    ):
        os.environ.pop(name, None)
    for path in (str(HERE), str(ROOT / "src")):
        if path not in sys.path:
            sys.path.insert(0, path)


def warm_encodings() -> None:
    """Load both tiktoken encodings now (the app would load them in a thread at start)."""
    from llmchat_tui import tokens

    tokens.get_encoding("o200k_base")
    tokens.get_encoding("cl100k_base")


# --------------------------------------------------------------------------- frames

#: Encode each frame to escape sequences as a real terminal driver would.
ANSI = True
#: Seconds spent encoding frames (all apps of this process so far).
ANSI_SECONDS = 0.0
#: Frames the apps of this process would have written to a terminal.
FRAMES_WRITTEN = 0
#: Callables ``(update)`` called with every frame the app would write.
DISPLAY_LISTENERS: list[Callable[[Any], None]] = []
_display_hooked = False


def install_display_hook() -> None:
    """Wrap ``App._display``, where Textual writes a frame to the terminal.

    Headless, Textual composes every frame (layout, compositor) but skips the last
    step, encoding the update to escape sequences and writing it. With :data:`ANSI`
    the hook does that encoding (``update.render_segments(console)``) and throws the
    text away, so the CPU figures include what a real terminal session costs.
    Listeners (the B2 screen probe) see every update.
    """
    global _display_hooked
    if _display_hooked:
        return
    from textual.app import App

    original = App._display

    def _display(app: Any, screen: Any, renderable: Any) -> None:
        global ANSI_SECONDS, FRAMES_WRITTEN
        if renderable is not None and not app._batch_count and app.is_headless:
            FRAMES_WRITTEN += 1
            if ANSI and hasattr(renderable, "render_segments"):
                start = time.perf_counter()
                renderable.render_segments(app.console)
                ANSI_SECONDS += time.perf_counter() - start
            for listener in DISPLAY_LISTENERS:
                listener(renderable)
        original(app, screen, renderable)

    App._display = _display  # type: ignore[method-assign]
    _display_hooked = True


def update_text(update: Any) -> list[str]:
    """The text of the screen lines in a compositor update (LayoutUpdate/ChopsUpdate)."""
    lines: list[str] = []
    strips = getattr(update, "strips", None)
    if strips is not None:
        for line in strips:
            if hasattr(line, "text"):
                lines.append(line.text)
            else:
                lines.append("".join(strip.text for strip in line))
        return lines
    for chop in getattr(update, "chops", None) or ():
        lines.append("".join(strip.text for strip in chop.values() if strip is not None))
    return lines


# --------------------------------------------------------------------------- server


class ServerProcess:
    """``benchmarks/serve.py`` in a child process (see its docstring for the replies)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "serve.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def cpu_seconds(self) -> float | None:
        """User+system CPU the server process used so far (Linux /proc)."""
        if self.proc is None:
            return None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def spec(n: int, *, rate: float = 0, burst: int = 1, seed: int = 0, mark: bool = False) -> str:
    """The user message asking the benchmark server for a reply of ``n`` deltas."""
    text = f"bench n={n} seed={seed}"
    if rate:
        text += f" rate={rate:g} burst={burst}"
    if mark:
        text += " mark=1"
    return text


# --------------------------------------------------------------------------- the app


def build_app(base_url: str, data_dir: Path, **overrides: Any) -> Any:
    """The real app against ``base_url``, through the production factory."""
    from llmchat_tui.config import Settings
    from llmchat_tui.factory import build_app as build
    from llmchat_tui.store import Store

    settings = Settings(base_url=base_url, model="gpt-4o-mini", api_key="x")
    for key, value in overrides.items():
        setattr(settings, key, value)
    store = Store(data_dir)
    skipped = store.open()
    return build(settings, store, skipped=skipped, first_run=False)


def press_nowait(app: Any, key: str) -> None:
    """Send one key event the way ``Pilot.press`` does, without its idle waits.

    ``Pilot.press`` then waits for the process to be idle (up to 1 s), which never
    happens while a reply streams at full speed; we must not block on that.
    """
    from textual import events

    char = {"enter": "\r", "space": " "}.get(key, key if len(key) == 1 else None)
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 120.0, interval: float = 0.002
) -> Any:
    """Poll ``predicate`` every ``interval`` s until it is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {predicate}")
        await asyncio.sleep(interval)


def follower_workers(app: Any, view: Any) -> list[Any]:
    """The workers a reply view runs (its follower), whatever their group."""
    return [w for w in app.workers if w.node is view]


async def wait_reply_on_screen(app: Any, pilot: Any, generation: Any) -> None:
    """Wait until the whole reply is on screen.

    1. the generation is done (the stream ended and was saved);
    2. the live view's follower has written every part to the ``MarkdownStream``
       (``view.shown_parts == len(generation.parts)``);
    3. the follower worker has finished: it calls ``MarkdownStream.stop()``, which
       returns once every pending fragment went through ``Markdown.append``;
    4. one ``pilot.pause(0)``: the pending messages of the screen are processed and
       a frame is composed (``Screen._on_timer_update``).
    """
    await generation.done.wait()
    view = app.chat.pane.view_of(generation.message)
    if view is not None:
        if hasattr(view, "shown_parts"):
            await wait_until(lambda: view.shown_parts >= len(generation.parts), interval=0.001)
        for worker in follower_workers(app, view):
            with contextlib.suppress(Exception):
                await worker.wait()
    await pilot.pause(0)


async def send_prompt(app: Any, pilot: Any, text: str) -> Any:
    """Put ``text`` in the prompt (not timed) and return ``None``; call press_nowait next."""
    app.chat.prompt.focus()
    app.chat.prompt.load(text)
    await pilot.pause(0)


async def new_generation(app: Any, conversation_id: str, previous: Any = None) -> Any:
    return await wait_until(
        lambda: (
            (g := app.session.generation(conversation_id)) is not None and g is not previous and g
        ),
        interval=0.001,
    )


# --------------------------------------------------------------------------- probes


@dataclass
class Probe:
    """Timestamps (``time.perf_counter``) of a reply's way to the screen.

    * ``arrivals[i]``: part ``i`` appended to ``generation.parts`` (``Generation._token``);
    * ``appends``: ``(characters appended so far, time)`` each time a
      ``Markdown.append`` of a watched (live) widget *completed*;
    * ``frames``: each time the current screen composed an update
      (``Screen._compositor_refresh``; a real terminal would be written then);
    * ``updates``: start and duration of each screen update (layout + frame).
    """

    arrivals: list[float] = field(default_factory=list)
    appends: list[tuple[int, float]] = field(default_factory=list)
    frames: list[float] = field(default_factory=list)
    #: (start, seconds) of each screen update (``Screen._on_timer_update``: layout
    #: when needed, then the frame).
    updates: list[tuple[float, float]] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    max_marker: int = -1
    marker_frames: list[tuple[float, int]] = field(default_factory=list)
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def watch_screen(self) -> Probe:
        """Record, per frame, the highest ``x<index>`` marker written to the screen.

        ``marker_frames``: (time, highest marker seen so far) each time it grows.
        """
        import re

        marker = re.compile(r"\bx(\d+)\b")
        probe = self

        def listener(update: Any) -> None:
            best = probe.max_marker
            for line in update_text(update):
                for found in marker.findall(line):
                    value = int(found)
                    if value > best:
                        best = value
            if best > probe.max_marker:
                probe.max_marker = best
                probe.marker_frames.append((time.perf_counter(), best))

        install_display_hook()
        DISPLAY_LISTENERS.append(listener)
        self._undo.append(lambda: DISPLAY_LISTENERS.remove(listener))
        return self

    def screen_lags(self, markers: list[int | None]) -> list[float]:
        """Per marked part: seconds from its arrival to the first frame showing it
        (or any later marker: text only grows, earlier words may be scrolled away)."""
        import bisect

        seen = [m for _, m in self.marker_frames]
        times = [t for t, _ in self.marker_frames]
        lags = []
        for index, arrived in enumerate(self.arrivals):
            if index >= len(markers) or markers[index] is None:
                continue
            j = bisect.bisect_left(seen, markers[index])
            if j < len(times):
                lags.append(times[j] - arrived)
        return lags

    def screen_time(self, marker: int) -> float | None:
        """When a frame first showed ``marker`` (or a later one)."""
        import bisect

        j = bisect.bisect_left([m for _, m in self.marker_frames], marker)
        return self.marker_frames[j][0] if j < len(self.marker_frames) else None

    def install(self, *, generation: bool = True, stream: bool = True) -> Probe:
        from textual.screen import Screen
        from textual.widgets import Markdown

        from llmchat_tui.generation import Generation

        probe = self
        clock = time.perf_counter

        if generation:
            original_token = Generation._token

            def _token(gen: Any, target: list[str], text: str) -> None:
                original_token(gen, target, text)
                if target is gen.parts:
                    probe.arrivals.append(clock())
                    probe.parts.append(text)

            Generation._token = _token  # type: ignore[method-assign]
            self._undo.append(lambda: setattr(Generation, "_token", original_token))

        if stream:
            original_get_stream = Markdown.__dict__["get_stream"]

            def get_stream(cls: Any, markdown: Any) -> Any:
                probe.watch(markdown)
                return original_get_stream.__func__(cls, markdown)

            Markdown.get_stream = classmethod(get_stream)  # type: ignore[method-assign]
            self._undo.append(lambda: setattr(Markdown, "get_stream", original_get_stream))

        original_refresh = Screen._compositor_refresh

        def _compositor_refresh(screen: Any) -> None:
            original_refresh(screen)
            probe.frames.append(clock())

        Screen._compositor_refresh = _compositor_refresh  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(Screen, "_compositor_refresh", original_refresh))

        original_update = Screen._on_timer_update

        def _on_timer_update(screen: Any) -> None:
            start = clock()
            original_update(screen)
            probe.updates.append((start, clock() - start))

        Screen._on_timer_update = _on_timer_update  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(Screen, "_on_timer_update", original_update))
        return self

    def watch(self, markdown: Any) -> None:
        """Record the completion of every ``append`` of this Markdown widget."""
        original = markdown.append
        probe = self
        total = 0

        async def append(fragment: str) -> None:
            nonlocal total
            await original(fragment)
            total += len(fragment)
            probe.appends.append((total, time.perf_counter()))

        markdown.append = append

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def shown(self) -> list[tuple[float | None, float | None]]:
        """Per part: when the append holding it completed, and the first frame after."""
        import bisect

        append_chars = [c for c, _ in self.appends]
        append_times = [t for _, t in self.appends]
        frames = sorted(self.frames)
        out: list[tuple[float | None, float | None]] = []
        end = 0
        for part in self.parts:
            end += len(part)
            i = bisect.bisect_left(append_chars, end)
            if i >= len(append_times):
                out.append((None, None))  # never appended (should not happen)
                continue
            done = append_times[i]
            j = bisect.bisect_left(frames, done)
            out.append((done, frames[j] if j < len(frames) else None))
        return out

    def lags(self) -> tuple[list[float], list[float]]:
        """Per part: seconds from arrival to append done, and to the next frame after it."""
        to_append: list[float] = []
        to_frame: list[float] = []
        for (done, frame), arrived in zip(self.shown(), self.arrivals, strict=True):
            if done is not None:
                to_append.append(done - arrived)
            if frame is not None:
                to_frame.append(frame - arrived)
        return to_append, to_frame

    def schedule_lags(self, rate: float, burst: int) -> list[float]:
        """Per part: seconds from when a server keeping its pace would have sent it
        (first arrival + its burst's offset) to the first frame showing it."""
        if not self.arrivals:
            return []
        start = self.arrivals[0]
        return [
            frame - (start + (i // burst) * burst / rate)
            for i, (_, frame) in enumerate(self.shown())
            if frame is not None
        ]


# --------------------------------------------------------------------------- measuring


@dataclass
class Meter:
    """Wall time, process CPU time and cyclic-GC pauses of a block.

    ``with Meter() as m: ...``; ``m.gc`` is the time spent in the garbage collector
    (``gc.callbacks``), ``m.collections`` how many collections ran (gen 0, 1, 2).
    """

    wall: float = 0.0
    cpu: float = 0.0
    gc: float = 0.0
    collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    gc_by_generation: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    def _gc_callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            spent = time.perf_counter() - self._gc_started
            generation = info.get("generation", 0)
            self.gc += spent
            self.collections[generation] += 1
            self.gc_by_generation[generation] += spent
            self._gc_started = None

    def __enter__(self) -> Meter:
        import gc

        self._gc_started: float | None = None
        gc.callbacks.append(self._gc_callback)
        self._w = time.perf_counter()
        self._c = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        import gc

        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._gc_callback)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: list[float], q: float) -> float:
    """The ``q`` percentile (0-100), linear interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------- profiling

_profiler: Any = None
_profiler_kind = ""


def enable_profiling(kind: str = "sampler") -> None:
    """Make :func:`profiled` blocks record the main thread (see profiling.py)."""
    global _profiler, _profiler_kind
    _profiler_kind = kind
    if kind == "pyinstrument":
        from pyinstrument import Profiler

        _profiler = Profiler(interval=0.001, async_mode="disabled")
    else:
        from profiling import Sampler

        _profiler = Sampler()


_profiling_now = False


def profile_start() -> None:
    global _profiling_now
    if _profiler is not None and not _profiling_now:
        _profiler.start()
        _profiling_now = True


def profile_stop() -> None:
    """Stop recording (if recording); safe to call twice."""
    global _profiling_now
    if _profiler is not None and _profiling_now:
        _profiler.stop()
        _profiling_now = False


@contextlib.contextmanager
def profiled() -> Iterator[None]:
    """Profile this block when profiling is enabled (blocks accumulate); else nothing."""
    profile_start()
    try:
        yield
    finally:
        profile_stop()


def profile_stacks() -> list[tuple[list[str], float]] | None:
    """The recorded stacks (outermost frame first) with their seconds, or None."""
    if _profiler is None:
        return None
    if _profiler_kind == "pyinstrument":
        from profiling import pyinstrument_stacks

        session = _profiler.last_session
        return None if session is None else pyinstrument_stacks(session)
    return _profiler.stacks()


def pyinstrument_session() -> Any:
    return _profiler.last_session if _profiler_kind == "pyinstrument" else None
