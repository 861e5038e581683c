"""Token counting: offline encodings, OpenAI's cookbook figures, model mapping."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest

from llmchat_tui import tokens

# The example from OpenAI's cookbook "How to count tokens with tiktoken".
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that "
        "translates corporate jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean "
        "for the client deliverable.",
    },
]


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-4", 129), ("gpt-3.5-turbo", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)],
)
def test_cookbook_example_counts(model, expected):
    assert tokens.count_messages(COOKBOOK_MESSAGES, model) == expected


@pytest.mark.parametrize(
    ("model", "name", "exact"),
    [
        ("gpt-4o-mini", "o200k_base", True),
        ("gpt-4.1", "o200k_base", True),
        ("gpt-5", "o200k_base", True),
        ("o3-mini", "o200k_base", True),
        ("openai/gpt-4o", "o200k_base", True),
        ("gpt-4", "cl100k_base", True),
        ("gpt-4-turbo", "cl100k_base", True),
        ("gpt-3.5-turbo", "cl100k_base", True),
        ("llama3.2", "o200k_base", False),
        ("qwen2.5:7b", "o200k_base", False),
        ("mistral-small", "o200k_base", False),
        ("ollama", "o200k_base", False),
    ],
)
def test_encoding_for_model(model, name, exact):
    choice = tokens.encoding_for_model(model)
    assert (choice.name, choice.exact) == (name, exact)


def test_encodings_load_with_no_network(tmp_path):
    """A fresh cache and every socket refused: both encodings still load."""
    code = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled in this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from llmchat_tui import tokens
        for name in ("cl100k_base", "o200k_base"):
            enc = tokens.get_encoding(name)
            assert enc.encode("hello world") , name
        print(tokens.count_text("hello world", "o200k_base"))
        """
    )
    env = {
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"


def test_a_corrupted_cached_file_is_replaced_by_verified_data(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tokens.seed_cache("cl100k_base")
    target = next(folder.iterdir())
    target.write_bytes(b"tampered")
    tokens.seed_cache("cl100k_base")
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert digest == tokens.EXPECTED_SHA256["cl100k_base"]


def test_bundled_data_is_checked_against_tiktokens_hash(monkeypatch):
    monkeypatch.setitem(tokens.EXPECTED_SHA256, "cl100k_base", "0" * 64)
    with pytest.raises(tokens.TokenDataError):
        tokens.bundled_data("cl100k_base")


def test_counts_are_cached_per_text():
    text = "a long message " * 500
    tokens.count_messages([{"role": "user", "content": text}], "gpt-4o")
    before = tokens.count_cache_stats()
    tokens.count_messages([{"role": "user", "content": text}], "gpt-4o")
    after = tokens.count_cache_stats()
    assert after.hits > before.hits and after.misses == before.misses
