"""B13: typing while four models stream side by side (issue #14's compare).

One message goes to four models of a compare (the benchmark server answers each
with the same paced stream); the four replies stream at once, in four columns of
the open conversation, while a letter is typed into the prompt every 100 ms after
the previous one showed. Then Esc, and the time until all four have stopped.
Baseline: the same typing while one reply streams at the same rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    SIZE,
    ServerProcess,
    build_app,
    percentile,
    press_nowait,
    profiled,
    send_prompt,
    spec,
    wait_until,
    warm_encodings,
)
from suites import Config, _key_echo, row

MODELS = ["model-a", "model-b", "model-c", "model-d"]


async def typing_while_streaming(
    base_url: str,
    data: Path,
    models: list[str],
    rate: float,
    seconds: float,
    profile: bool = False,
) -> dict[str, Any]:
    """Type a letter every 100 ms for ``seconds`` while ``models`` each stream
    ``rate`` deltas/s (one model: a plain reply); then Esc."""
    n = int(rate * (seconds + 30))  # longer than the window: it never ends on its own
    app = build_app(base_url, data)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        conversation = app.chat.conversation
        if len(models) > 1:
            app.session.set_compare(conversation, models)
            await app.chat.redraw()
        await send_prompt(app, pilot, spec(n, rate=rate, burst=max(1, int(rate / 1000))))
        press_nowait(app, "enter")
        replies = await wait_until(
            lambda: (
                len(app.session.generations_of(conversation.id)) == len(models)
                and app.session.generations_of(conversation.id)
            ),
            timeout=30,
        )
        await wait_until(lambda: all(g.parts for g in replies), timeout=30)
        shown0 = [len(g.parts) for g in replies]
        echoes: list[float] = []
        start = time.perf_counter()
        letters = "abcdefghijklmnopqrstuvwxyz"
        with profiled() if profile else contextlib.nullcontext():
            while time.perf_counter() - start < seconds:
                echoes.append(await _key_echo(app, pilot, letters[len(echoes) % 26]))
                await asyncio.sleep(0.1)
        window = time.perf_counter() - start
        received = sum(len(g.parts) - at for g, at in zip(replies, shown0, strict=True)) / window
        stop_start = time.perf_counter()
        press_nowait(app, "escape")
        await wait_until(lambda: all(g.done.is_set() for g in replies), timeout=60, interval=0.0005)
        stopped = time.perf_counter() - stop_start
        states = sorted({str(g.state) for g in replies})
        await pilot.pause()
    return {
        "echo_s": echoes,
        "stop_s": stopped,
        "states_after_esc": states,
        "parts_per_s_all": received,
    }


async def b13(cfg: Config) -> list[dict[str, Any]]:
    seconds = cfg.pick(20, 5)
    rate = 1000  # deltas/s per model: a fast hosted model
    with ServerProcess() as server:
        warm_encodings()
        four = await typing_while_streaming(
            server.base_url, cfg.tmp / "b13-four", MODELS, rate, seconds, profile=True
        )
        one = await typing_while_streaming(
            server.base_url, cfg.tmp / "b13-one", MODELS[:1], rate, seconds
        )
    print(
        f"  B13: key p99 {percentile(four['echo_s'], 99) * 1000:.0f} ms (one stream "
        f"{percentile(one['echo_s'], 99) * 1000:.0f} ms), Esc {four['stop_s'] * 1000:.0f} ms",
        file=sys.stderr,
    )
    details = {"seconds": seconds, "rate_per_model": rate, "four": four, "one": one}
    label = f"same typing while one reply streams at {rate:,} tok/s"
    return [
        row(
            "B13",
            f"key echo while 4 models stream side by side at {rate:,} tok/s each (p50)",
            percentile(four["echo_s"], 50) * 1000,
            "ms",
            baseline=percentile(one["echo_s"], 50) * 1000,
            baseline_label=label,
            details=details,
        ),
        row(
            "B13",
            "key echo while 4 models stream (p99)",
            percentile(four["echo_s"], 99) * 1000,
            "ms",
            baseline=percentile(one["echo_s"], 99) * 1000,
            baseline_label=label,
            target="<= 50 ms",
            passed=percentile(four["echo_s"], 99) <= 0.05,
        ),
        row(
            "B13",
            "Esc -> all 4 replies stopped",
            four["stop_s"] * 1000,
            "ms",
            baseline=one["stop_s"] * 1000,
            baseline_label="Esc -> the one reply stopped",
            target="<= 100 ms",
            passed=four["stop_s"] <= 0.1,
        ),
        row(
            "B13",
            "deltas read per second, all 4 replies together",
            four["parts_per_s_all"],
            "parts/s",
            baseline=one["parts_per_s_all"],
            baseline_label="the one reply",
        ),
    ]


SUITES = {"B13": b13}
