"""Deterministic synthetic content for the benchmarks (stdlib only).

* :func:`markdown_text` -- a realistic assistant answer: headings, paragraphs with
  inline code, bold and italics, bullet and numbered lists, fenced code blocks,
  tables and block quotes, chosen by a seeded PRNG (same seed, same text).
* :func:`split_tokens` -- cut a text into stream deltas of about one token each
  (a word or a run of punctuation with its leading whitespace);
  ``"".join(split_tokens(t)) == t``.
* :func:`markdown_tokens` -- exactly ``n`` deltas of such an answer.

No import of the app or of Textual here: the server subprocess uses it too.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

__all__ = [
    "fence_lines",
    "huge_text",
    "markdown_text",
    "markdown_tokens",
    "split_tokens",
    "user_text",
]

_TOKEN_RE = re.compile(r"\s*(?:\w+|[^\w\s]+)|\s+")

_VOCAB = (
    "the a an of to in for on with by from as at into over under between about stream "
    "token reply server client model request response latency buffer frame widget "
    "render terminal markdown parser layout screen event loop task worker thread "
    "queue message conversation history context window prompt estimate encoding cache "
    "index file folder checkpoint atomic write read parse update append mount scroll "
    "batch throughput speed memory allocation profile function value string list dict "
    "tuple object method class module package import return quickly slowly carefully "
    "often rarely always never usually simply roughly large small fast slow cheap "
    "expensive fresh stale visible hidden is are was were be been has have had does "
    "do did can could should would will "
)
_WORDS = tuple(_VOCAB.split())

_CODE_LINES = (
    "async def stream_reply(client, messages):",
    "    stream = await client.chat.completions.create(model=MODEL, messages=msgs, stream=True)",
    "    async for chunk in stream:",
    "        delta = chunk.choices[0].delta.content or ''",
    "        buffer.append(delta)",
    "    return ''.join(buffer)",
    "for index, row in enumerate(rows):",
    "    total += row.size  # bytes on disk",
    "if not parts:",
    "    raise ValueError(f'no data for {name!r}')",
    "result = {key: value for key, value in pairs if value is not None}",
    "with open(path, 'rb') as handle:",
    "    data = json.loads(handle.read())",
    "print(f'{count:,} tokens in {elapsed:.2f} s')",
)


def _sentence(rng: random.Random, lo: int = 6, hi: int = 18) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(lo, hi))]
    roll = rng.random()
    if roll < 0.15:
        i = rng.randrange(len(words))
        words[i] = f"`{words[i]}()`"
    elif roll < 0.3:
        i = rng.randrange(len(words))
        words[i] = f"**{words[i]}**"
    elif roll < 0.4:
        i = rng.randrange(len(words))
        words[i] = f"*{words[i]}*"
    words[0] = words[0].capitalize()
    end = rng.choice([".", ".", ".", ",", ":", "?"]) if roll > 0.9 else "."
    return " ".join(words) + end


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 6)))


def _block(rng: random.Random, kind: str) -> str:
    if kind == "heading":
        level = rng.choice(["##", "###"])
        return f"{level} {_sentence(rng, 2, 5).rstrip('.:,?')}"
    if kind == "paragraph":
        return _paragraph(rng)
    if kind == "bullets":
        return "\n".join(f"- {_sentence(rng, 4, 12)}" for _ in range(rng.randint(3, 7)))
    if kind == "numbered":
        return "\n".join(f"{i}. {_sentence(rng, 4, 12)}" for i in range(1, rng.randint(3, 6) + 1))
    if kind == "code":
        start = rng.randrange(len(_CODE_LINES))
        lines = [_CODE_LINES[(start + i) % len(_CODE_LINES)] for i in range(rng.randint(4, 12))]
        lang = rng.choice(["python", "python", "bash", ""])
        return f"```{lang}\n" + "\n".join(lines) + "\n```"
    if kind == "table":
        cols = rng.randint(3, 5)
        head = [rng.choice(_WORDS).capitalize() for _ in range(cols)]
        rows = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for _ in range(rng.randint(3, 8)):
            cells = [
                f"{rng.randint(1, 9999):,}" if rng.random() < 0.4 else rng.choice(_WORDS)
                for _ in head
            ]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(rows)
    if kind == "quote":
        return "> " + _sentence(rng, 8, 20)
    raise ValueError(kind)


_KINDS = (
    ["paragraph"] * 8
    + ["heading"] * 2
    + ["bullets"] * 3
    + ["numbered"] * 2
    + ["code"] * 3
    + ["table"] * 2
    + ["quote"]
)


def markdown_text(min_tokens: int, seed: int = 0) -> str:
    """A realistic Markdown answer of at least ``min_tokens`` deltas (see split_tokens)."""
    rng = random.Random(seed)
    blocks: list[str] = [_paragraph(rng)]
    count = len(split_tokens(blocks[0]))
    while count < min_tokens:
        block = _block(rng, rng.choice(_KINDS))
        blocks.append(block)
        count += len(split_tokens(block))
    return "\n\n".join(blocks) + "\n"


def split_tokens(text: str) -> list[str]:
    """Deltas of about one token: each word or punctuation run with its leading space."""
    return _TOKEN_RE.findall(text)


@lru_cache(maxsize=16)
def markdown_tokens(n: int, seed: int = 0) -> tuple[str, ...]:
    """Exactly ``n`` deltas of a realistic Markdown answer."""
    return tuple(split_tokens(markdown_text(n, seed))[:n])


def user_text(rng: random.Random) -> str:
    """A short user question."""
    return " ".join(_sentence(rng, 5, 20) for _ in range(rng.randint(1, 3)))


_WORD_RE = re.compile(r"(\s*)([A-Za-z_]\w*)")


@lru_cache(maxsize=16)
def marked_tokens(n: int, seed: int = 0) -> tuple[str, ...]:
    """:func:`markdown_tokens` with every word delta's word replaced by ``x<index>``.

    The Markdown structure (lists, tables, fences, emphasis) is kept; the markers
    survive rendering, so the screen itself tells which deltas are visible (B2).
    Code-fence language tags and numbers are left alone.
    """
    out = []
    previous = ""
    for index, token in enumerate(markdown_tokens(n, seed)):
        match = _WORD_RE.fullmatch(token)
        if match and not previous.endswith("```"):
            token = f"{match.group(1)}x{index}"
        out.append(token)
        previous = token
    return tuple(out)


def marker_index(token: str) -> int | None:
    """The delta index a marked token carries, or None."""
    match = re.fullmatch(r"\s*x(\d+)", token)
    return int(match.group(1)) if match else None


@lru_cache(maxsize=4)
def huge_text(size: int, seed: int = 0) -> str:
    """About ``size`` characters of Markdown (one answer repeated), cut at a line end.

    For the huge-delta and huge-message benchmarks (B12): generating ``size`` bytes of
    fresh text would take longer than the measurement.
    """
    unit = markdown_text(20_000, seed)  # ~100 KB, closed fences only
    text = unit * (size // len(unit) + 1)
    cut = text.rfind("\n", 0, size)
    return text[: cut + 1 if cut > 0 else size]


def fence_lines(lines: int, close_every: int = 0) -> list[str]:
    """A code fence of ``lines`` lines of Python, one delta per line, never closed.

    With ``close_every`` the fence is closed and a new one opened every that many
    lines (the baseline of B12's unclosed fence: the same lines, in small blocks).
    """
    out = ["Here is the whole file:\n\n", "```python\n"]
    for index in range(lines):
        if close_every and index and index % close_every == 0:
            out.append("```\n\n```python\n")
        out.append(f"{_CODE_LINES[index % len(_CODE_LINES)]}  # line {index}\n")
    if close_every:
        out.append("```\n")
    return out
