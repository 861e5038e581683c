"""Context windows, fitting a request into one, prices and costs."""

from __future__ import annotations

import pytest

from llmchat_tui import budget, tokens
from llmchat_tui.budget import (
    KNOWN_CONTEXT_WINDOWS,
    Plan,
    Price,
    context_window,
    cost,
    format_cost,
    plan_request,
    price_for,
)

MODEL = "gpt-4o-mini"

# --- context windows ---------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", 128_000),
        ("gpt-4o-mini", 128_000),
        ("gpt-4o-2024-08-06", 128_000),
        ("gpt-4.1", 1_047_576),
        ("gpt-4.1-nano", 1_047_576),
        ("gpt-4-turbo", 128_000),
        ("gpt-4-turbo-2024-04-09", 128_000),
        ("gpt-4", 8_192),
        ("gpt-4-0613", 8_192),
        ("gpt-3.5-turbo", 16_385),
        ("gpt-5", 400_000),
        ("gpt-5-mini", 400_000),
        ("o1", 200_000),
        ("o3", 200_000),
        ("o3-mini", 200_000),
        ("o4-mini", 200_000),
        ("llama3", 8_192),
        ("llama3.1", 131_072),
        ("llama3.2", 131_072),
        ("llama3.3", 131_072),
        ("qwen2.5", 32_768),
        ("qwen3", 40_960),
        ("mistral", 32_768),
        ("mixtral", 32_768),
        ("gemma2", 8_192),
        ("gemma3", 131_072),
        ("phi3", 4_096),
        ("deepseek-r1", 131_072),
        ("command-r", 131_072),
        ("command-r-plus", 131_072),
        ("GPT-4o-Mini", 128_000),
    ],
)
def test_known_models(model, expected):
    assert context_window(model) == expected


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("openai/gpt-4o", 128_000),
        ("openai/gpt-4.1-mini", 1_047_576),
        ("meta-llama/llama-3.1-8b-instruct", 131_072),
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", 131_072),
        ("meta-llama/llama-3-8b-instruct", 8_192),
        ("qwen/qwen-2.5-72b-instruct", 32_768),
        ("google/gemma-2-9b-it", 8_192),
        ("mistralai/mixtral-8x7b-instruct", 32_768),
        ("anthropic/claude-3.5-sonnet", 200_000),
        ("anthropic/claude-sonnet-4", 200_000),
        ("anthropic/claude-opus-4.1", 200_000),
        ("deepseek/deepseek-r1", 131_072),
    ],
)
def test_provider_prefixes_are_stripped(model, expected):
    assert context_window(model) == expected


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("llama3.2:3b", 131_072),
        ("llama3.1:8b-instruct-q4_K_M", 131_072),
        ("llama3:latest", 8_192),
        ("llama3:8b", 8_192),
        ("qwen2.5:7b", 32_768),
        ("qwen2.5-coder:14b", 32_768),
        ("qwen3:8b", 40_960),
        ("mistral:7b-instruct", 32_768),
        ("gemma3:12b", 131_072),
        ("phi3:mini", 4_096),
        ("phi3:medium-128k", 131_072),
        ("phi3:14b-medium-128k-instruct-q4_0", 131_072),
        ("microsoft/Phi-3-mini-128k-instruct", 131_072),
        ("deepseek-r1:1.5b", 131_072),
    ],
)
def test_ollama_tags(model, expected):
    assert context_window(model) == expected


def test_longest_prefix_wins():
    # "gpt-4" is a prefix of all of these; the more specific entry must win.
    assert context_window("gpt-4o") != KNOWN_CONTEXT_WINDOWS["gpt-4"]
    assert context_window("gpt-4.1") == KNOWN_CONTEXT_WINDOWS["gpt-4.1"]
    assert context_window("llama3.2") != KNOWN_CONTEXT_WINDOWS["llama3"]


@pytest.mark.parametrize("model", ["", "   ", "my-finetune", "unknown/thing", "ollama"])
def test_unknown_models(model):
    assert context_window(model) is None


def test_override_exact():
    overrides = {"llama3.2:3b": 4096}
    assert context_window("llama3.2:3b", overrides) == 4096
    assert context_window("LLAMA3.2:3B", overrides) == 4096
    # Other tags of the family keep the built-in size.
    assert context_window("llama3.2:1b", overrides) == 131_072


def test_override_prefix():
    overrides = {"llama3": 65_536, "my-": 1000}
    assert context_window("llama3.2:3b", overrides) == 65_536
    assert context_window("my-finetune", overrides) == 1000
    assert context_window("gpt-4o", overrides) == 128_000


def test_override_exact_beats_a_longer_prefix_and_matches_without_provider():
    overrides = {"gpt-4o": 1000, "gpt-4o-mini-": 2000, "openai/gpt-4o-mini": 3000}
    assert context_window("gpt-4o") == 128_000
    assert context_window("gpt-4o", overrides) == 1000
    assert context_window("openai/gpt-4o", overrides) == 1000
    assert context_window("openai/gpt-4o-mini", overrides) == 3000
    assert context_window("gpt-4o-mini-2024-07-18", overrides) == 2000


def test_override_beats_size_marker():
    assert context_window("phi3:medium-128k", {"phi3": 4096}) == 4096


# --- plan_request --------------------------------------------------------------


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def system(text: str) -> dict[str, str]:
    return {"role": "system", "content": text}


def conversation(turns: int, words: int = 20) -> list[dict[str, str]]:
    out = [system("You are a terse assistant.")]
    for turn in range(turns):
        out.append(user(f"question {turn}: " + "why " * words))
        out.append(assistant(f"answer {turn}: " + "because " * words))
    out.append(user("and the last question?"))
    return out


def assert_consistent(plan: Plan, model: str = MODEL) -> None:
    assert plan.prompt_tokens == tokens.count_messages(plan.messages, model)


def test_a_request_that_fits_is_untouched():
    messages = conversation(3)
    plan = plan_request(messages, MODEL, 128_000)
    assert plan.messages == messages
    assert plan.dropped == 0
    assert plan.fits
    assert plan.limit == 128_000
    assert plan.reserve == 4096
    assert plan.prompt_tokens == tokens.count_messages(messages, MODEL)
    # A new list: the caller's list is not the plan's.
    assert plan.messages is not messages


def test_no_limit_sends_everything():
    messages = conversation(50)
    plan = plan_request(messages, MODEL, None)
    assert plan.messages == messages
    assert (plan.dropped, plan.fits, plan.limit, plan.reserve) == (0, True, None, 0)
    assert_consistent(plan)


def test_default_reserve():
    assert budget.default_reserve(None) == 0
    assert budget.default_reserve(1000) == 250
    assert budget.default_reserve(16_000) == 4000
    assert budget.default_reserve(128_000) == 4096
    plan = plan_request(conversation(1), MODEL, 1000)
    assert plan.reserve == 250


def test_drops_the_oldest_first_keeping_system_prompt_and_last_message():
    messages = conversation(10)
    full = tokens.count_messages(messages, MODEL)
    limit = full // 2
    plan = plan_request(messages, MODEL, limit, reserve=0)
    assert plan.fits
    assert plan.dropped > 0
    assert plan.messages[0] == messages[0]
    assert plan.messages[-1] == messages[-1]
    # What is kept is the newest tail of the history, in order.
    assert plan.messages[1:] == messages[1 + plan.dropped :]
    assert len(plan.messages) == len(messages) - plan.dropped
    assert plan.prompt_tokens <= limit
    assert_consistent(plan)
    # Minimal: keeping one more pair would not have fitted.
    with_one_more_pair = [messages[0], *messages[1 + plan.dropped - 2 :]]
    assert tokens.count_messages(with_one_more_pair, MODEL) > limit


def test_reserve_is_kept_free():
    messages = conversation(10)
    limit = tokens.count_messages(messages, MODEL) + 100
    assert plan_request(messages, MODEL, limit, reserve=100).dropped == 0
    plan = plan_request(messages, MODEL, limit, reserve=101)
    assert plan.dropped > 0
    assert plan.prompt_tokens + 101 <= limit
    assert plan.reserve == 101
    assert_consistent(plan)


def test_pairs_are_kept_together():
    short, long = "hi", "word " * 200
    messages = [
        system("sys"),
        user(short),  # 1: tiny question ...
        assistant(long),  # 2: ... with a long answer
        user(short),
        assistant(short),
        user("new question"),
    ]
    counts = [tokens.count_messages([m], MODEL) - tokens.REPLY_PRIMING for m in messages]
    # Dropping the first question alone would fit, but would leave its answer
    # at the head of the history: the answer goes too.
    limit = sum(counts) + tokens.REPLY_PRIMING - counts[1]
    plan = plan_request(messages, MODEL, limit, reserve=0)
    assert plan.dropped == 2
    assert plan.messages == [messages[0], *messages[3:]]
    assert plan.messages[1]["role"] == "user"
    assert_consistent(plan)


def test_history_starting_with_a_reply_is_left_alone_when_nothing_is_dropped():
    messages = [system("sys"), assistant("Hello! How can I help?"), user("hi")]
    plan = plan_request(messages, MODEL, 10_000)
    assert plan.messages == messages
    assert plan.dropped == 0


@pytest.mark.parametrize("turns", [1, 2, 3, 5, 8])
def test_dropped_count(turns):
    messages = conversation(turns, words=30)
    # Room for the system prompt, the last message and a little more.
    keep = [messages[0], messages[-1]]
    limit = tokens.count_messages(keep, MODEL) + 5
    plan = plan_request(messages, MODEL, limit, reserve=0)
    assert plan.dropped == 2 * turns
    assert plan.messages == keep
    assert plan.fits
    assert_consistent(plan)


def test_does_not_fit_when_the_last_message_alone_is_too_big():
    messages = conversation(4)
    messages[-1] = user("enormous " * 500)
    plan = plan_request(messages, MODEL, 200, reserve=0)
    assert not plan.fits
    assert plan.messages == [messages[0], messages[-1]]
    assert plan.dropped == len(messages) - 2
    assert_consistent(plan)


def test_does_not_fit_when_the_reserve_leaves_no_room():
    messages = [system("sys"), user("hello there")]
    needed = tokens.count_messages(messages, MODEL)
    assert plan_request(messages, MODEL, needed, reserve=0).fits
    plan = plan_request(messages, MODEL, needed, reserve=1)
    assert not plan.fits
    assert plan.messages == messages
    assert plan.dropped == 0


def test_every_system_message_is_kept_and_not_counted_as_dropped():
    messages = [
        system("one"),
        user("a " * 100),
        system("a note in the middle"),
        assistant("b " * 100),
        user("last"),
    ]
    keep = [messages[0], messages[2], messages[4]]
    limit = tokens.count_messages(keep, MODEL) + 2
    plan = plan_request(messages, MODEL, limit, reserve=0)
    assert plan.messages == keep
    assert plan.dropped == 2
    assert plan.fits


def test_names_are_counted_like_count_messages():
    messages = [
        system("sys"),
        {"role": "user", "name": "alice", "content": "x " * 50},
        assistant("y " * 50),
        {"role": "user", "name": "bob", "content": "the question"},
    ]
    plan = plan_request(messages, MODEL, 40, reserve=0)
    assert plan.dropped == 2
    assert_consistent(plan)


def test_without_system_prompt():
    messages = conversation(3)[1:]
    limit = tokens.count_messages(messages[-1:], MODEL) + 1
    plan = plan_request(messages, MODEL, limit, reserve=0)
    assert plan.messages == messages[-1:]
    assert plan.fits
    assert_consistent(plan)


def test_single_and_empty_requests():
    plan = plan_request([user("hi")], MODEL, 1, reserve=0)
    assert not plan.fits
    assert plan.messages == [user("hi")]
    empty = plan_request([], MODEL, 100)
    assert empty.messages == []
    assert empty.fits
    assert_consistent(empty)


def test_other_models_use_their_own_encoding():
    messages = conversation(6)
    for model in ("gpt-4", "llama3.2:3b"):
        plan = plan_request(messages, model, 300, reserve=0)
        assert plan.dropped > 0
        assert_consistent(plan, model)


def test_a_long_history_is_planned_in_linear_time(monkeypatch):
    """200,000 tokens of history: every message is counted once."""
    turns = 200
    messages = [system("You are helpful.")]
    for turn in range(turns):
        messages.append(user(f"q{turn} " + "lorem " * 500))
        messages.append(assistant(f"a{turn} " + "ipsum " * 500))
    messages.append(user("what now?"))
    # Counted once here so the real encodings are loaded before we watch.
    assert tokens.count_messages(messages, MODEL) > 200_000

    tokens.clear_count_cache()
    encoding = tokens.get_encoding(tokens.encoding_for_model(MODEL).name)
    calls = {"count": 0, "encode": 0}

    class CountingEncoding:
        def encode(self, text, **kwargs):
            calls["encode"] += 1
            return encoding.encode(text, **kwargs)

    monkeypatch.setattr(tokens, "get_encoding", lambda name: CountingEncoding())

    plan = plan_request(messages, MODEL, 8192)
    stats = tokens.count_cache_stats()
    calls["count"] = stats.hits + stats.misses  # every cached count is a hit or a miss

    n = len(messages)
    # Two texts per message (role and content): no re-counting per drop.
    assert calls["count"] <= 2 * n
    assert calls["encode"] <= n + 3  # every content once, the roles once each
    assert plan.fits
    assert plan.dropped > 0
    assert plan.messages[0] == messages[0]
    assert plan.messages[-1] == messages[-1]
    assert plan.prompt_tokens + plan.reserve <= 8192

    # Planning again hits the per-text cache: no encoding at all.
    calls["encode"] = 0
    plan_request(messages, MODEL, 8192)
    assert calls["encode"] == 0


# --- prices and costs -----------------------------------------------------------

PRICES = {
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "gpt-4o": {"input": 2.50, "output": 10.0},
    "gpt-4": {"input": 30.0, "output": 60.0},
    "llama": {"input": 0.0, "output": 0.0},
    "half": {"input": 1.0},
}


def test_price_exact_match_first():
    assert price_for("gpt-4o-mini", PRICES) == Price(0.15, 0.60)
    assert price_for("gpt-4o", PRICES) == Price(2.50, 10.0)
    assert price_for("GPT-4o-Mini", PRICES) == Price(0.15, 0.60)


def test_price_longest_prefix():
    assert price_for("gpt-4o-mini-2024-07-18", PRICES) == Price(0.15, 0.60)
    assert price_for("gpt-4o-2024-08-06", PRICES) == Price(2.50, 10.0)
    assert price_for("gpt-4-turbo", PRICES) == Price(30.0, 60.0)
    assert price_for("llama3.2:3b", PRICES) == Price(0.0, 0.0)


def test_price_with_provider_prefix():
    assert price_for("openai/gpt-4o-mini", PRICES) == Price(0.15, 0.60)
    table = {"openai/gpt-4o-mini": {"input": 0.2, "output": 0.8}, **PRICES}
    assert price_for("openai/gpt-4o-mini", table) == Price(0.2, 0.8)
    assert price_for("gpt-4o-mini", table) == Price(0.15, 0.60)


def test_price_missing_side_and_unknown_model():
    assert price_for("half", PRICES) == Price(1.0, 0.0)
    assert price_for("mistral", PRICES) is None
    assert price_for("gpt-4o", {}) is None
    assert price_for("", PRICES) is None


def test_cost_math():
    price = Price(0.15, 0.60)
    assert cost(1_000_000, 0, price) == pytest.approx(0.15)
    assert cost(0, 1_000_000, price) == pytest.approx(0.60)
    assert cost(1200, 350, price) == pytest.approx((1200 * 0.15 + 350 * 0.60) / 1e6)
    assert cost(1200, None, price) == pytest.approx(1200 * 0.15 / 1e6)
    assert cost(None, 350, price) == pytest.approx(350 * 0.60 / 1e6)


def test_cost_unknown():
    assert cost(100, 100, None) is None
    assert cost(None, None, Price(1.0, 1.0)) is None
    assert cost(0, 0, Price(1.0, 1.0)) == 0.0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (0.0, "$0.00"),
        (0.0012, "$0.0012"),
        (0.00123456, "$0.0012"),
        (0.0001, "$0.0001"),
        (0.00009, "<$0.0001"),
        (0.0000001, "<$0.0001"),
        (0.0523, "$0.0523"),
        (0.99999, "$1.00"),
        (1.234, "$1.23"),
        (1.0, "$1.00"),
        (1234.5, "$1,234.50"),
        (float("nan"), ""),
    ],
)
def test_format_cost(value, text):
    assert format_cost(value) == text


def test_format_a_computed_cost():
    price = price_for("gpt-4o-mini", PRICES)
    assert format_cost(cost(4000, 2000, price)) == "$0.0018"
    assert format_cost(cost(100, 10, price)) == "<$0.0001"
    assert format_cost(cost(None, None, price)) == ""
