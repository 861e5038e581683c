"""The loopback OpenAI-compatible server of the benchmarks, in its own process.

Runs ``tests/openai_server.py``'s :class:`OpenAIServer` so that the app's CPU time is
measured alone. Prints ``PORT <n>`` on stdout once it listens, and serves until its
stdin closes (the parent exiting closes it, so it never outlives the benchmark).

What it answers is chosen by the last user message of each request: a message
containing ``bench`` and ``key=value`` words, e.g. ``bench n=6000 rate=3000 burst=3
seed=1``, streams exactly ``n`` deltas of :func:`content.markdown_tokens` (``n, seed``):

* ``rate=0`` (default): at full speed (``Reply(delay=0)``);
* ``rate=R burst=B``: paced at ``R`` deltas per second, sent in bursts of ``B`` deltas
  at absolute deadlines (``start + k*B/R``), so sleep overshoot does not accumulate
  (the test server's ``delay`` sleeps relative to the previous chunk instead);
* ``mark=1``: :func:`content.marked_tokens` instead (every word is ``x<index>``);
* ``big=S``: one single delta of about ``S`` characters of Markdown
  (:func:`content.huge_text`) instead of ``n`` deltas;
* ``fence=L close=K``: a code fence of ``L`` lines, one delta per line, never closed
  (``close=K``: closed and reopened every ``K`` lines) (:func:`content.fence_lines`).

Any other message gets the test server's default echo.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from content import fence_lines, huge_text, markdown_tokens, marked_tokens  # noqa: E402

import openai_server  # noqa: E402  (tests/openai_server.py)
from openai_server import OpenAIServer, Recorded, Reply, echo_reply, last_user_text  # noqa: E402

_SPEC_RE = re.compile(r"\b([a-z]+)=([0-9.]+)")


@dataclass
class PacedReply(Reply):
    """A reply sent at ``rate`` deltas/s in bursts of ``burst`` (absolute deadlines)."""

    rate: float = 0.0
    burst: int = 1


def parse_spec(text: str) -> dict[str, float] | None:
    """The ``key=value`` numbers of a ``bench`` message, or None for other messages."""
    if "bench" not in text:
        return None
    return {key: float(value) for key, value in _SPEC_RE.findall(text)}


def build_reply(request: Recorded) -> Reply:
    spec = parse_spec(last_user_text(request.body))
    if spec is None:
        return echo_reply(request)
    n = int(spec.get("n", 1000))
    seed = int(spec.get("seed", 0))
    rate = spec.get("rate", 0.0)
    tokens = marked_tokens if spec.get("mark") else markdown_tokens
    if spec.get("big"):
        content = [huge_text(int(spec["big"]), seed)]
    elif spec.get("fence"):
        content = fence_lines(int(spec["fence"]), int(spec.get("close", 0)))
    else:
        content = list(tokens(n, seed))
    if rate > 0:
        # ``delay`` must be non-zero for the handler to call _wait() between chunks.
        return PacedReply(
            content=content, delay=1 / rate, rate=rate, burst=int(spec.get("burst", 1))
        )
    return Reply(content=content)


_plain_wait = openai_server._Handler._wait


def _paced_wait(self: Any, seconds: float, record: Any) -> bool:
    """``_Handler._wait`` for :class:`PacedReply`: sleep until the burst's deadline."""
    reply = record.reply if record is not None else None
    if not isinstance(reply, PacedReply) or reply.rate <= 0:
        return _plain_wait(self, seconds, record)
    sent = record.chunks_sent
    start = getattr(record, "pace_start", None)
    if start is None:
        start = record.pace_start = time.perf_counter() - sent / reply.rate
    burst = max(1, reply.burst)
    due = start + (sent // burst) * burst / reply.rate
    delay = due - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    return not self.app._stopping.is_set()


def main() -> int:
    openai_server._Handler._wait = _paced_wait
    server = OpenAIServer()
    server.default_reply = build_reply
    server.start()
    # Warm the content cache for the common sizes before the first request.
    threading.Thread(target=lambda: [markdown_tokens(n) for n in (6000, 4000)], daemon=True).start()
    sys.stdout.write(f"PORT {server.port}\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()  # returns when the parent closes our stdin (or exits)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
