"""Context windows, fitting a request into one, and what a reply costs.

* :func:`context_window` decides a model's context size: the config's
  ``context_windows``, else what the server reported, else the size of common
  models (OpenAI, Ollama and Hugging Face / OpenRouter spellings).
* :func:`plan_request` leaves out the oldest history when a request would not
  fit, keeping the system prompt and the new message, in one linear pass.
* :func:`price_for`, :func:`cost` and :func:`format_cost` turn token counts
  into dollars from the ``prices`` table of the config.

No Textual import here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmchat_tui import tokens

# Context sizes in tokens, by model name or name prefix (lower case, with no
# provider prefix). The longest matching prefix wins, so specific variants
# listed here beat their family.
KNOWN_CONTEXT_WINDOWS: dict[str, int] = {
    # OpenAI
    "gpt-5": 400_000,
    "gpt-5-chat": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4-1106": 128_000,
    "gpt-4-0125": 128_000,
    "gpt-4-32k": 32_768,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "gpt-oss": 131_072,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o1-preview": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    # Meta Llama
    "llama3": 8_192,
    "llama3.1": 131_072,
    "llama3.2": 131_072,
    "llama3.3": 131_072,
    # Qwen
    "qwen2.5": 32_768,
    "qwen3": 40_960,
    # Mistral
    "mistral": 32_768,
    "mistral-nemo": 131_072,
    "mistral-large": 131_072,
    "mixtral": 32_768,
    "mixtral-8x22b": 65_536,
    # Google Gemma
    "gemma2": 8_192,
    "gemma3": 131_072,
    "gemma3:1b": 32_768,
    # Microsoft Phi
    "phi3": 4_096,
    "phi3.5": 131_072,
    "phi4": 16_384,
    # Others
    "deepseek-r1": 131_072,
    "command-r": 131_072,
    "claude": 200_000,
    "claude-2.0": 100_000,
    "claude-instant": 100_000,
}

# "meta-llama-3.1-8b", "llama-3.2-3b", "gemma-2-9b", "qwen-2.5-72b", "phi-3-mini"
# (Hugging Face and OpenRouter spellings) -> "llama3.1-8b", "gemma2-9b", ...
_FAMILY_SPELLING = re.compile(r"^(?:meta-)?(llama|gemma|qwen|phi)-(?=\d)")
# An explicit size in the name: "phi3:medium-128k", "Phi-3-mini-128k-instruct".
_SIZE_MARKER = re.compile(r"(?:^|[-_:.])(\d{1,4})k(?=$|[-_:.])")


def _base_name(model: str) -> str:
    """Lower case, with any provider prefix ("openai/", "meta-llama/") removed."""
    return model.strip().lower().rsplit("/", 1)[-1]


def _lookup(names: tuple[str, ...], table: Mapping[str, object]) -> object | None:
    """The entry of ``table`` whose key equals one of ``names`` (case-insensitive,
    in order), or else whose key is the longest prefix of one of them."""
    lowered: dict[str, object] = {}
    for key, value in table.items():
        lowered.setdefault(key.strip().lower(), value)
    for name in names:
        if name in lowered:
            return lowered[name]
    best_key = ""
    best: object | None = None
    for key, value in lowered.items():
        if len(key) > len(best_key) and any(name.startswith(key) for name in names):
            best_key, best = key, value
    return best


def _size_marker(name: str) -> int | None:
    match = _SIZE_MARKER.search(name)
    if match is None:
        return None
    thousands = int(match.group(1))
    if thousands <= 0:
        return None
    # "128k" is 131072 (a power of two), "200k" is 200000.
    power_of_two = thousands & (thousands - 1) == 0
    return thousands * (1024 if power_of_two else 1000)


def context_window(
    model: str, overrides: Mapping[str, int] | None = None, reported: int | None = None
) -> int | None:
    """The context size of ``model`` in tokens, or None if unknown.

    ``overrides`` (the config's ``context_windows``) win: an exact key first,
    then the longest key that is a prefix of the name, with or without its
    provider prefix. Then what the server ``reported`` it runs the model with
    (:mod:`llmchat_tui.llm.server_info`), then an explicit size in the name
    ("-128k"), then the longest matching prefix in :data:`KNOWN_CONTEXT_WINDOWS`.
    """
    full = model.strip().lower()
    if not full:
        return None
    base = _base_name(model)
    if overrides:
        found = _lookup((full, base), overrides)
        if found is not None:
            return int(found)  # type: ignore[call-overload, no-any-return]
    if reported is not None and reported > 0:
        return reported
    canonical = _FAMILY_SPELLING.sub(r"\1", base)
    marked = _size_marker(canonical)
    if marked is not None:
        return marked
    found = _lookup((canonical,), KNOWN_CONTEXT_WINDOWS)
    return None if found is None else int(found)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Plan:
    """What to send, and what was left out to make it fit."""

    messages: list[dict[str, Any]]  # what to send
    dropped: int  # how many of the oldest history messages were left out
    prompt_tokens: int  # estimate of what is sent
    limit: int | None  # context window, if known
    reserve: int  # tokens kept free for the reply
    fits: bool  # False when even the system prompt + last message do not fit


def default_reserve(limit: int | None) -> int:
    """Tokens kept free for the reply: a quarter of the window, at most 4096."""
    if limit is None or limit <= 0:
        return 0
    return min(4096, limit // 4)


def _message_tokens(message: Mapping[str, Any], model: str) -> int:
    # Exactly what the message adds to tokens.count_messages (cached per text).
    return tokens.count_messages((message,), model) - tokens.REPLY_PRIMING


def plan_request(
    messages: list[dict[str, Any]],
    model: str,
    limit: int | None,
    *,
    reserve: int | None = None,
) -> Plan:
    """Fit ``messages`` into ``limit`` tokens with ``reserve`` left for the reply.

    When the request does not fit, the oldest history messages are left out,
    one at a time; system messages and the last message (the user's new one)
    are always kept. If that leaves the history starting with an assistant
    reply, the reply goes too, so user/assistant pairs stay together. If even
    the system prompt and the last message do not fit, the plan holds just
    those and ``fits`` is False.

    Each message is counted once (cached per text) and drops use a running
    total, so planning is linear in the number of messages.
    """
    if reserve is None:
        reserve = default_reserve(limit)
    reserve = max(0, reserve)
    counts = [_message_tokens(message, model) for message in messages]
    total = sum(counts) + tokens.REPLY_PRIMING
    if limit is None or total + reserve <= limit:
        return Plan(list(messages), 0, total, limit, reserve, True)

    last = len(messages) - 1
    droppable = [i for i in range(last) if messages[i].get("role") != "system"]
    budget = limit - reserve
    dropped = 0
    while dropped < len(droppable) and total > budget:
        total -= counts[droppable[dropped]]
        dropped += 1
    # Do not start the history with a reply whose question was left out.
    while 0 < dropped < len(droppable) and messages[droppable[dropped]].get("role") == "assistant":
        total -= counts[droppable[dropped]]
        dropped += 1

    left_out = set(droppable[:dropped])
    kept = [message for i, message in enumerate(messages) if i not in left_out]
    return Plan(kept, dropped, total, limit, reserve, total <= budget)


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens."""

    input_per_million: float
    output_per_million: float


def price_for(model: str, table: Mapping[str, Mapping[str, float]]) -> Price | None:
    """The price of ``model`` from the config's ``prices`` table, or None.

    An exact key first (with or without the provider prefix, case-insensitive),
    then the longest key that is a prefix of the name. A side missing from the
    entry costs nothing.
    """
    full = model.strip().lower()
    if not full or not table:
        return None
    entry = table.get(model)
    if entry is None:
        entry = _lookup((full, _base_name(model)), table)  # type: ignore[assignment]
    if not isinstance(entry, Mapping):
        return None
    return Price(float(entry.get("input", 0.0)), float(entry.get("output", 0.0)))


def cost(
    prompt_tokens: int | None, completion_tokens: int | None, price: Price | None
) -> float | None:
    """Dollars for a request, or None without a price or any token count.

    A missing count (one side unknown) counts as zero.
    """
    if price is None or (prompt_tokens is None and completion_tokens is None):
        return None
    prompt = max(0, prompt_tokens or 0)
    completion = max(0, completion_tokens or 0)
    return (prompt * price.input_per_million + completion * price.output_per_million) / 1_000_000


def format_cost(value: float | None) -> str:
    """ "$0.0012" below a dollar, "<$0.0001" for tiny amounts, "$1.23" from a
    dollar up, "$0.00" for nothing, "" for None."""
    if value is None or not math.isfinite(value):
        return ""
    if value < 0:
        return "-" + format_cost(-value)
    if value == 0:
        return "$0.00"
    if value < 0.0001:
        return "<$0.0001"
    if round(value, 4) < 1:
        return f"${value:.4f}"
    return f"${value:,.2f}"
