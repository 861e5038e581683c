"""The heavy-use benchmarks of issue #13: B8 (several streams at once), B10 (a long
session), B12 (huge content) and B1t (the 6,000-token reply in a real terminal).

Same rules as suites.py: each ``bN(cfg)`` runs in its own child process and returns
result rows, each with a baseline measured in the same run. See README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import (
    RESULTS,
    SIZE,
    Meter,
    ServerProcess,
    build_app,
    median,
    new_generation,
    percentile,
    press_nowait,
    profiled,
    send_prompt,
    spec,
    wait_reply_on_screen,
    wait_until,
    warm_encodings,
)
from suites import Config, StallMeter, app_reply, open_via_sidebar, row, sdk_read


def rss_mb() -> float:
    """The process's resident memory now (not the peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def key_echo(app: Any, char: str) -> float:
    """Send one printable key to the prompt; seconds until the first frame written to
    the terminal once the prompt holds it (the key is on screen).

    Unlike B9's ``_key_echo`` (which polls the text, then waits for the *next* frame),
    the frame is caught as it is written: when the app is otherwise idle the frame that
    drew the key may already be out by the time a poll sees the text, and the next one
    can be hundreds of milliseconds away (the estimate timer, the cursor blink).
    """
    import common

    prompt = app.chat.prompt
    before = prompt.text
    shown: list[float] = []

    def listener(update: Any) -> None:
        if not shown and prompt.text != before:
            shown.append(time.perf_counter())

    common.install_display_hook()
    common.DISPLAY_LISTENERS.append(listener)
    try:
        start = time.perf_counter()
        press_nowait(app, char)
        await wait_until(lambda: shown, timeout=30, interval=0.0005)
    finally:
        common.DISPLAY_LISTENERS.remove(listener)
    return shown[0] - start


async def type_for(app: Any, pilot: Any, seconds: float, *, until: Any = None) -> list[float]:
    """A printable key every 100 ms for ``seconds`` (or until ``until()``); echo times."""
    echoes: list[float] = []
    letters = "abcdefghijklmnopqrstuvwxyz"
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and not (until and until()):
        echoes.append(await key_echo(app, letters[len(echoes) % 26]))
        await asyncio.sleep(0.1)
    return echoes


def ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000


# --------------------------------------------------------------------------- B8


async def new_conversation(app: Any, pilot: Any) -> str:
    """Ctrl+N as the user presses it; the id of the new (empty) conversation."""
    before = app.chat.conversation
    press_nowait(app, "ctrl+n")
    await wait_until(lambda: app.chat.conversation is not before, timeout=30)
    await pilot.pause(0)
    return str(app.chat.conversation.id)


async def b8_once(
    base_url: str, data: Path, streams: int, rate: float, seconds: float, profile: bool = False
) -> dict[str, Any]:
    """Start ``streams`` replies, each in its own new conversation, at ``rate`` deltas/s
    each; then, in one more new conversation, type a key every 100 ms for ``seconds``.
    Then open each streaming conversation in turn (its live view on screen) and press
    Esc; the first Esc (three others still streaming) is the figure, all are kept."""
    from llmchat_tui.generation import State
    from llmchat_tui.widgets.sidebar import Sidebar

    n = int(rate * (seconds + 40))  # outlasts the window: the streams never end on their own
    app = build_app(base_url, data)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        generations = []
        conversation_ids = []
        for index in range(streams):
            if index:
                await new_conversation(app, pilot)
            await send_prompt(app, pilot, spec(n, rate=rate, burst=2, seed=index))
            conversation_id = app.chat.conversation.id
            press_nowait(app, "enter")
            generations.append(await new_generation(app, conversation_id))
            conversation_ids.append(conversation_id)
        for generation in generations:
            await wait_until(lambda g=generation: len(g.parts) > 0, timeout=30)
        if streams:
            await new_conversation(app, pilot)
        app.chat.prompt.focus()
        await pilot.pause(0)
        parts0 = [len(g.parts) for g in generations]
        start = time.perf_counter()
        with StallMeter() as stall:
            echoes = await type_for(app, pilot, seconds)
        window = time.perf_counter() - start
        received = [(len(g.parts) - p) / window for g, p in zip(generations, parts0, strict=True)]
        streaming = sum(g.state is State.STREAMING for g in generations)
        stops: list[dict[str, Any]] = []
        for index, generation in enumerate(generations):
            # Open a streaming conversation: its live reply on screen (the follower
            # catching up with what arrived while it was in the background), the
            # others still streaming; then Esc stops it. In turn, each of them.
            app.chat.post_message(Sidebar.ConversationSelected(conversation_ids[index]))
            await wait_until(
                lambda i=index: app.chat.conversation.id == conversation_ids[i], timeout=30
            )
            await wait_until(
                lambda g=generation: app.chat.pane.view_of(g.message) is not None, timeout=30
            )
            await asyncio.sleep(0.5)
            app.chat.prompt.focus()
            still = generation.state is State.STREAMING
            backlog = len(generation.parts)
            others = sum(g.state is State.STREAMING for g in generations) - 1
            with profiled() if profile else contextlib.nullcontext():
                stop_start = time.perf_counter()
                press_nowait(app, "escape")
                await wait_until(lambda g=generation: g.done.is_set(), timeout=60, interval=0.0005)
                stop_ms = (time.perf_counter() - stop_start) * 1000
            if not still or generation.state is not State.CANCELLED:
                raise RuntimeError(f"B8: Esc found the reply {generation.state} ({still})")
            stops.append({"ms": stop_ms, "others_streaming": others, "parts": backlog})
        await pilot.pause()
    return {
        "echo_s": echoes,
        "stop_ms": stops[0]["ms"] if stops else None,
        "stops": stops,
        "streams": streams,
        "streaming_at_end_of_window": streaming,
        "parts_per_s_each": received,
        "loop_stall_max_ms": stall.max_gap * 1000,
    }


async def b8(cfg: Config) -> list[dict[str, Any]]:
    seconds = cfg.pick(20, 5)
    rate = 1000
    with ServerProcess() as server:
        warm_encodings()
        await sdk_read(server.base_url, spec(200))  # warm-up
        idle = await b8_once(server.base_url, cfg.tmp / "b8-0", 0, rate, seconds)
        one = await b8_once(server.base_url, cfg.tmp / "b8-1", 1, rate, seconds)
        four = await b8_once(server.base_url, cfg.tmp / "b8-4", 4, rate, seconds, profile=True)
    print(
        f"  B8: key p99 {ms(four['echo_s'], 99):.0f} ms (no streams "
        f"{ms(idle['echo_s'], 99):.0f} ms), Esc {four['stop_ms']:.0f} ms, parts/s "
        + ", ".join(f"{r:,.0f}" for r in four["parts_per_s_each"]),
        file=sys.stderr,
    )
    details = {"seconds": seconds, "rate_each": rate, "none": idle, "one": one, "four": four}
    label = "same typing, no reply streaming"
    return [
        row(
            "B8",
            f"key echo in a 5th conversation while 4 replies stream ({rate:,} tok/s each), p50",
            ms(four["echo_s"], 50),
            "ms",
            baseline=ms(idle["echo_s"], 50),
            baseline_label=label,
            details=details,
        ),
        row(
            "B8",
            "key echo while 4 replies stream, p99",
            ms(four["echo_s"], 99),
            "ms",
            baseline=ms(idle["echo_s"], 99),
            baseline_label=label,
            target="<= 50 ms",
            passed=ms(four["echo_s"], 99) <= 50,
        ),
        row(
            "B8",
            "Esc -> stopped, in one of the 4 streaming conversations (opened, 3 others streaming)",
            four["stop_ms"],
            "ms",
            baseline=one["stop_ms"],
            baseline_label="same with that reply streaming alone",
            target="<= 100 ms",
            passed=four["stop_ms"] <= 100,
        ),
    ]


# --------------------------------------------------------------------------- B10


async def b10(cfg: Config) -> list[dict[str, Any]]:
    """30 long replies in one conversation: memory and reply time as it grows."""
    n = cfg.pick(4000, 2000)
    total = cfg.pick(30, 10)
    checkpoints = cfg.pick((1, 10, 30), (1, 5, 10))
    replies: list[dict[str, Any]] = []
    memory: dict[int, float] = {}
    with ServerProcess() as server:
        warm_encodings()
        await sdk_read(server.base_url, spec(200))  # warm-up
        app = build_app(server.base_url, cfg.tmp / "b10")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            for index in range(1, total + 1):
                profile = index > total - 3
                generation, meter = await app_reply(
                    app, pilot, spec(n, seed=index), profile=profile
                )
                if len(generation.parts) != n:
                    raise RuntimeError(f"B10: reply {index} has {len(generation.parts)} parts")
                await pilot.pause()
                gc.collect()
                replies.append(
                    {
                        "wall": meter.wall,
                        "cpu": meter.cpu,
                        "gc_s": meter.gc,
                        "rss_mb": rss_mb(),
                        "views": len(app.chat.pane.views()),
                        "objects": len(gc.get_objects()),
                    }
                )
                if index in checkpoints:
                    from collections import Counter

                    # What the garbage collector tracks, by type (what grows).
                    census = Counter(type(o).__name__ for o in gc.get_objects())
                    replies[-1]["top_types"] = census.most_common(12)
                    memory[index] = replies[-1]["rss_mb"]
                    print(
                        f"  B10 after {index}: RSS {memory[index]:.0f} MB, reply "
                        f"{meter.wall:.2f} s, {replies[-1]['views']} views",
                        file=sys.stderr,
                    )
    first, mid, last = checkpoints
    early = median([r["wall"] for r in replies[:3]])
    late = median([r["wall"] for r in replies[-3:]])
    details = {"tokens_each": n, "replies": replies, "rss_mb": memory}
    return [
        row(
            "B10",
            f"RSS after {last} replies of {n:,} tokens in one conversation",
            memory[last],
            "MB",
            baseline=memory[first],
            baseline_label=f"RSS after {first} reply",
            target="<= 1.3x",
            passed=memory[last] <= 1.3 * memory[first],
            details=details,
        ),
        row(
            "B10",
            f"RSS after {mid} replies",
            memory[mid],
            "MB",
            baseline=memory[first],
            baseline_label=f"RSS after {first} reply",
        ),
        row(
            "B10",
            f"reply time, Enter -> last token on screen: replies {last - 2}-{last} (median)",
            late,
            "s",
            baseline=early,
            baseline_label="replies 1-3 (median)",
            target="does not grow (<= 1.2x)",
            passed=late <= 1.2 * early,
        ),
    ]


# --------------------------------------------------------------------------- B12


async def b12_delta(
    base_url: str, data: Path, size: int, cap: float, profile: bool = False
) -> dict[str, Any]:
    """One reply made of a single ``size``-character delta: Enter -> on screen, and the
    longest event-loop stall meanwhile. Given up after ``cap`` seconds (then the time
    is a lower bound and ``finished`` is False)."""
    from llmchat_tui.widgets.reply_body import ReplyBody

    app = build_app(base_url, data)
    finished = True
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        conversation_id = app.chat.conversation.id
        await send_prompt(app, pilot, f"bench big={size}")
        gc.collect()
        maybe_profiled = profiled() if profile else contextlib.nullcontext()
        with maybe_profiled, StallMeter() as stall, Meter() as meter:
            press_nowait(app, "enter")
            generation = await new_generation(app, conversation_id)
            try:
                await asyncio.wait_for(wait_reply_on_screen(app, pilot, generation), cap)
            except TimeoutError:
                finished = False
            await asyncio.sleep(0.01)  # the heartbeat sees a stall that ends here
        view = app.chat.pane.view_of(generation.message)
        bodies = list(view.query(ReplyBody)) if view is not None else []
        frozen = bodies[0].frozen_blocks if bodies else None
        tail = len(bodies[0]._tail_text) if bodies else None
    return {
        "seconds": meter.wall,
        "stall_ms": stall.max_gap * 1000,
        "chars": len(generation.text()),
        "finished": finished,
        "frozen_blocks": frozen,
        "tail_chars": tail,
        "cpu_s": meter.cpu,
        "gc_s": meter.gc,
    }


async def b12_open(cfg: Config, data: Path, conv: Any, profile: bool = False) -> dict[str, Any]:
    """Open a saved conversation from the sidebar: select -> last message on screen,
    and the longest event-loop stall meanwhile."""
    app = build_app("http://127.0.0.1:9/v1", data)
    last_id = conv.messages[-1].id
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_via_sidebar(app, pilot, conv.id)
        pane = app.chat.pane
        gc.collect()
        maybe_profiled = profiled() if profile else contextlib.nullcontext()
        with maybe_profiled, StallMeter() as stall, Meter() as meter:
            press_nowait(app, "enter")
            await wait_until(
                lambda: pane.views() and pane.views()[-1].message.id == last_id,
                timeout=600,
                interval=0.001,
            )
            await pilot.pause(0)
            await asyncio.sleep(0.01)  # the heartbeat sees a stall that ends here
    return {"seconds": meter.wall, "stall_ms": stall.max_gap * 1000}


async def b12_fence(
    base_url: str, data: Path, lines: int, rate: float, close_every: int, profile: bool = False
) -> dict[str, Any]:
    """Stream a ``lines``-line code fence (one delta per line, ``rate`` lines/s) and type
    a key every 100 ms while it streams; then the longest stall until it is on screen."""
    app = build_app(base_url, data)
    message = f"bench fence={lines} close={close_every} rate={rate:g} burst=2"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await send_prompt(app, pilot, message)
        conversation_id = app.chat.conversation.id
        with StallMeter() as stall, Meter() as meter:
            press_nowait(app, "enter")
            generation = await new_generation(app, conversation_id)
            await wait_until(lambda: len(generation.parts) > 0, timeout=30)
            with profiled() if profile else contextlib.nullcontext():
                echoes = await type_for(app, pilot, 600, until=lambda: generation.done.is_set())
            finished = True
            try:
                await asyncio.wait_for(wait_reply_on_screen(app, pilot, generation), 300)
            except TimeoutError:
                finished = False
            await asyncio.sleep(0.01)
    return {
        "finished": finished,
        "echo_s": echoes,
        "seconds": meter.wall,
        "stall_ms": stall.max_gap * 1000,
        "parts": len(generation.parts),
    }


async def b12(cfg: Config) -> list[dict[str, Any]]:
    import datagen
    from content import huge_text

    from llmchat_tui.store import Store

    size = int(os.environ.get("LLMCHAT_BENCH_B12_SIZE") or cfg.pick(20_000_000, 2_000_000))
    parts = os.environ.get("LLMCHAT_BENCH_B12_PARTS", "delta,open,fence").split(",")
    cap = cfg.pick(180.0, 120.0)
    small = size // 1000
    lines = cfg.pick(20_000, 5_000)
    rate = 2000
    mb = f"{size / 1e6:g} MB"
    kb = f"{small / 1e3:g} KB"
    out: list[dict[str, Any]] = []
    details: dict[str, Any] = {"size": size, "small": small, "lines": lines, "rate": rate}
    with ServerProcess() as server:
        warm_encodings()
        await sdk_read(server.base_url, spec(200))  # warm-up
        if "delta" in parts:
            await sdk_read(server.base_url, f"bench big={size}")  # the server builds the text
            base = await b12_delta(server.base_url, cfg.tmp / "b12-d0", small, cap)
            huge = await b12_delta(server.base_url, cfg.tmp / "b12-d1", size, cap, profile=True)
            details["delta"] = {"small": base, "huge": huge}
            print(f"  B12 delta: {huge} (small: {base})", file=sys.stderr)
            stopped = "" if huge["finished"] else f" (stopped after {cap:g} s: at least)"
            out += [
                row(
                    "B12",
                    f"one {mb} stream delta: longest UI freeze, Enter -> on screen{stopped}",
                    huge["stall_ms"],
                    "ms",
                    baseline=base["stall_ms"],
                    baseline_label=f"same with a {kb} delta",
                    target="<= 100 ms",
                    passed=huge["stall_ms"] <= 100,
                ),
                row(
                    "B12",
                    f"one {mb} stream delta: Enter -> reply on screen{stopped}",
                    huge["seconds"],
                    "s",
                    baseline=base["seconds"],
                    baseline_label=f"same with a {kb} delta",
                ),
            ]

        if "open" in parts:
            data = cfg.tmp / "b12-data"
            store = Store(data)
            store.open()
            convs = {}
            for label, chars in (("small", small), ("huge", size)):
                conv = datagen.make_conversation(2, pool=[huge_text(chars, 1)], seed=12)
                store.save(conv)
                convs[label] = conv
            await b12_open(cfg, data, convs["small"])  # warm-up
            opened_small = await b12_open(cfg, data, convs["small"])
            opened = await b12_open(cfg, data, convs["huge"], profile=True)
            details["open"] = {"small": opened_small, "huge": opened}
            print(f"  B12 open: {opened} (small: {opened_small})", file=sys.stderr)
            out += [
                row(
                    "B12",
                    f"open a saved conversation holding a {mb} message: longest UI freeze",
                    opened["stall_ms"],
                    "ms",
                    baseline=opened_small["stall_ms"],
                    baseline_label=f"same with a {kb} message",
                    target="<= 100 ms",
                    passed=opened["stall_ms"] <= 100,
                ),
                row(
                    "B12",
                    f"open the {mb} message: select -> on screen",
                    opened["seconds"],
                    "s",
                    baseline=opened_small["seconds"],
                    baseline_label=f"same with a {kb} message",
                ),
            ]

        if "fence" in parts:
            closed = await b12_fence(server.base_url, cfg.tmp / "b12-f0", lines, rate, 20)
            fence = await b12_fence(server.base_url, cfg.tmp / "b12-f1", lines, rate, 0, True)
            details["fence"] = {"closed": closed, "open": fence}
            print(
                f"  B12 fence: key p99 {ms(fence['echo_s'], 99):.0f} ms (closed every 20 "
                f"lines: {ms(closed['echo_s'], 99):.0f} ms), stall {fence['stall_ms']:.0f} ms",
                file=sys.stderr,
            )
            label = "same lines, the fence closed every 20 lines"
            out += [
                row(
                    "B12",
                    f"key echo while a {lines:,}-line unclosed code fence streams "
                    f"({rate:,} lines/s), p50",
                    ms(fence["echo_s"], 50),
                    "ms",
                    baseline=ms(closed["echo_s"], 50),
                    baseline_label=label,
                ),
                row(
                    "B12",
                    "key echo while the unclosed fence streams, p99",
                    ms(fence["echo_s"], 99),
                    "ms",
                    baseline=ms(closed["echo_s"], 99),
                    baseline_label=label,
                    target="<= 50 ms",
                    passed=ms(fence["echo_s"], 99) <= 50,
                ),
                row(
                    "B12",
                    "unclosed fence: longest UI freeze, Enter -> whole reply on screen",
                    fence["stall_ms"],
                    "ms",
                    baseline=closed["stall_ms"],
                    baseline_label=label,
                    target="<= 100 ms",
                    passed=fence["stall_ms"] <= 100,
                ),
            ]
    if out:
        out[0]["details"] = details
    return out


# --------------------------------------------------------------------------- B1t


def executable() -> str:
    beside = Path(sys.executable).with_name("llmchat-tui")
    if beside.is_file():
        return str(beside)
    import shutil

    found = shutil.which("llmchat-tui")
    if not found:
        raise RuntimeError("B1t: the llmchat-tui command is not installed")
    return found


class PtyApp:
    """The installed ``llmchat-tui`` in a pseudo-terminal (120x40, xterm-256color).

    A reader thread drains the pty as fast as a terminal would (so the app never
    blocks on writing) and notes when ``watch_for`` first appears in the output.
    The screen (``pyte``) is only rendered on request, from the bytes read so far.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.raw = bytearray()
        self.lock = threading.Lock()
        self.watch_for: bytes | None = None
        self.seen_at: float | None = None
        self.seen = threading.Event()
        master, slave = pty.openpty()
        columns, lines = SIZE
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        env = {**env, "TERM": "xterm-256color"}
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        tail = b""
        while not self.closed:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            now = time.perf_counter()
            with self.lock:
                self.raw += data
            watch = self.watch_for
            if watch is not None and self.seen_at is None and watch in tail + data:
                self.seen_at = now
                self.seen.set()
            tail = data[-32:]

    def screen(self) -> str:
        import pyte

        screen = pyte.Screen(*SIZE)
        stream = pyte.ByteStream(screen)
        with self.lock:
            stream.feed(bytes(self.raw))
        return "\n".join(line.rstrip() for line in screen.display)

    def wait_for_screen(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError(f"B1t: {text!r} not on screen:\n{self.screen()}")
            time.sleep(0.05)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.send(b"\x11")  # Ctrl+Q
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.closed = True
        self.thread.join(2)
        with contextlib.suppress(OSError):
            os.close(self.master)


def _pty_reply(
    base_url: str, data: Path, message: str, last_marker: int, profile_to: Path | None
) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="x")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    argv = [executable(), "--model", "gpt-4o-mini", "--data-dir", str(data)]
    app = PtyApp(argv, env)
    spy = None
    try:
        app.wait_for_screen("New conversation", 60)
        app.send(message.encode())
        app.wait_for_screen(message, 30)
        time.sleep(0.5)  # let start-up work (token encodings in a thread) settle
        app.watch_for = f"x{last_marker}".encode()
        if profile_to is not None:
            spy = subprocess.Popen(
                [
                    *(_py_spy(), "record", "-p", str(app.proc.pid), "-r", "250", "-f", "raw"),
                    *("--full-filenames", "--threads", "-o", str(profile_to), "--nonblocking"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
        cpu0 = _cpu_seconds(app.proc.pid)
        start = time.perf_counter()
        app.send(b"\r")
        if not app.seen.wait(300):
            raise TimeoutError(f"B1t: x{last_marker} never written:\n{app.screen()}")
        assert app.seen_at is not None
        wall = app.seen_at - start
        cpu = (_cpu_seconds(app.proc.pid) or 0) - (cpu0 or 0)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(30)
        time.sleep(0.3)
        on_screen = f"x{last_marker}" in app.screen()
        raw_bytes = len(app.raw)
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait()
        app.close()
    return {"wall": wall, "cpu": cpu, "on_screen_after": on_screen, "bytes_written": raw_bytes}


def _py_spy() -> str:
    import shutil

    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.is_file() else (shutil.which("py-spy") or "py-spy")


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def b1t(cfg: Config) -> list[dict[str, Any]]:
    """The B1 reply through a real terminal: the installed app in a pty."""
    import common
    from content import marked_tokens, marker_index

    n = cfg.pick(6000, 2000)
    reps = cfg.pick(3, 1)
    message = spec(n, mark=True)
    last = max(m for m in (marker_index(t) for t in marked_tokens(n)) if m is not None)
    profile = common._profiler is not None
    app_runs: list[dict[str, Any]] = []
    sdk_runs: list[dict[str, Any]] = []
    with ServerProcess() as server:
        await sdk_read(server.base_url, message)  # warm-up
        for rep in range(reps):
            sdk_runs.append(await sdk_read(server.base_url, message))
            profile_to = RESULTS / "profile-B1t.pyspy.txt" if profile and rep == 0 else None
            if profile_to is not None:
                RESULTS.mkdir(parents=True, exist_ok=True)
            run = await asyncio.to_thread(
                _pty_reply, server.base_url, common_tmp(cfg, rep), message, last, profile_to
            )
            app_runs.append(run)
            print(
                f"  B1t rep {rep + 1}: terminal {run['wall']:.2f} s "
                f"(on screen: {run['on_screen_after']}), sdk {sdk_runs[-1]['wall']:.2f} s",
                file=sys.stderr,
            )
    if profile:
        _summarise_pyspy(RESULTS / "profile-B1t.pyspy.txt")
    wall = median([r["wall"] for r in app_runs])
    sdk = median([r["wall"] for r in sdk_runs])
    return [
        row(
            "B1t",
            f"{n:,}-token reply in a real terminal (pty): Enter -> last token written",
            wall,
            "s",
            baseline=sdk,
            baseline_label="raw openai SDK reading the same stream",
            target="<= 1.5x",
            passed=wall <= 1.5 * sdk,
            details={"tokens": n, "reps": reps, "app_runs": app_runs, "sdk_runs": sdk_runs},
        ),
        row(
            "B1t",
            "tokens shown/s in the terminal",
            n / wall,
            "tok/s",
            baseline=n / sdk,
            baseline_label="raw openai SDK",
        ),
    ]


def common_tmp(cfg: Config, rep: int) -> Path:
    return cfg.tmp / f"b1t-{rep}"


def _summarise_pyspy(path: Path) -> None:
    """py-spy's raw (collapsed) stacks of the app's main thread -> the suite's report.

    py-spy leaves idle samples out (no ``--idle``): the shares are of the busy time.
    """
    if not path.exists():
        print("  B1t: no py-spy profile (is py-spy installed and allowed to attach?)")
        return
    from profiling import report, short_path

    frame_re = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*):\d+\)$")
    stacks: list[tuple[list[str], float]] = []
    other = 0.0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, _, rest = stack.partition(";")
        if "MainThread" not in thread:
            other += int(count) / 250
            continue
        frames = []
        for frame in rest.split(";"):
            found = frame_re.match(frame)
            if found:
                name = found["name"].rsplit(".", 1)[-1]
                frames.append(f"{short_path(found['file'])}:{name}")
            else:
                frames.append(frame)
        stacks.append((frames, int(count) / 250))
    text = report(stacks, "B1t: the app's main thread in a pty (py-spy)")
    text += f"\nother threads (writer, stream reader...): {other:.2f} s sampled busy\n"
    (RESULTS / "profile-B1t.txt").write_text(text)
    print(text, file=sys.stderr)


SUITES = {"B8": b8, "B10": b10, "B12": b12, "B1T": b1t}
