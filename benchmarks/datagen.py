"""Synthetic saved conversations for the start-up, open, typing and saving benchmarks.

Files are written in exactly the store's format (bytes from
``store.encode_conversation``, mode 0600, ``<data_dir>/conversations/<id>.json``) but
without the per-file fsync of ``Store.save``, so 10,000 of them take seconds.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from content import markdown_text, user_text

from llmchat_tui.models import Conversation, Message, Status, Usage, new_id
from llmchat_tui.store import encode_conversation

MODEL = "gpt-4o-mini"
BASE_URL = "http://127.0.0.1:1/v1"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pool(size: int, tokens: int, seed: int) -> list[str]:
    return [markdown_text(tokens, seed * 1000 + i) for i in range(size)]


def make_conversation(
    messages: int,
    *,
    reply_tokens: int = 120,
    seed: int = 0,
    when: datetime | None = None,
    pool: list[str] | None = None,
) -> Conversation:
    """A conversation of ``messages`` alternating user/assistant messages.

    Replies are Markdown answers of about ``reply_tokens`` deltas (taken from
    ``pool`` when given, else generated); user messages are short questions.
    """
    rng = random.Random(seed)
    when = when or datetime(2025, 1, 1, tzinfo=UTC)
    pool = pool or _pool(min(messages // 2 + 1, 64), reply_tokens, seed)
    conv = Conversation(
        id=new_id(),
        model=MODEL,
        base_url=BASE_URL,
        created_at=_iso(when),
        updated_at=_iso(when + timedelta(minutes=messages)),
    )
    first = user_text(rng)
    for i in range(messages):
        stamp = _iso(when + timedelta(seconds=30 * i))
        if i % 2 == 0:
            text = first if i == 0 else user_text(rng)
            conv.extend([Message(role="user", content=text, created_at=stamp)])
        else:
            conv.extend(
                [
                    Message(
                        role="assistant",
                        content=pool[rng.randrange(len(pool))],
                        status=Status.COMPLETE,
                        created_at=stamp,
                        model=MODEL,
                        finish_reason="stop",
                        ttft_s=0.31,
                        tokens_per_s=87.5,
                        usage=Usage(1200 + i, 150, "server"),
                    )
                ]
            )
    conv.title = first.split(".")[0][:60]
    return conv


def write_raw(data_dir: Path, conv: Conversation) -> int:
    """Write ``conv`` as the store would (no fsync); return the file size."""
    folder = data_dir / "conversations"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = encode_conversation(conv)
    path = folder / f"{conv.id}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return len(data)


def write_many(data_dir: Path, count: int, messages: int = 20) -> int:
    """``count`` conversations of ``messages`` messages each; returns total bytes."""
    pool = _pool(48, 150, 7)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    total = 0
    for i in range(count):
        # Spread over ~3 months, so the sidebar shows dates and relative times.
        when = start + timedelta(minutes=13 * i)
        total += write_raw(data_dir, make_conversation(messages, seed=i, when=when, pool=pool))
    return total


def conversation_of_size(
    target_bytes: int | None = None, target_tokens: int | None = None, *, seed: int = 1
) -> Conversation:
    """A conversation grown pair by pair until it reaches ``target_bytes`` (encoded)
    or ``target_tokens`` (o200k tokens of all message contents)."""
    from llmchat_tui import tokens

    rng = random.Random(seed)
    conv = make_conversation(0, seed=seed)
    conv.title = "A very long conversation"
    size = 0
    count = 0
    i = 0
    while True:
        if target_bytes is not None and size >= target_bytes:
            break
        if target_tokens is not None and count >= target_tokens:
            break
        question = user_text(rng)
        answer = markdown_text(1500, seed * 100_000 + i)
        conv.extend(
            [
                Message(role="user", content=question),
                Message(
                    role="assistant",
                    content=answer,
                    model=MODEL,
                    finish_reason="stop",
                    usage=Usage(1000, 1500, "server"),
                ),
            ]
        )
        size += len(question.encode()) + len(answer.encode()) + 700
        if target_tokens is not None:
            count += tokens.count_text(question, "o200k_base") + tokens.count_text(
                answer, "o200k_base"
            )
        i += 1
    return conv
