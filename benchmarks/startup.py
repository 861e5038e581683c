"""B11: start-up of the real command, imports included, against a bare Textual app.

Every start is a fresh ``python -m llmchat_tui`` in a real pseudo-terminal
(``tests/terminal.py``: 120x40, output rendered by ``pyte`` in this process); the
clock runs from just before the process is spawned to the moment this process
reads the frame off the terminal. So the figure holds the interpreter's start,
every import, reading the configuration, opening the store, building the app,
the first layout and writing the frame to the terminal, as a user waits for it.

The baseline is ``python -c`` with a bare Textual app (a ``TextArea`` and a
``Footer``) started the same way, interleaved with the app's starts. Peak RSS is
``VmHWM`` of the process (``/proc/<pid>/status``) once start-up settled: 1.5 s
after the sidebar listed everything (the token encodings load in a thread then).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))

from terminal import Terminal

#: The bare Textual app of the baseline: what any Textual app needs for a prompt.
BARE_APP = """
from textual.app import App
from textual.widgets import Footer, TextArea

class Bare(App):
    def compose(self):
        yield TextArea()
        yield Footer()

Bare().run()
"""

#: Text of a complete frame: the prompt's placeholder and the footer's right end.
PROMPT = "Message (Enter to send"
FOOTER = "alette"  # "^p Palette" (the app) or "^p palette" (bare Textual)
MESSAGES = 8  # per synthetic conversation (about 7 KB each)
SETTLE_S = 1.5
#: What the sidebar shows while it reads conversation files in the background.
BUSY = "Reading conversations"  # app.READING


def _poll(term: Terminal, predicate: Callable[[str], bool], start: float, timeout: float) -> float:
    """Seconds from ``start`` until the screen satisfies ``predicate`` (polled every 2 ms)."""
    deadline = start + timeout
    while True:
        if predicate(term.screen_text()):
            return time.perf_counter() - start
        if term.proc.poll() is not None:
            raise RuntimeError(f"B11: the program exited:\n{term.screen_text()}")
        if time.perf_counter() > deadline:
            raise TimeoutError(f"B11: timed out; screen:\n{term.screen_text()}")
        time.sleep(0.002)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_once(
    argv: list[str],
    ready: Callable[[str], bool],
    listed: Callable[[str], bool] | None = None,
    timeout: float = 120,
) -> dict[str, Any]:
    """One start: seconds to the first frame (``ready``), to ``listed`` (the sidebar
    shows every conversation; default: the same frame) and the settled peak RSS."""
    env = dict(os.environ)
    start = time.perf_counter()
    with Terminal(argv, env=env) as term:
        first = _poll(term, ready, start, timeout)
        rss_first = _peak_rss_mb(term.pid)
        full = _poll(term, listed, start, timeout) if listed is not None else first
        time.sleep(SETTLE_S)
        rss = _peak_rss_mb(term.pid)
    return {"first_frame_s": first, "listed_s": full, "rss_first_mb": rss_first, "rss_mb": rss}


def app_argv(data: Path) -> list[str]:
    """The command a user types (``python -m`` of this interpreter, no config file)."""
    return [
        sys.executable,
        "-m",
        "llmchat_tui",
        "--data-dir",
        str(data),
        "--base-url",
        "http://127.0.0.1:9/v1",  # nothing listens: the start-up probe fails at once
        "--model",
        "gpt-4o-mini",
    ]


def app_ready(screen: str) -> bool:
    return PROMPT in screen and FOOTER in screen


def sidebar_listed(newest_title: str) -> Callable[[str], bool]:
    """The newest conversation is the sidebar's first row, and the sidebar does not
    say it is still reading conversation files (``BUSY``)."""
    title = newest_title[:20]

    def check(screen: str) -> bool:
        return app_ready(screen) and title in screen and BUSY not in screen

    return check


def make_data(folder: Path, count: int) -> tuple[str, int]:
    """``count`` synthetic conversations; returns (newest title, bytes written)."""
    import datagen

    from llmchat_tui.store import Store

    total = datagen.write_many(folder, count, messages=MESSAGES)
    store = Store(folder)
    store.open()
    newest = store.summaries()[0].title
    store.close()
    return newest, total


def compile_sources() -> None:
    """Write the bytecode of ``src/`` as ``pip install`` does for an installed copy.

    Without it an editable install under ``PYTHONDONTWRITEBYTECODE=1`` (this
    machine's environment) compiles every module of the app at every start,
    ~0.2 s that no installed copy pays, while Textual's bytecode is in site-packages.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "src"), quiet=1)


def run(count: int, reps: int, tmp: Path) -> dict[str, Any]:
    """Interleaved starts: bare app, empty folder, ``count`` with index, without."""
    from llmchat_tui.store import Store

    compile_sources()
    data = tmp / "b11-data"
    empty = tmp / "b11-empty"
    t = time.perf_counter()
    newest, total = make_data(data, count)
    print(
        f"  B11: wrote {count:,} conversations ({total / 1e6:,.0f} MB) "
        f"in {time.perf_counter() - t:.1f} s",
        file=sys.stderr,
    )
    listed = sidebar_listed(newest)
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "empty": [], "index": [], "noindex": []}
    for rep in range(reps):
        runs["bare"].append(start_once([sys.executable, "-c", BARE_APP], lambda s: FOOTER in s))
        shutil.rmtree(empty, ignore_errors=True)
        runs["empty"].append(start_once(app_argv(empty), app_ready))
        Store(data).open()  # a fresh, complete index
        runs["index"].append(start_once(app_argv(data), app_ready, listed))
        (data / "index.json").unlink()
        runs["noindex"].append(start_once(app_argv(data), app_ready, listed))
        print(
            "  B11 rep {}: bare {:.3f} s, empty {:.3f} s, index {:.3f}/{:.3f} s, "
            "no index {:.3f}/{:.3f} s".format(
                rep + 1,
                runs["bare"][-1]["first_frame_s"],
                runs["empty"][-1]["first_frame_s"],
                runs["index"][-1]["first_frame_s"],
                runs["index"][-1]["listed_s"],
                runs["noindex"][-1]["first_frame_s"],
                runs["noindex"][-1]["listed_s"],
            ),
            file=sys.stderr,
        )
    shutil.rmtree(data, ignore_errors=True)
    return {"conversations": count, "bytes": total, "messages_each": MESSAGES, "runs": runs}
