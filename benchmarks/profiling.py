"""Profiling for the benchmarks: where the main thread's time goes.

Two profilers feed the same report:

* ``sampler`` (default): a ``SIGALRM`` timer interrupts the main thread every
  millisecond of wall time and records its Python stack (:class:`Sampler`). It
  costs nothing per function call, so it does not inflate code that makes many
  small calls (pyinstrument's ``setprofile`` hook does: on this app it roughly
  halves throughput and shifts shares towards deep, call-heavy code); and unlike a
  sampling *thread*, it is not biased towards the places where the main thread
  releases the GIL (I/O calls), which would otherwise collect the time of the
  computation around them.
* ``pyinstrument`` (``pip install pyinstrument``): its frame tree is turned into the
  same stacks; also writes pyinstrument's own text tree.

Only the main thread (the event loop) is sampled: work in other threads, such as the
``asyncio.to_thread`` saves, is not seen here. Samples whose innermost frame is
``selectors.select`` are the loop waiting: they count as idle and are left out, so
percentages are shares of the *busy* time of the profiled blocks.

The report has three parts:

* **where the time goes**: each busy sample goes to the first landmark of
  :data:`BUCKETS` (in list order) found anywhere on its stack, so the buckets add up
  to 100 % and do not overlap;
* **self time** per ``file:function``, with the function that called it and the
  nearest caller in another package;
* **inclusive time** of project and library functions.
"""

from __future__ import annotations

import sys
import sysconfig
import threading
import time
from collections import defaultdict
from typing import Any

IDLE_FUNCTIONS = {"selectors.py:select"}

#: (key prefix, label), in priority order: a sample goes to the first one on its stack.
BUCKETS: list[tuple[str, str]] = [
    # The benchmarks' gc.callbacks hook (common.Meter) is the first Python code to run
    # after a collection, so the sample that waited out a GC pause lands on it.
    ("benchmarks/common.py:_gc_callback", "cyclic garbage collector (gc pauses)"),
    ("weakref.py:remove", "freeing objects (weakref callbacks of dead widgets/objects)"),
    ("llmchat_tui/widgets/status_bar.py:", "status bar (10 Hz timer while streaming)"),
    ("llmchat_tui/generation.py:_checkpoint_loop", "checkpoint loop (copy + save reply)"),
    ("llmchat_tui/generation.py:_final_save", "final save of the reply"),
    ("llmchat_tui/generation.py:completion_tokens", "token counting of the reply (tiktoken)"),
    ("llmchat_tui/llm/client.py:stream", "reading the stream: openai SDK parse + ChatClient"),
    ("llmchat_tui/generation.py:_token", "Generation._token (per delta)"),
    ("llmchat_tui/session.py:open", "session.open (load + clean a conversation)"),
    ("llmchat_tui/session.py:prompt_estimate", "session.prompt_estimate"),
    ("llmchat_tui/store.py:", "store (files, index, JSON)"),
    ("llmchat_tui/widgets/sidebar.py:", "sidebar (rows, OptionList)"),
    ("llmchat_tui/widgets/messages.py:_load_older", "MessagePane._load_older (older batch)"),
    ("llmchat_tui/widgets/messages.py:show", "MessagePane.show (mount a conversation)"),
    ("textual/widgets/_markdown.py:await_append", "Markdown.append: parse + update + mount blocks"),
    ("textual/widgets/_markdown.py:append", "Markdown.append, synchronous part"),
    ("llmchat_tui/widgets/messages.py:_follow", "follower loop (messages.py:_follow)"),
    ("textual/screen.py:_compositor_refresh", "frame composition (render_update)"),
    ("textual/screen.py:_refresh_layout", "screen layout (reflow/arrange of all widgets)"),
    ("textual/app.py:_register", "registering new widgets (CSS applied)"),
    ("textual/widget.py:_on_compose", "composing new widgets"),
    ("textual/widget.py:mount", "mounting widgets"),
    ("textual/widgets/_text_area.py:", "TextArea (prompt)"),
    ("textual/widgets/_option_list.py:", "OptionList"),
    ("llmchat_tui/tokens.py:", "tiktoken counting"),
    ("rich/markdown.py:", "Rich Markdown (finished messages)"),
    ("textual/css/", "CSS (styles, stylesheet)"),
    ("textual/_compositor.py:", "compositor (other)"),
    ("textual/message_pump.py:", "other Textual message processing"),
    ("benchmarks/", "benchmark driver (not the app)"),
    ("textual/pilot.py:", "benchmark driver (not the app)"),
    ("<built-in>:collect", "gc.collect (benchmark driver)"),
    ("asyncio/", "asyncio loop"),
]

_STDLIB = sysconfig.get_paths()["stdlib"]


def short_path(path: str | None) -> str:
    if not path:
        return "?"
    for marker in ("site-packages/", "/src/", "/benchmarks/"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return "benchmarks/" + tail if marker == "/benchmarks/" else tail
    if path.startswith(_STDLIB):
        return path[len(_STDLIB) :].lstrip("/")
    return path.rsplit("/", 1)[-1]


def is_stdlib(key: str) -> bool:
    return key.startswith(("<", "asyncio/")) or "/" not in key.split(":", 1)[0]


def _package(key: str) -> str:
    path = key.split(":", 1)[0]
    return path.split("/", 1)[0]


# --------------------------------------------------------------------------- profilers


class Sampler:
    """A low-overhead sampling profiler of the main thread (see the module docstring).

    ``SIGALRM`` fires every ``interval`` seconds of wall time (``setitimer``); the
    handler records the interrupted Python stack. Python runs a signal handler at the
    next bytecode boundary of the main thread, so time spent inside a C call (a
    ``json.loads``, a ``stat``, a GC pause) is charged, once the call returns, to the
    Python frame that made it: each sample is weighted by the wall time since the
    previous one. Waiting in ``select`` is sampled too (and reported as idle).
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.counts: dict[tuple[Any, ...], float] = defaultdict(float)
        self.wall = 0.0
        self._last = 0.0
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        now = time.perf_counter()
        weight, self._last = now - self._last, now
        stack = []
        while frame is not None:
            stack.append(frame.f_code)
            frame = frame.f_back
        if stack and stack[0] is Sampler._handler.__code__:
            del stack[0]  # a signal that arrived while the handler itself ran
        self.counts[tuple(stack)] += weight  # innermost first

    def start(self) -> None:
        import signal

        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the sampler runs in the main thread only")
        self._started = self._last = time.perf_counter()
        self._previous = signal.signal(signal.SIGALRM, self._handler)
        signal.setitimer(signal.ITIMER_REAL, self.interval, self.interval)

    def stop(self) -> None:
        import signal

        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, self._previous or signal.SIG_DFL)
        self.wall += time.perf_counter() - self._started

    def stacks(self) -> list[tuple[list[str], float]]:
        keys: dict[Any, str] = {}

        def key(code: Any) -> str:
            found = keys.get(code)
            if found is None:
                found = keys[code] = f"{short_path(code.co_filename)}:{code.co_name}"
            return found

        return [([key(c) for c in reversed(stack)], w) for stack, w in self.counts.items()]


def pyinstrument_stacks(session: Any) -> list[tuple[list[str], float]]:
    """pyinstrument's frame tree as (stack outermost first, self seconds) pairs."""
    root = session.root_frame()
    out: list[tuple[list[str], float]] = []
    if root is None:
        return out
    work: list[tuple[Any, list[str]]] = [(root, [])]
    while work:
        frame, chain = work.pop()
        stack = [*chain, f"{short_path(frame.file_path)}:{frame.function}"]
        if frame.total_self_time:
            out.append((stack, frame.total_self_time))
        for child in frame.children:
            if not child.is_synthetic:
                work.append((child, stack))
    return out


# --------------------------------------------------------------------------- analysis


def _bucket(stack: list[str]) -> str:
    for prefix, label in BUCKETS:
        for key in stack:
            if key.startswith(prefix):
                return label
    return "other"


LOOP_CALLBACK = "asyncio/events.py:_run"


def trim(stack: list[str]) -> list[str]:
    """The part of a stack above the event loop's current callback (``Handle._run``).

    Below it are only the loop and the benchmark's ``asyncio.run``; above it is the
    task step or callback that is running (a widget's message loop, a worker, ...).
    """
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] == LOOP_CALLBACK:
            return stack[i + 1 :] or stack[i:]
    return stack


def analyse(stacks: list[tuple[list[str], float]]) -> dict[str, Any]:
    self_time: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)
    buckets: dict[str, float] = defaultdict(float)
    parents: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    outside: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    total = idle = 0.0
    for full, weight in stacks:
        if not full:
            continue
        total += weight
        leaf = full[-1]
        stack = trim(full)
        if leaf in IDLE_FUNCTIONS:
            idle += weight
            continue
        self_time[leaf] += weight
        buckets[_bucket(stack)] += weight
        for key in set(stack):
            inclusive[key] += weight
        for caller in reversed(stack[:-1]):
            if caller != leaf:
                parents[leaf][caller] += weight
                break
        package = _package(leaf)
        for caller in reversed(stack[:-1]):
            if not is_stdlib(caller) and _package(caller) != package:
                outside[leaf][caller] += weight
                break
    return {
        "total": total,
        "idle": idle,
        "busy": max(total - idle, 1e-9),
        "self": dict(self_time),
        "inclusive": dict(inclusive),
        "buckets": dict(buckets),
        "parents": {k: dict(v) for k, v in parents.items()},
        "outside": {k: dict(v) for k, v in outside.items()},
    }


def report(stacks: list[tuple[list[str], float]], title: str, top: int = 25) -> str:
    data = analyse(stacks)
    busy = data["busy"]

    def pct(value: float) -> str:
        return f"{100 * value / busy:5.1f} %  {value:7.3f} s"

    lines = [
        f"# {title}",
        f"sampled {data['total']:.2f} s of the main thread; idle (waiting in select) "
        f"{data['idle']:.2f} s; percentages are of the busy {busy:.2f} s",
        "",
        "## where the time goes (first landmark on the stack, in priority order)",
    ]
    for label, value in sorted(data["buckets"].items(), key=lambda kv: -kv[1]):
        if value / busy >= 0.002:
            lines.append(f"{pct(value)}  {label}")
    lines += ["", "## self time (called from / nearest caller in another package)"]
    for key, value in sorted(data["self"].items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{pct(value)}  {key}")
        shown = set()
        for table in (data["parents"], data["outside"]):
            via = sorted(table.get(key, {}).items(), key=lambda kv: -kv[1])[:2]
            for caller, spent in via:
                if caller not in shown and spent / busy >= 0.002:
                    shown.add(caller)
                    lines.append(f"{'':24}<- {caller} ({100 * spent / busy:.1f} %)")
    lines += ["", "## inclusive time (project, Textual, Rich, markdown-it, SDK, json, tiktoken)"]
    interesting = (
        "llmchat_tui/",
        "textual/",
        "rich/",
        "markdown_it/",
        "openai/",
        "httpx",
        "json/",
        "tiktoken/",
    )
    generic = ("textual/_callback.py", "textual/message_pump.py", "textual/worker.py")
    count = 0
    for key, value in sorted(data["inclusive"].items(), key=lambda kv: -kv[1]):
        if not key.startswith(interesting) or key.startswith(generic):
            continue
        lines.append(f"{pct(value)}  {key}")
        count += 1
        if count >= top * 2:
            break
    return "\n".join(lines) + "\n"


def save_stacks(stacks: list[tuple[list[str], float]], path: Any) -> None:
    """Write the stacks as gzipped JSON (re-read with ``python profiling.py FILE``)."""
    import gzip
    import json

    with gzip.open(path, "wt") as handle:
        json.dump(stacks, handle)


def load_stacks(path: Any) -> list[tuple[list[str], float]]:
    import gzip
    import json

    with gzip.open(path, "rt") as handle:
        return [(list(stack), float(weight)) for stack, weight in json.load(handle)]


if __name__ == "__main__":
    # python benchmarks/profiling.py results/profile-B1.stacks.json.gz [top]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    print(report(load_stacks(sys.argv[1]), sys.argv[1], top))
