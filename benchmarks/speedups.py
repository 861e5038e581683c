"""Does the optional ``[fast]`` extra (textual-speedups) help? A/B in one run.

    pip install -e '.[fast]'
    python benchmarks/speedups.py [--rounds 3] [--messages 400]

Each round runs the same work twice in fresh child processes, once with
``TEXTUAL_SPEEDUPS=0`` and once with ``=1`` (the order alternates): open a saved
conversation of ``--messages`` messages, then page up through it to the top with
PageUp, as a reader would. It prints the medians and the ratio; only the ratio
means much on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import asyncio, json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from common import setup_env
tmp = Path(sys.argv[2])
setup_env(tmp)
from datagen import make_conversation, write_raw
from common import build_app

data = tmp / "data"
conversation = make_conversation(int(sys.argv[3]), seed=3)
write_raw(data, conversation)

async def main() -> None:
    app = build_app("http://127.0.0.1:9/v1", data)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        await pilot.press("ctrl+b", "enter")
        await pilot.pause()
        app.chat.pane.focus()
        for _ in range(int(sys.argv[4])):
            await pilot.press("pageup")
        await pilot.pause()
        elapsed = time.perf_counter() - start
    from textual import geometry
    print(json.dumps({"seconds": elapsed, "rust": geometry.Region.__module__}))

asyncio.run(main())
"""


def run(speedups: bool, messages: int, presses: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TEXTUAL_SPEEDUPS="1" if speedups else "0")
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(HERE), tmp, str(messages), str(presses)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--presses", type=int, default=120)
    args = parser.parse_args()
    times: dict[bool, list[float]] = {False: [], True: []}
    modules: dict[bool, object] = {}
    for round_ in range(args.rounds):
        for speedups in (False, True) if round_ % 2 == 0 else (True, False):
            result = run(speedups, args.messages, args.presses)
            times[speedups].append(float(result["seconds"]))  # type: ignore[arg-type]
            modules[speedups] = result["rust"]
    if modules.get(True) == modules.get(False):
        print(f"textual-speedups is not installed (geometry from {modules[True]})")
    off, on = statistics.median(times[False]), statistics.median(times[True])
    each = {k: ", ".join(f"{t:.2f}" for t in v) for k, v in times.items()}
    print(f"without speedups: {off:.2f} s  ({each[False]})")
    print(f"with speedups:    {on:.2f} s  ({each[True]})")
    print(f"ratio with/without: {on / off:.2f}")


if __name__ == "__main__":
    main()
