"""The benchmarks B1-B7, B5b, B7b, B9 and B11. Each ``bN(cfg)`` runs in its own child process
(see run.py) and returns a list of result rows (dicts) for the table and the JSON file.

Every row carries a figure and a baseline measured in the same process, in the same
run, interleaved with the measurement where it makes sense; see README.md for what
each figure means exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    HERE,
    SIZE,
    Meter,
    Probe,
    ServerProcess,
    build_app,
    median,
    new_generation,
    peak_rss_mb,
    percentile,
    press_nowait,
    profile_start,
    profile_stop,
    profiled,
    send_prompt,
    spec,
    wait_reply_on_screen,
    wait_until,
    warm_encodings,
)


def cfg_gc_freeze() -> bool:
    return os.environ.get("LLMCHAT_BENCH_GC_FREEZE") == "1"


@dataclass
class Config:
    quick: bool
    tmp: Path
    ansi: bool = True

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full


def row(
    bench: str,
    name: str,
    figure: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_label: str = "",
    target: str = "",
    passed: bool | None = None,
    details: dict[str, Any] | None = None,
    ratio: float | None = None,
) -> dict[str, Any]:
    if ratio is None and baseline:
        ratio = figure / baseline
    return {
        "bench": bench,
        "name": name,
        "figure": figure,
        "unit": unit,
        "baseline": baseline,
        "baseline_label": baseline_label,
        "ratio": ratio,
        "target": target,
        "pass": passed,
        "details": details or {},
    }


class StallMeter:
    """The longest time the event loop did not run a 1 ms sleeper (a UI freeze)."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last - 0.001)
            last = now

    def __enter__(self) -> StallMeter:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def sdk_read(base_url: str, message: str) -> dict[str, Any]:
    """The baseline: the raw openai SDK reading a whole stream (no UI)."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
    count = 0
    with Meter() as meter:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": message}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    count += 1
    await client.close()
    return {"wall": meter.wall, "cpu": meter.cpu, "tokens": count}


async def app_reply(
    app: Any, pilot: Any, message: str, *, profile: bool = False
) -> tuple[Any, Meter]:
    """Press Enter on ``message`` and wait until the whole reply is on screen."""
    await send_prompt(app, pilot, message)
    conversation_id = app.chat.conversation.id
    previous = app.session.generation(conversation_id)
    gc.collect()
    if cfg_gc_freeze():
        gc.freeze()  # what-if (--gc-freeze): full collections skip everything older
    import common

    ansi, frames = common.ANSI_SECONDS, common.FRAMES_WRITTEN
    with profiled() if profile else contextlib.nullcontext(), Meter() as meter:
        press_nowait(app, "enter")
        generation = await new_generation(app, conversation_id, previous)
        await wait_reply_on_screen(app, pilot, generation)
    meter.ansi = common.ANSI_SECONDS - ansi  # type: ignore[attr-defined]
    meter.frames = common.FRAMES_WRITTEN - frames  # type: ignore[attr-defined]
    return generation, meter


# --------------------------------------------------------------------------- B1


async def b1(cfg: Config) -> list[dict[str, Any]]:
    """Throughput at full speed: the app vs the raw SDK on the same stream."""
    from llmchat_tui.generation import State

    n = cfg.pick(6000, 2000)
    reps = cfg.pick(3, 1)
    message = spec(n)
    app_runs: list[dict[str, Any]] = []
    sdk_runs: list[dict[str, Any]] = []
    with ServerProcess() as server:
        warm_encodings()
        await sdk_read(server.base_url, message)  # warm-up (imports, server caches)
        for rep in range(reps):
            sdk_runs.append(await sdk_read(server.base_url, message))
            app = build_app(server.base_url, cfg.tmp / f"b1-{rep}")
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                server_cpu0 = server.cpu_seconds()
                generation, meter = await app_reply(app, pilot, message, profile=True)
                server_cpu = (server.cpu_seconds() or 0) - (server_cpu0 or 0)
                shown = len(generation.parts)
                if generation.state is not State.COMPLETE or shown != n:
                    raise RuntimeError(f"B1: reply {generation.state}, {shown}/{n} parts")
                app_runs.append(
                    {
                        "wall": meter.wall,
                        "cpu": meter.cpu,
                        "tokens": shown,
                        "ttft": generation.ttft,
                        "frames": meter.frames,
                        "ansi_encode_s": meter.ansi,
                        "gc_s": meter.gc,
                        "gc_collections": meter.collections,
                        "gc_s_by_generation": meter.gc_by_generation,
                        "gc_tracked_objects": len(gc.get_objects()),
                        "server_cpu": server_cpu,
                    }
                )
            print(
                f"  B1 rep {rep + 1}: app {n / meter.wall:,.0f} tok/s, "
                f"sdk {sdk_runs[-1]['tokens'] / sdk_runs[-1]['wall']:,.0f} tok/s",
                file=sys.stderr,
            )
    app_tps = median([r["tokens"] / r["wall"] for r in app_runs])
    sdk_tps = median([r["tokens"] / r["wall"] for r in sdk_runs])
    app_cpu = median([r["cpu"] * 1000 / r["tokens"] for r in app_runs])
    sdk_cpu = median([r["cpu"] * 1000 / r["tokens"] for r in sdk_runs])
    details = {
        "tokens": n,
        "reps": reps,
        "frames_per_s": median([r["frames"] / r["wall"] for r in app_runs]),
        "gc_share": median([r["gc_s"] / r["wall"] for r in app_runs]),
        "app_runs": app_runs,
        "sdk_runs": sdk_runs,
    }
    return [
        row(
            "B1",
            f"throughput: {n:,}-token Markdown reply at full speed, tokens shown per second",
            app_tps,
            "tok/s",
            baseline=sdk_tps,
            baseline_label="raw openai SDK reading the same stream",
            target=">= 3,000 tok/s",
            passed=app_tps >= 3000,
            details=details,
        ),
        row(
            "B1",
            "CPU per token shown (app process; server in another process)",
            app_cpu,
            "CPU-ms/token",
            baseline=sdk_cpu,
            baseline_label="raw openai SDK, CPU-ms/token",
            target="<= 0.3 CPU-ms/token",
            passed=app_cpu <= 0.3,
        ),
        row(
            "B1",
            "wall time, Enter to last token on screen (median)",
            median([r["wall"] for r in app_runs]),
            "s",
            baseline=median([r["wall"] for r in sdk_runs]),
            baseline_label="raw openai SDK, whole stream",
        ),
    ]


# --------------------------------------------------------------------------- B2


def _floor_app() -> Any:
    from textual.app import App, ComposeResult
    from textual.containers import VerticalScroll
    from textual.widgets import Markdown

    class FloorApp(App[None]):
        """Textual's floor: one Markdown in a VerticalScroll fed by a MarkdownStream."""

        def compose(self) -> ComposeResult:
            with VerticalScroll():
                yield Markdown()

    return FloorApp()


async def b2_floor(base_url: str, message: str) -> Probe:
    """The baseline: Textual's own floor for a live Markdown fed by the raw SDK.

    One task reads the SDK stream and appends each delta to a list (no await per
    delta, as the app's Generation does); a writer task wakes when there is new
    text and hands everything pending to ``MarkdownStream.write`` (which batches
    further while an append runs). No follower sleep, no other widgets.
    """
    from openai import AsyncOpenAI
    from textual.containers import VerticalScroll
    from textual.widgets import Markdown

    probe = Probe().install(generation=False, stream=False).watch_screen()
    try:
        app = _floor_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            markdown = app.query_one(Markdown)
            app.query_one(VerticalScroll).anchor()
            stream = Markdown.get_stream(markdown)
            pending: list[str] = []
            fresh = asyncio.Event()
            finished = False

            async def writer() -> None:
                while True:
                    await fresh.wait()
                    fresh.clear()
                    if pending:
                        text = "".join(pending)
                        pending.clear()
                        await stream.write(text)
                    if finished and not pending:
                        return

            writing = asyncio.get_running_loop().create_task(writer())
            client = AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
            response = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": message}],
                stream=True,
            )
            async for chunk in response:
                for choice in chunk.choices:
                    text = choice.delta.content
                    if text:
                        probe.arrivals.append(time.perf_counter())
                        probe.parts.append(text)
                        pending.append(text)
                        fresh.set()
            finished = True
            fresh.set()
            await writing
            await stream.stop()
            await client.close()
            await pilot.pause(0)
    finally:
        probe.uninstall()
    return probe


def _update_cost(probe: Probe, tenth: int) -> float:
    """Median duration (ms) of the screen updates during one tenth of the stream."""
    start, end = probe.arrivals[0], probe.arrivals[-1]
    lo = start + (end - start) * tenth / 10
    hi = start + (end - start) * (tenth + 1) / 10
    costs = [d for t, d in probe.updates if lo <= t < hi and d > 0.0005]
    return round(median(costs) * 1000, 2) if costs else math.nan


def _lag_stats(probe: Probe, meter: Meter | None, rate: float, burst: int) -> dict[str, Any]:
    """Lag figures of one paced stream (screen markers; see Probe.watch_screen)."""
    from content import marker_index

    markers = [marker_index(part) for part in probe.parts]
    lags = probe.screen_lags(markers)
    marked = sum(1 for m in markers if m is not None)
    if not lags or len(lags) < marked * 0.99:
        raise RuntimeError(f"B2: only {len(lags)}/{marked} marked parts seen on screen")
    # From the server's schedule: when a server keeping its pace sent the part.
    start = probe.arrivals[0]
    expected = {m: start + (i // burst) * burst / rate for i, m in enumerate(markers) if m}
    schedule = [
        t - expected[m] for m, t in ((m, probe.screen_time(m)) for m in expected) if t is not None
    ]
    tenth = max(1, len(lags) // 10)
    duration = probe.arrivals[-1] - probe.arrivals[0]
    stats: dict[str, Any] = {
        "p50_ms": percentile(lags, 50) * 1000,
        "p90_ms": percentile(lags, 90) * 1000,
        "p99_ms": percentile(lags, 99) * 1000,
        "max_ms": max(lags) * 1000,
        "p50_ms_by_tenth_of_stream": [
            round(percentile(lags[i : i + tenth], 50) * 1000, 1)
            for i in range(0, tenth * 10, tenth)
        ],
        "from_schedule_p50_ms": percentile(schedule, 50) * 1000,
        "from_schedule_p99_ms": percentile(schedule, 99) * 1000,
        "arrival_rate": (len(probe.arrivals) - 1) / duration if duration > 0 else None,
        "marked_parts": marked,
        "frames_with_new_text": len(probe.marker_frames),
        "screen_updates": len(probe.updates),
        "screen_update_ms_p50": median([d for _, d in probe.updates]) * 1000,
        "screen_update_ms_max": max((d for _, d in probe.updates), default=0) * 1000,
        "screen_update_ms_first_tenth": _update_cost(probe, 0),
        "screen_update_ms_last_tenth": _update_cost(probe, 9),
        "last_token_to_screen_ms": (
            (probe.marker_frames[-1][0] - probe.arrivals[-1]) * 1000
            if probe.marker_frames
            else None
        ),
    }
    if meter is not None:
        stats.update(
            cpu_share=meter.cpu / meter.wall,
            gc_s=meter.gc,
            gc_collections=meter.collections,
            gc_s_by_generation=meter.gc_by_generation,
        )
    return stats


async def b2(cfg: Config) -> list[dict[str, Any]]:
    """Lag at a paced 3,000 tokens/s: arrival in the app to the frame showing it."""
    rate, burst = 3000, 3
    n = cfg.pick(9000, 3000)
    reps = cfg.pick(2, 1)
    message = spec(n, rate=rate, burst=burst, mark=True)
    app_runs: list[dict[str, Any]] = []
    floor_runs: list[dict[str, Any]] = []
    with ServerProcess() as server:
        warm_encodings()
        await sdk_read(server.base_url, spec(200))  # warm-up
        for rep in range(reps):
            floor = await b2_floor(server.base_url, message)
            floor_runs.append(_lag_stats(floor, None, rate, burst))
            probe = Probe().install(stream=False).watch_screen()
            try:
                app = build_app(server.base_url, cfg.tmp / f"b2-{rep}")
                async with app.run_test(size=SIZE) as pilot:
                    await pilot.pause()
                    _, meter = await app_reply(app, pilot, message, profile=True)
            finally:
                probe.uninstall()
            app_runs.append(_lag_stats(probe, meter, rate, burst))
            print(
                f"  B2 rep {rep + 1}: app p99 {app_runs[-1]['p99_ms']:,.0f} ms, "
                f"floor p99 {floor_runs[-1]['p99_ms']:,.0f} ms",
                file=sys.stderr,
            )

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return median([r[key] for r in runs])

    details = {"rate": rate, "burst": burst, "tokens": n, "app": app_runs, "floor": floor_runs}
    floor_label = "bare Textual Markdown fed by the raw SDK"
    return [
        row(
            "B2",
            f"lag at {rate:,} tok/s: part arrival -> first frame showing it, p50",
            med(app_runs, "p50_ms"),
            "ms",
            baseline=med(floor_runs, "p50_ms"),
            baseline_label=floor_label,
            details=details,
        ),
        row(
            "B2",
            f"lag at {rate:,} tok/s: part arrival -> first frame showing it, p99",
            med(app_runs, "p99_ms"),
            "ms",
            baseline=med(floor_runs, "p99_ms"),
            baseline_label=floor_label,
            target="<= 100 ms",
            passed=med(app_runs, "p99_ms") <= 100,
        ),
        row(
            "B2",
            f"lag at {rate:,} tok/s from the server's send schedule -> frame, p99",
            med(app_runs, "from_schedule_p99_ms"),
            "ms",
            baseline=med(floor_runs, "from_schedule_p99_ms"),
            baseline_label=floor_label,
        ),
    ]


# --------------------------------------------------------------------------- B3


def _idle_floor_app() -> Any:
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Static, TextArea

    class IdleFloor(App[None]):
        """Textual's idle floor: a focused TextArea (blinking cursor), a Static, a Footer."""

        def compose(self) -> ComposeResult:
            yield Static("hello")
            yield TextArea(compact=True)
            yield Footer()

        def on_mount(self) -> None:
            self.query_one(TextArea).focus()

    return IdleFloor()


async def idle_share(pilot: Any, seconds: float) -> tuple[float, int]:
    """Process CPU seconds / wall seconds while nothing happens, and frames composed."""
    probe = Probe().install(generation=False, stream=False)
    try:
        gc.collect()
        with Meter() as meter:
            await asyncio.sleep(seconds)
    finally:
        probe.uninstall()
    return meter.cpu / meter.wall, len(probe.frames)


async def b3(cfg: Config) -> list[dict[str, Any]]:
    seconds = cfg.pick(5.0, 2.0)
    n = cfg.pick(4000, 1000)
    settle = 1.0
    with ServerProcess() as server:
        warm_encodings()
        floor = _idle_floor_app()
        async with floor.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await asyncio.sleep(settle)
            floor_share, floor_frames = await idle_share(pilot, seconds)
        app = build_app(server.base_url, cfg.tmp / "b3")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await asyncio.sleep(settle)
            with profiled():
                fresh_share, fresh_frames = await idle_share(pilot, seconds)
            for i in range(3):
                generation, _ = await app_reply(app, pilot, spec(n, seed=i))
                if len(generation.parts) != n:
                    raise RuntimeError("B3: a reply did not complete")
            await asyncio.sleep(settle)
            with profiled():
                after_share, after_frames = await idle_share(pilot, seconds)
    base = {"floor_share": floor_share, "floor_frames": floor_frames, "seconds": seconds}
    return [
        row(
            "B3",
            f"idle CPU, fresh start ({seconds:g} s window)",
            fresh_share * 100,
            "% of a core",
            baseline=floor_share * 100,
            baseline_label="bare Textual app (TextArea+Static+Footer), idle",
            target="<= 1 %",
            passed=fresh_share <= 0.01,
            details={**base, "frames": fresh_frames},
        ),
        row(
            "B3",
            f"idle CPU after three {n:,}-token replies ({seconds:g} s window)",
            after_share * 100,
            "% of a core",
            baseline=floor_share * 100,
            baseline_label="bare Textual app (TextArea+Static+Footer), idle",
            target="<= 1 %",
            passed=after_share <= 0.01,
            details={**base, "frames": after_frames},
        ),
    ]


# --------------------------------------------------------------------------- B4


def sidebar_filled(app: Any, expect: int) -> bool:
    """Every conversation is known to the sidebar and its first rows are listed.

    The sidebar first listed all rows at once; since c5a2d4e it draws them in
    windows of ``sidebar.WINDOW`` and adds more as the user scrolls: then the
    first window must be listed (without a WINDOW: all rows).
    """
    from llmchat_tui.widgets import sidebar as module

    window = getattr(module, "WINDOW", expect)
    known = len(getattr(app.chat.sidebar, "rows", ())) or app.chat.sidebar.option_list.option_count
    return known >= expect and app.chat.sidebar.option_list.option_count >= min(expect, window)


async def b4_start(data_dir: Path, expect: int) -> dict[str, Any]:
    """One start-up, in a fresh process: Store+App to the first frame with the sidebar full."""
    t_import = time.perf_counter()
    from llmchat_tui.config import Settings
    from llmchat_tui.factory import build_app
    from llmchat_tui.store import Store

    imported = time.perf_counter() - t_import
    profile_start()
    with Meter() as meter:
        settings = Settings(base_url="http://127.0.0.1:9/v1", model="gpt-4o-mini", api_key="x")
        store = Store(data_dir)
        skipped = store.open()
        app = build_app(settings, store, skipped=skipped, first_run=False)
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + 120
            while True:
                await pilot.pause(0)
                if sidebar_filled(app, expect):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("B4: the sidebar never listed the conversations")
            elapsed = time.perf_counter() - meter._w
            cpu = time.process_time() - meter._c
            profile_stop()
            rows = len(getattr(app.chat.sidebar, "rows", ()))
            listed = app.chat.sidebar.option_list.option_count
            # Let start-up settle (the token encodings load in a thread) before
            # reading the peak RSS.
            from llmchat_tui import tokens

            with contextlib.suppress(TimeoutError):
                await wait_until(lambda: tokens.is_loaded("o200k_base"), 20, 0.02)
            await pilot.pause()
    return {
        "seconds": elapsed,
        "cpu": cpu,
        "import_s": imported,
        "rss_mb": peak_rss_mb(),
        "rows": rows,
        "options_listed": listed,
        "index_exists_after": store.index_path.exists(),
    }


def _spawn_start(
    data_dir: Path, expect: int, cfg: Config, profile: str, label: str = ""
) -> dict[str, Any]:
    out = cfg.tmp / f"b4-{time.monotonic_ns()}.json"
    cmd = [
        sys.executable,
        str(HERE / "run.py"),
        "--child",
        "B4start",
        "--data",
        str(data_dir),
        "--expect",
        str(expect),
        "--out",
        str(out),
    ]
    if not cfg.ansi:
        cmd.append("--no-ansi")
    if profile:
        cmd += ["--profile", profile, "--label", label]
    subprocess.run(cmd, check=True, timeout=300)
    return json.loads(out.read_text())[0]


async def b4(cfg: Config, profile: str = "") -> list[dict[str, Any]]:
    import datagen

    from llmchat_tui.store import Store

    count = cfg.pick(10_000, 1_000)
    reps = cfg.pick(3, 1)
    data = cfg.tmp / "b4-data"
    empty = cfg.tmp / "b4-empty"
    t = time.perf_counter()
    total = datagen.write_many(data, count)
    print(
        f"  B4: wrote {count:,} conversations ({total / 1e6:,.0f} MB) "
        f"in {time.perf_counter() - t:.1f} s",
        file=sys.stderr,
    )
    index = data / "index.json"
    runs: dict[str, list[dict[str, Any]]] = {"empty": [], "fresh": [], "deleted": []}
    for rep in range(reps):
        runs["empty"].append(_spawn_start(empty, 0, cfg, ""))
        with contextlib.suppress(FileNotFoundError):
            index.unlink()
        runs["deleted"].append(
            _spawn_start(data, count, cfg, profile if rep == 0 else "", "noindex")
        )
        Store(data).open()  # make sure the index is fresh and complete
        runs["fresh"].append(_spawn_start(data, count, cfg, profile if rep == 0 else "", "fresh"))
        print(
            "  B4 rep {}: empty {:.3f} s, deleted index {:.3f} s, fresh index {:.3f} s".format(
                rep + 1, *(runs[k][-1]["seconds"] for k in ("empty", "deleted", "fresh"))
            ),
            file=sys.stderr,
        )
    shutil.rmtree(data, ignore_errors=True)

    def med(kind: str, key: str) -> float:
        return median([r[key] for r in runs[kind]])

    details = {"conversations": count, "bytes": total, "reps": reps, "runs": runs}
    return [
        row(
            "B4",
            f"start-up with {count:,} conversations, fresh index: first frame, sidebar filled",
            med("fresh", "seconds"),
            "s",
            baseline=med("empty", "seconds"),
            baseline_label="same start-up with no saved conversation",
            target="<= 1.0 s",
            passed=med("fresh", "seconds") <= 1.0,
            details=details,
        ),
        row(
            "B4",
            f"start-up with {count:,} conversations, index deleted (rebuilt)",
            med("deleted", "seconds"),
            "s",
            baseline=med("empty", "seconds"),
            baseline_label="same start-up with no saved conversation",
            target="<= 1.0 s",
            passed=med("deleted", "seconds") <= 1.0,
        ),
        row(
            "B4",
            "peak RSS, fresh index (whole process once start-up settled)",
            med("fresh", "rss_mb"),
            "MB",
            baseline=med("empty", "rss_mb"),
            baseline_label="peak RSS with no saved conversation",
            target="<= 300 MB",
            passed=med("fresh", "rss_mb") <= 300,
        ),
        row(
            "B4",
            "peak RSS, index deleted",
            med("deleted", "rss_mb"),
            "MB",
            baseline=med("empty", "rss_mb"),
            baseline_label="peak RSS with no saved conversation",
            target="<= 300 MB",
            passed=med("deleted", "rss_mb") <= 300,
        ),
    ]


# --------------------------------------------------------------------------- B5


async def open_via_sidebar(app: Any, pilot: Any, conversation_id: str) -> None:
    option_list = app.chat.sidebar.option_list
    option_list.focus()
    option_list.highlighted = option_list.get_option_index(conversation_id)
    await pilot.pause()


async def b5_once(cfg: Config, data: Path, conv: Any, profile: bool = False) -> dict[str, Any]:
    """Open ``conv`` from the sidebar, then scroll to the top to load the older batch."""
    app = build_app("http://127.0.0.1:9/v1", data)
    last_id = conv.messages[-1].id
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_via_sidebar(app, pilot, conv.id)
        pane = app.chat.pane
        gc.collect()
        maybe_profiled = profiled if profile else contextlib.nullcontext
        with maybe_profiled(), StallMeter() as stall_open, Meter() as opened:
            press_nowait(app, "enter")
            await wait_until(
                lambda: (
                    pane.conversation is not None
                    and pane.conversation.id == conv.id
                    and pane.views()
                    and pane.views()[-1].message.id == last_id
                ),
                interval=0.001,
            )
            await pilot.pause(0)
        at_end = pane.is_vertical_scroll_end
        await pilot.pause()
        before = len(pane.views())
        expected = min(before + 40, len(conv.messages))
        gc.collect()
        with maybe_profiled(), StallMeter() as stall_older, Meter() as older:
            pane.scroll_home(animate=False, immediate=True)
            await wait_until(lambda: len(pane.views()) >= expected, interval=0.001)
            await pilot.pause(0)
        loaded = len(pane.views()) - before
    return {
        "open_s": opened.wall,
        "open_stall_s": stall_open.max_gap,
        "at_end_after_open": at_end,
        "older_s": older.wall,
        "older_stall_s": stall_older.max_gap,
        "older_loaded": loaded,
    }


def long_and_short(cfg: Config, folder: str) -> tuple[Path, Any, Any]:
    """A data folder holding a long conversation (2,000 messages; 600 quick) and an
    80-message one of the same replies, the baseline: (folder, long, short)."""
    import datagen

    from llmchat_tui.store import Store

    data = cfg.tmp / folder
    store = Store(data)
    store.open()
    big = datagen.make_conversation(cfg.pick(2000, 600), reply_tokens=200, seed=5)
    small = datagen.make_conversation(80, reply_tokens=200, seed=5)
    store.save(big)
    store.save(small)
    return data, big, small


async def b5(cfg: Config) -> list[dict[str, Any]]:
    from llmchat_tui.store import encode_conversation

    reps = cfg.pick(3, 1)
    data, big, small = long_and_short(cfg, "b5-data")
    size = len(big.messages)
    big_bytes = len(encode_conversation(big))
    runs: dict[str, list[dict[str, Any]]] = {"big": [], "small": []}
    await b5_once(cfg, data, small)  # warm-up: first-use imports and caches
    for rep in range(reps):
        runs["small"].append(await b5_once(cfg, data, small))
        runs["big"].append(await b5_once(cfg, data, big, profile=True))
        print(
            f"  B5 rep {rep + 1}: open {runs['big'][-1]['open_s'] * 1000:.0f} ms "
            f"(80 msgs: {runs['small'][-1]['open_s'] * 1000:.0f} ms), older batch "
            f"{runs['big'][-1]['older_s'] * 1000:.0f} ms",
            file=sys.stderr,
        )

    def med(kind: str, key: str) -> float:
        return median([r[key] for r in runs[kind]]) * 1000

    details = {"messages": size, "bytes": big_bytes, "reps": reps, "runs": runs}
    return [
        row(
            "B5",
            f"open a {size:,}-message conversation: select -> last messages on screen",
            med("big", "open_s"),
            "ms",
            baseline=med("small", "open_s"),
            baseline_label="same with an 80-message conversation (same 40 views mounted)",
            target="<= 300 ms",
            passed=med("big", "open_s") <= 300,
            details=details,
        ),
        row(
            "B5",
            "scroll_home -> older batch (40 messages) mounted and drawn",
            med("big", "older_s"),
            "ms",
            baseline=med("small", "older_s"),
            baseline_label="same in the 80-message conversation",
            target="<= 300 ms",
            passed=med("big", "older_s") <= 300,
        ),
    ]


# --------------------------------------------------------------------------- B5b

#: A held key repeats about 30 times a second in common terminals.
KEY_REPEAT_S = 1 / 30


def first_on_screen(pane: Any, first_id: str) -> bool:
    """The view of the conversation's first message is mounted, laid out and inside
    the pane's visible region (its top row at least)."""
    views = pane.views()
    if not views or views[0].message.id != first_id:
        return False
    region = views[0].region
    return bool(region.height) and pane.region.contains(region.x, region.y)


async def b5b_once(cfg: Config, data: Path, conv: Any, profile: bool = False) -> dict[str, Any]:
    """Open ``conv``, Ctrl+Up into the message list, then hold Home (a key event every
    1/30 s, as a terminal's key repeat sends) until its first message is on screen."""
    app = build_app("http://127.0.0.1:9/v1", data)
    first_id = conv.messages[0].id
    last_id = conv.messages[-1].id
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_via_sidebar(app, pilot, conv.id)
        pane = app.chat.pane
        press_nowait(app, "enter")
        await wait_until(
            lambda: pane.views() and pane.views()[-1].message.id == last_id, interval=0.005
        )
        await pilot.pause()
        press_nowait(app, "ctrl+up")
        await wait_until(lambda: pane.has_focus, interval=0.005)
        await pilot.pause()
        gc.collect()
        presses = 0
        maybe_profiled = profiled if profile else contextlib.nullcontext
        with maybe_profiled(), StallMeter() as stall, Meter() as meter:
            next_press = time.perf_counter()
            deadline = next_press + cfg.pick(300, 120)
            while not first_on_screen(pane, first_id):
                now = time.perf_counter()
                if now > deadline:
                    raise TimeoutError("B5b: the first message never reached the screen")
                if now >= next_press:
                    press_nowait(app, "home")
                    presses += 1
                    next_press += KEY_REPEAT_S
                await asyncio.sleep(0.001)
            await pilot.pause(0)
        # Let the Home presses still queued run before the app is torn down.
        await pilot.pause(0.1)
        await pilot.pause()
    return {
        "top_s": meter.wall,
        "cpu_s": meter.cpu,
        "gc_s": meter.gc,
        "presses": presses,
        "stall_s": stall.max_gap,
    }


async def b5b(cfg: Config) -> list[dict[str, Any]]:
    reps = cfg.pick(2, 1)
    data, big, small = long_and_short(cfg, "b5b-data")
    size = len(big.messages)
    runs: dict[str, list[dict[str, Any]]] = {"big": [], "small": []}
    await b5b_once(cfg, data, small)  # warm-up: first-use imports and caches
    for rep in range(reps):
        runs["small"].append(await b5b_once(cfg, data, small))
        runs["big"].append(await b5b_once(cfg, data, big, profile=True))
        print(
            f"  B5b rep {rep + 1}: {size} msgs {runs['big'][-1]['top_s']:.2f} s "
            f"({runs['big'][-1]['presses']} presses), 80 msgs "
            f"{runs['small'][-1]['top_s']:.2f} s",
            file=sys.stderr,
        )

    def med(kind: str, key: str) -> float:
        return median([r[key] for r in runs[kind]])

    return [
        row(
            "B5b",
            f"hold Home in a {size:,}-message conversation: bottom -> first message on screen",
            med("big", "top_s"),
            "s",
            baseline=med("small", "top_s"),
            baseline_label="same in an 80-message conversation",
            target="<= 1 s",
            passed=med("big", "top_s") <= 1.0,
            details={"messages": size, "reps": reps, "runs": runs},
        ),
        row(
            "B5b",
            "longest UI freeze while holding Home",
            med("big", "stall_s") * 1000,
            "ms",
            baseline=med("small", "stall_s") * 1000,
            baseline_label="same in the 80-message conversation",
        ),
    ]


# --------------------------------------------------------------------------- B9


async def _key_echo(app: Any, pilot: Any, char: str) -> float:
    """Send one printable key to the prompt; seconds until it is in the prompt's text
    and a frame was composed after that (the key is on screen)."""
    import common

    prompt = app.chat.prompt
    before = prompt.text
    start = time.perf_counter()
    press_nowait(app, char)
    await wait_until(lambda: prompt.text != before, timeout=30, interval=0.0005)
    frames = common.FRAMES_WRITTEN
    await wait_until(lambda: frames < common.FRAMES_WRITTEN, timeout=30, interval=0.0005)
    return time.perf_counter() - start


async def b9_once(
    base_url: str, data: Path, rate: float, seconds: float, profile: bool = False
) -> dict[str, Any]:
    """Stream an endless reply at ``rate`` deltas/s; type a key every 100 ms for
    ``seconds``; then Esc. Key echo times, Esc -> stopped, RSS."""
    from llmchat_tui.generation import State

    n = int(rate * (seconds + 30))  # longer than the window: the stream never ends on its own
    app = build_app(base_url, data)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await send_prompt(app, pilot, spec(n, rate=rate, burst=max(1, int(rate / 1000))))
        conversation_id = app.chat.conversation.id
        press_nowait(app, "enter")
        generation = await new_generation(app, conversation_id)
        await wait_until(lambda: len(generation.parts) > 0, timeout=30)
        rss0 = peak_rss_mb()
        echoes: list[float] = []
        parts0 = len(generation.parts)
        start = time.perf_counter()
        letters = "abcdefghijklmnopqrstuvwxyz"
        with profiled() if profile else contextlib.nullcontext():
            while time.perf_counter() - start < seconds:
                echoes.append(await _key_echo(app, pilot, letters[len(echoes) % 26]))
                await asyncio.sleep(0.1)
        window = time.perf_counter() - start
        received = (len(generation.parts) - parts0) / window
        streaming = generation.state is State.STREAMING
        stop_start = time.perf_counter()
        press_nowait(app, "escape")
        await wait_until(lambda: generation.done.is_set(), timeout=60, interval=0.0005)
        stopped = time.perf_counter() - stop_start
        state = generation.state
        rss1 = peak_rss_mb()
        await pilot.pause()
    return {
        "echo_s": echoes,
        "stop_s": stopped,
        "state_after_esc": str(state),
        "streaming_until_esc": streaming,
        "parts_per_s": received,
        "rss_mb_start": rss0,
        "rss_mb_end": rss1,
    }


async def b9(cfg: Config) -> list[dict[str, Any]]:
    seconds = cfg.pick(30, 6)
    rate = 7000
    slow = 100
    with ServerProcess() as server:
        warm_encodings()
        fast = await b9_once(server.base_url, cfg.tmp / "b9-fast", rate, seconds, profile=True)
        calm = await b9_once(server.base_url, cfg.tmp / "b9-slow", slow, cfg.pick(10, 3))
    print(
        f"  B9: {fast['parts_per_s']:,.0f} parts/s, key p99 "
        f"{percentile(fast['echo_s'], 99) * 1000:.0f} ms, Esc {fast['stop_s'] * 1000:.0f} ms",
        file=sys.stderr,
    )
    p50 = percentile(fast["echo_s"], 50) * 1000
    p99 = percentile(fast["echo_s"], 99) * 1000
    details = {"seconds": seconds, "rate": rate, "fast": fast, "slow": calm}
    label = f"same with a {slow} tok/s stream"
    return [
        row(
            "B9",
            f"key echo while a {rate:,} tok/s reply streams for {seconds} s (p50)",
            p50,
            "ms",
            baseline=percentile(calm["echo_s"], 50) * 1000,
            baseline_label=label,
            details=details,
        ),
        row(
            "B9",
            "key echo while streaming (p99)",
            p99,
            "ms",
            baseline=percentile(calm["echo_s"], 99) * 1000,
            baseline_label=label,
            target="<= 50 ms",
            passed=p99 <= 50,
        ),
        row(
            "B9",
            f"Esc -> reply stopped, after the {seconds} s stream",
            fast["stop_s"] * 1000,
            "ms",
            baseline=calm["stop_s"] * 1000,
            baseline_label=label,
            target="<= 100 ms",
            passed=fast["stop_s"] <= 0.1,
        ),
        row(
            "B9",
            "peak RSS growth over the stream",
            fast["rss_mb_end"] - fast["rss_mb_start"],
            "MB",
            baseline=fast["rss_mb_start"],
            baseline_label="peak RSS when the stream started",
        ),
    ]


# --------------------------------------------------------------------------- B6


def _drafts(count: int, length: int, seed: int) -> list[str]:
    import random

    from content import user_text

    rng = random.Random(seed)
    drafts = []
    for _ in range(count):
        text = ""
        while len(text) < length:
            text += user_text(rng) + " "
        drafts.append(text[:length])
    return drafts


def _time_estimates(session: Any, conversation: Any, draft: str) -> list[float]:
    """Per keystroke: ``prompt_estimate`` with the draft one character longer."""
    times = []
    for i in range(1, len(draft) + 1):
        typed = draft[:i]
        start = time.perf_counter()
        session.prompt_estimate(conversation, typed)
        times.append(time.perf_counter() - start)
    return times


async def _type_keys(app: Any, pilot: Any, text: str) -> list[float]:
    """Per key: send it and process everything it caused, one frame included."""
    times = []
    for char in text:
        key = "space" if char == " " else char
        if not (char == " " or char.isalnum()):
            continue
        start = time.perf_counter()
        press_nowait(app, key)
        await pilot.pause(0)
        times.append(time.perf_counter() - start)
    return times


async def b6(cfg: Config) -> list[dict[str, Any]]:
    import datagen

    from llmchat_tui import tokens
    from llmchat_tui.store import Store, encode_conversation
    from llmchat_tui.widgets.sidebar import Sidebar

    target_tokens = cfg.pick(200_000, 50_000)
    keystrokes = 200
    reps = cfg.pick(3, 1)
    warm_encodings()
    data = cfg.tmp / "b6-data"
    store = Store(data)
    store.open()
    big = datagen.conversation_of_size(target_tokens=target_tokens, seed=6)
    small = datagen.make_conversation(20, seed=6)
    store.save(big)
    store.save(small)
    history_tokens = sum(tokens.count_text(m.content, "o200k_base") for m in big.messages)

    # 1. session.prompt_estimate per keystroke, history cached.
    app = build_app("http://127.0.0.1:9/v1", data)
    session = app.session
    big_conv = session.open(big.id)
    small_conv = session.open(small.id)
    with Meter() as cold:
        session.prompt_estimate(big_conv, "")
    session.prompt_estimate(small_conv, "")
    drafts = _drafts(2 * reps, keystrokes, seed=60)
    est_big: list[float] = []
    est_small: list[float] = []
    for rep in range(reps):
        est_small += _time_estimates(session, small_conv, drafts[2 * rep])
        with profiled():
            est_big += _time_estimates(session, big_conv, drafts[2 * rep + 1])

    # 2. Keys through the running app (TextArea edit, Changed, timers, one frame each),
    #    then the draft autosave that follows a pause in typing.
    typing: dict[str, list[float]] = {}
    autosave: dict[str, dict[str, float]] = {}
    key_text = _drafts(1, 120, seed=61)[0].lower()
    for label, conv in (("warm-up", small), ("small", small), ("big", big)):
        app = build_app("http://127.0.0.1:9/v1", data)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            # The chat screen opens what the sidebar selects (the app no longer does).
            app.chat.post_message(Sidebar.ConversationSelected(conv.id))
            await wait_until(lambda app=app, conv=conv: app.chat.conversation.id == conv.id)
            await pilot.pause()
            app.chat.prompt.focus()
            await pilot.pause()
            typing[label] = await _type_keys(app, pilot, key_text)
            # The estimate as the app runs it (debounced 0.15 s after the last key).
            calls = []
            for _ in range(20):
                app.chat.prompt.insert("x")
                start = time.perf_counter()
                app.chat.update_estimate()
                calls.append(time.perf_counter() - start)
            # Typing stops: after 1 s the app stashes the draft (a save of the whole
            # conversation, on the UI thread).
            press_nowait(app, "y")
            await pilot.pause(0)
            with StallMeter() as stall:
                await asyncio.sleep(1.4)
            start = time.perf_counter()
            app.chat.prompt.insert("z")
            app.chat._stash_draft()
            stash = time.perf_counter() - start
            autosave[label] = {
                "update_estimate_ms": median(calls) * 1000,
                "loop_stall_ms": stall.max_gap * 1000,
                "stash_draft_ms": stash * 1000,
            }

    def ms(values: list[float], q: float = 50) -> float:
        return percentile(values, q) * 1000

    details = {
        "history_tokens": history_tokens,
        "history_messages": len(big.messages),
        "history_bytes": len(encode_conversation(big)),
        "first_estimate_ms": cold.wall * 1000,
        "estimate_p99_ms": ms(est_big, 99),
        "estimate_max_ms": max(est_big) * 1000,
        "baseline_p99_ms": ms(est_small, 99),
        "keystrokes": len(est_big),
        "pilot_key_p50_ms": {k: ms(v) for k, v in typing.items()},
        "pilot_key_p99_ms": {k: ms(v, 99) for k, v in typing.items()},
        "autosave": autosave,
    }
    return [
        row(
            "B6",
            f"prompt estimate per keystroke, {history_tokens:,}-token conversation (p50)",
            ms(est_big),
            "ms",
            baseline=ms(est_small),
            baseline_label="same drafts, 20-message conversation",
            target="<= 2 ms",
            passed=ms(est_big) <= 2,
            details=details,
        ),
        row(
            "B6",
            "prompt estimate per keystroke (p99)",
            ms(est_big, 99),
            "ms",
            baseline=ms(est_small, 99),
            baseline_label="same drafts, 20-message conversation",
            target="<= 2 ms",
            passed=ms(est_big, 99) <= 2,
        ),
        row(
            "B6",
            "key pressed through the app -> processed and drawn (p50)",
            ms(typing["big"]),
            "ms",
            baseline=ms(typing["small"]),
            baseline_label="same keys, 20-message conversation",
        ),
        row(
            "B6",
            "draft autosave 1 s after typing stops: longest UI freeze",
            autosave["big"]["loop_stall_ms"],
            "ms",
            baseline=autosave["small"]["loop_stall_ms"],
            baseline_label="same, 20-message conversation",
        ),
    ]


# --------------------------------------------------------------------------- B7


class WriteCounter:
    """Counts the bytes and times of what the store writes: its atomic writes (full
    saves, per folder) and its journal appends; and times each full save and each
    checkpoint (``Store.checkpoint``: a journal append + fsync, or a full save).

    ``legacy``: every checkpoint is a full save, as before the journal (issue #13).
    """

    def __init__(self, *, legacy: bool = False) -> None:
        import llmchat_tui.store as store_module
        from llmchat_tui.journal import Journal
        from llmchat_tui.store import Store

        self.module = store_module
        self.store_cls = Store
        self.journal_cls = Journal
        self.legacy = legacy
        self.original_write = store_module._atomic_write
        self.original_save = Store.save
        self.original_checkpoint = Store.checkpoint
        self.original_append = Journal.append
        self.bytes: dict[str, int] = {}
        #: (time.monotonic(), bytes) of every write to conversations/: full saves and appends.
        self.conversation_writes: list[tuple[float, int]] = []
        self.saves: list[float] = []
        self.save_cpu: list[float] = []  # CPU time of the saving thread itself
        #: Wall time of each Store.checkpoint call while its reply streams (the end of
        #: the reply is a checkpoint too, but a full save: the fold, in ``saves``).
        self.checkpoints: list[float] = []
        self.appends: list[float] = []  # wall time of each journal append + fsync
        self.journal_bytes = 0

    def __enter__(self) -> WriteCounter:
        counter = self
        original_write = self.original_write
        original_save = self.original_save
        original_checkpoint = self.original_checkpoint
        original_append = self.original_append

        def _atomic_write(path: Path, data: Any, *args: Any, **kwargs: Any) -> Any:
            folder = Path(path).parent.name
            # The store writes the index in chunks: count them as they are written.
            chunks = [data] if isinstance(data, bytes) else list(data)
            size = sum(len(chunk) for chunk in chunks)
            counter.bytes[folder] = counter.bytes.get(folder, 0) + size
            if folder == "conversations":
                counter.conversation_writes.append((time.monotonic(), size))
            return original_write(path, chunks, *args, **kwargs)

        def save(store: Any, conv: Any) -> None:
            start = time.perf_counter()
            cpu = time.thread_time()
            try:
                original_save(store, conv)
            finally:
                counter.saves.append(time.perf_counter() - start)
                counter.save_cpu.append(time.thread_time() - cpu)

        def checkpoint(store: Any, conv: Any, message: Any) -> int:
            from llmchat_tui.models import Status

            streaming = message.status is Status.STREAMING
            start = time.perf_counter()
            try:
                if counter.legacy:
                    store.save(conv)
                    return 0
                written: int = original_checkpoint(store, conv, message)
                return written
            finally:
                if streaming:
                    counter.checkpoints.append(time.perf_counter() - start)

        def append(journal: Any, messages: Any) -> int:
            start = time.perf_counter()
            written: int = original_append(journal, messages)
            counter.appends.append(time.perf_counter() - start)
            counter.journal_bytes += written
            counter.conversation_writes.append((time.monotonic(), written))
            return written

        self.module._atomic_write = _atomic_write
        self.store_cls.save = save  # type: ignore[method-assign]
        self.store_cls.checkpoint = checkpoint  # type: ignore[method-assign]
        self.journal_cls.append = append  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.module._atomic_write = self.original_write
        self.store_cls.save = self.original_save  # type: ignore[method-assign]
        self.store_cls.checkpoint = self.original_checkpoint  # type: ignore[method-assign]
        self.journal_cls.append = self.original_append  # type: ignore[method-assign]


async def b7_stream(
    base_url: str,
    data: Path,
    conv_id: str | None,
    n: int,
    *,
    profile: bool = False,
    legacy: bool = False,
) -> dict[str, Any]:
    """Stream ``n`` deltas at 1,000/s into a conversation; count what the store writes.

    ``legacy``: checkpoints are full saves every second, as before the journal.
    """
    from llmchat_tui.generation import Generation
    from llmchat_tui.widgets.sidebar import Sidebar

    app = build_app(base_url, data)
    defaults = Generation.__init__.__kwdefaults__
    assert defaults is not None
    interval = defaults["checkpoint_interval"]
    if legacy:
        defaults["checkpoint_interval"] = 1.0
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            if conv_id is not None:
                app.chat.post_message(Sidebar.ConversationSelected(conv_id))
                await wait_until(lambda: app.chat.conversation.id == conv_id)
                await pilot.pause()
            with WriteCounter(legacy=legacy) as counter, StallMeter() as stall:
                generation, meter = await app_reply(
                    app, pilot, spec(n, rate=1000, burst=1), profile=profile
                )
    finally:
        defaults["checkpoint_interval"] = interval
    reply_bytes = len(generation.text().encode())
    written = counter.bytes.get("conversations", 0)
    # While the reply streamed: from its first token until it ended (before the fold).
    first, ended = generation.first_token_at, generation.ended_at
    during = sum(size for at, size in counter.conversation_writes if first <= at < ended)
    folds = [size for at, size in counter.conversation_writes if at >= ended]
    return {
        "streaming_s": ended - first,
        "reply_bytes": reply_bytes,
        "written_while_streaming": during,
        "amplification": during / reply_bytes,
        "fold_bytes": sum(folds),
        "journal_bytes": counter.journal_bytes,
        "checkpoints": len(counter.checkpoints),
        "checkpoint_max_ms": max(counter.checkpoints) * 1000 if counter.checkpoints else None,
        "checkpoint_p50_ms": median(counter.checkpoints) * 1000 if counter.checkpoints else None,
        "appends": len(counter.appends),
        "append_ms": [a * 1000 for a in counter.appends],
        "append_max_ms": max(counter.appends) * 1000 if counter.appends else None,
        "append_p50_ms": median(counter.appends) * 1000 if counter.appends else None,
        "seconds": meter.wall,
        "written_bytes": written,
        "index_bytes": counter.bytes.get(data.name, 0),
        "bytes_per_s": written / meter.wall,
        "reply_bytes_per_s": reply_bytes / meter.wall,
        "saves": len(counter.saves),
        "save_p50_ms": median(counter.saves) * 1000,
        "save_max_ms": max(counter.saves) * 1000 if counter.saves else None,
        "save_cpu_p50_ms": median(counter.save_cpu) * 1000,
        "save_cpu_max_ms": max(counter.save_cpu) * 1000 if counter.save_cpu else None,
        "gc_s": meter.gc,
        "gc_collections": meter.collections,
        "loop_stall_max_ms": stall.max_gap * 1000,
        "cpu_share": meter.cpu / meter.wall,
    }


async def b7(cfg: Config) -> list[dict[str, Any]]:
    import datagen

    from llmchat_tui.store import Store, atomic_write_bytes, encode_conversation

    target = cfg.pick(5_000_000, 2_000_000)
    reps = 10
    n = cfg.pick(5000, 2000)
    warm_encodings()
    data = cfg.tmp / "b7-data"
    store = Store(data)
    store.open()
    big = datagen.conversation_of_size(target_bytes=target, seed=7)
    store.save(big)
    raw = encode_conversation(big)
    saves, writes, encodes = [], [], []
    for _ in range(reps):
        with Meter() as meter:
            atomic_write_bytes(data / "raw-baseline.bin", raw)
        writes.append(meter.wall)
        with profiled(), Meter() as meter:
            store.save(big)
        saves.append(meter.wall)
        with Meter() as meter:
            encode_conversation(big)
        encodes.append(meter.wall)
    with ServerProcess() as server:
        fresh = await b7_stream(server.base_url, data, None, n)
        large = await b7_stream(server.base_url, data, big.id, n, profile=True)
    save_ms = median(saves) * 1000
    details = {
        "bytes": len(raw),
        "messages": len(big.messages),
        "save_ms": [s * 1000 for s in saves],
        "raw_write_ms": [w * 1000 for w in writes],
        "encode_ms": median(encodes) * 1000,
        "stream_fresh": fresh,
        "stream_large": large,
    }
    return [
        row(
            "B7",
            f"store.save() of a {len(raw) / 1e6:.1f} MB conversation (median of {reps})",
            save_ms,
            "ms",
            baseline=median(writes) * 1000,
            baseline_label="atomic_write_bytes of the same bytes (write+fsync+rename)",
            target="<= 50 ms",
            passed=save_ms <= 50,
            details=details,
        ),
        row(
            "B7",
            f"checkpoint while streaming into it at 1,000 tok/s (max of {large['checkpoints']})",
            large["checkpoint_max_ms"],
            "ms",
            baseline=fresh["checkpoint_max_ms"],
            baseline_label="same stream into a new conversation",
            target="<= 50 ms",
            passed=large["checkpoint_max_ms"] <= 50,
        ),
        row(
            "B7",
            f"bytes written/s to conversations/ for a 1,000 tok/s reply (with the save "
            f"before it and the fold after it), {len(raw) / 1e6:.1f} MB conversation",
            large["bytes_per_s"] / 1e6,
            "MB/s",
            baseline=large["reply_bytes_per_s"] / 1e6,
            baseline_label="bytes/s of the reply text itself",
        ),
        row(
            "B7",
            "bytes written/s while streaming 1,000 tok/s, new conversation",
            fresh["bytes_per_s"] / 1e6,
            "MB/s",
            baseline=fresh["reply_bytes_per_s"] / 1e6,
            baseline_label="bytes/s of the reply text itself",
        ),
    ]


def journal_alone(path: Path, count: int) -> list[float]:
    """Seconds of each of ``count`` journal appends of ~1 KB (200 ms of a 1,000 tok/s
    reply), 200 ms apart, with nothing else running: what the disk alone costs."""
    from llmchat_tui.journal import Journal
    from llmchat_tui.models import Message, Status

    message = Message(role="assistant", status=Status.STREAMING)
    journal = Journal(path)
    journal.prepare()  # as the save before a request does
    times = []
    for n in range(count):
        message.content += "".join(f"word{n}-{i} " for i in range(100))
        start = time.perf_counter()
        journal.append([message])
        times.append(time.perf_counter() - start)
        time.sleep(0.2)
    journal.reset({})
    return times


async def b7b(cfg: Config) -> list[dict[str, Any]]:
    """Append-only checkpoints (issue #13): what streaming into a big conversation writes."""
    import datagen

    from llmchat_tui.store import Store

    target = cfg.pick(5_000_000, 2_000_000)
    n = cfg.pick(5000, 2000)
    warm_encodings()
    data = cfg.tmp / "b7b-data"
    store = Store(data)
    store.open()
    big = datagen.conversation_of_size(target_bytes=target, seed=7)
    store.save(big)
    size = store.path_for(big.id).stat().st_size
    store.close()
    alone = journal_alone(data / "alone.journal", cfg.pick(25, 10))
    with ServerProcess() as server:
        legacy = await b7_stream(server.base_url, data, big.id, n, legacy=True)
        journal = await b7_stream(server.base_url, data, big.id, n)
    mb = f"{size / 1e6:.1f} MB"
    return [
        row(
            "B7b",
            f"bytes written per byte of reply while streaming 1,000 tok/s into a {mb} conversation",
            journal["amplification"],
            "x",
            baseline=legacy["amplification"],
            baseline_label="same stream, a full save every 1 s (before #13)",
            target="<= 5x",
            passed=journal["amplification"] <= 5,
            details={"journal": journal, "legacy": legacy, "bytes": size},
        ),
        row(
            "B7b",
            f"checkpoint: longest journal append + fsync (of {journal['appends']})",
            journal["append_max_ms"],
            "ms",
            baseline=legacy["checkpoint_max_ms"],
            baseline_label="longest full-save checkpoint, same stream (before #13)",
            target="<= 20 ms",
            passed=journal["append_max_ms"] <= 20,
        ),
        row(
            "B7b",
            "Store.checkpoint call, longest (append + fsync + waiting for the store's lock)",
            journal["checkpoint_max_ms"],
            "ms",
            baseline=journal["append_p50_ms"],
            baseline_label="median journal append + fsync",
        ),
        row(
            "B7b",
            f"journal append + fsync alone (no app running), longest of {len(alone)}",
            max(alone) * 1000,
            "ms",
            baseline=median(alone) * 1000,
            baseline_label="median of the same (the disk's own tail)",
        ),
        row(
            "B7b",
            f"fold at the end of the reply (one full save of the {mb} file)",
            journal["fold_bytes"] / 1e6,
            "MB",
            baseline=journal["reply_bytes"] / 1e6,
            baseline_label="the reply's own bytes",
        ),
    ]


# --------------------------------------------------------------------------- B11


async def b11(cfg: Config) -> list[dict[str, Any]]:
    """Start-up of the real command in a pty, imports included (see startup.py)."""
    import startup

    count = cfg.pick(100_000, 10_000)
    result = startup.run(count, cfg.pick(3, 1), cfg.tmp)
    runs = result["runs"]

    def med(kind: str, key: str) -> float:
        return median([r[key] for r in runs[kind]])

    bare = med("bare", "first_frame_s")
    bare_label = "bare Textual app (TextArea+Footer), python -c to first frame"
    rss_label = "peak RSS of the bare Textual app"
    bare_rss = med("bare", "rss_mb")
    empty = med("empty", "first_frame_s")
    return [
        row(
            "B11",
            "start-up, empty data folder: process start -> first frame",
            empty,
            "s",
            baseline=bare,
            baseline_label=bare_label,
            target="<= 2x bare Textual",
            passed=empty <= 2 * bare,
            details=result,
        ),
        row(
            "B11",
            f"start-up, {count:,} conversations with index: first frame, sidebar listed",
            med("index", "listed_s"),
            "s",
            baseline=bare,
            baseline_label=bare_label,
            target="<= 1.0 s",
            passed=med("index", "listed_s") <= 1.0,
        ),
        row(
            "B11",
            f"peak RSS, {count:,} conversations with index (settled)",
            med("index", "rss_mb"),
            "MB",
            baseline=bare_rss,
            baseline_label=rss_label,
            target="<= 200 MB",
            passed=med("index", "rss_mb") <= 200,
        ),
        row(
            "B11",
            f"start-up, {count:,} conversations, no index.json: first frame (prompt usable)",
            med("noindex", "first_frame_s"),
            "s",
            baseline=bare,
            baseline_label=bare_label,
            target="<= 1.0 s",
            passed=med("noindex", "first_frame_s") <= 1.0,
        ),
        row(
            "B11",
            f"start-up, {count:,} conversations, no index.json: sidebar lists all",
            med("noindex", "listed_s"),
            "s",
            baseline=bare,
            baseline_label=bare_label,
        ),
        row(
            "B11",
            f"peak RSS, {count:,} conversations, no index.json (settled)",
            med("noindex", "rss_mb"),
            "MB",
            baseline=bare_rss,
            baseline_label=rss_label,
            target="<= 200 MB",
            passed=med("noindex", "rss_mb") <= 200,
        ),
        row(
            "B11",
            "peak RSS, empty data folder (settled)",
            med("empty", "rss_mb"),
            "MB",
            baseline=bare_rss,
            baseline_label=rss_label,
        ),
    ]


SUITES = {
    "B1": b1,
    "B2": b2,
    "B3": b3,
    "B4": b4,
    "B5": b5,
    "B5B": b5b,
    "B6": b6,
    "B7": b7,
    "B7B": b7b,
    "B9": b9,
    "B11": b11,
}
