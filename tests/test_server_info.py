"""The context window and model list a server reports, asked over real HTTP of the
loopback server imitating each server's shape (core level, no Textual)."""

from __future__ import annotations

import asyncio

import pytest

from llmchat_tui import budget
from llmchat_tui.config import Settings
from llmchat_tui.llm import ChatClient
from llmchat_tui.llm.server_info import (
    ServerInfo,
    ServerInfoCache,
    fetch,
    root_of,
    same_origin,
    unlisted_warning,
    window,
)
from llmchat_tui.models import Conversation
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Store
from openai_server import OpenAIServer

MODEL = "local-model"


@pytest.fixture
def local(server: OpenAIServer) -> OpenAIServer:
    server.models = [MODEL, "other-model"]
    return server


async def test_llama_cpp_props_n_ctx(local: OpenAIServer) -> None:
    local.imitate("llama.cpp", 4096)
    info = await fetch(local.base_url, MODEL)
    assert info.context_window == 4096
    assert info.source == "llama.cpp /props n_ctx"
    assert info.models == (MODEL, "other-model")


async def test_llama_cpp_top_level_n_ctx(local: OpenAIServer) -> None:
    local.routes[("GET", "/props")] = {"n_ctx": 8192}
    assert (await fetch(local.base_url, MODEL)).context_window == 8192


async def test_ollama_num_ctx_wins_over_the_models_own_length(local: OpenAIServer) -> None:
    local.imitate("ollama", 8192)  # context_length 32768, num_ctx 8192
    info = await fetch(local.base_url, MODEL)
    assert (info.context_window, info.source) == (8192, "Ollama /api/show num_ctx")
    [show] = [r for r in local.requests if r.path == "/api/show"]
    assert show.method == "POST" and show.body == {"model": MODEL}


async def test_ollama_without_num_ctx_gives_the_models_length(local: OpenAIServer) -> None:
    local.imitate("ollama-default", 4096)  # the model's own length: 131072
    info = await fetch(local.base_url, MODEL)
    assert (info.context_window, info.source) == (131072, "Ollama /api/show context_length")
    assert info.provisional


async def test_ollama_a_loaded_model_shows_what_it_runs_with(local: OpenAIServer) -> None:
    local.imitate("ollama-loaded", 4096)  # /api/ps 4096, num_ctx 8192
    info = await fetch(local.base_url, MODEL)
    assert (info.context_window, info.source) == (4096, "Ollama /api/ps context_length")


async def test_ollama_latest_tag_counts_as_listed(local: OpenAIServer) -> None:
    local.models = ["llama3.2:latest"]
    info = await fetch(local.base_url, "llama3.2")
    assert info.lists("llama3.2") is True
    assert info.lists("llama3.2:1b") is False


async def test_vllm_max_model_len(local: OpenAIServer) -> None:
    local.imitate("vllm", 16384)
    info = await fetch(local.base_url, MODEL)
    assert (info.context_window, info.source) == (16384, "vLLM /models max_model_len")
    # Found in the list: no server's own endpoints were asked.
    assert [r.path for r in local.requests] == ["/v1/models"]


async def test_openrouter_context_length(local: OpenAIServer) -> None:
    local.imitate("openrouter", 200000)
    info = await fetch(local.base_url, MODEL)
    assert (info.context_window, info.source) == (200000, "OpenRouter /models context_length")


async def test_lm_studio_loaded_length_wins_over_the_maximum(local: OpenAIServer) -> None:
    local.imitate("lmstudio", 4096)  # max_context_length 16384
    info = await fetch(local.base_url, MODEL)
    assert (info.context_window, info.source) == (
        4096,
        "LM Studio /api/v0/models loaded_context_length",
    )


async def test_a_plain_server_reports_nothing_and_it_is_not_an_error(local: OpenAIServer) -> None:
    info = await fetch(local.base_url, MODEL)
    assert info == ServerInfo(None, "", (MODEL, "other-model"))


async def test_nothing_listening_gives_nothing_quickly() -> None:
    with OpenAIServer() as gone:
        url = gone.base_url
    info = await asyncio.wait_for(fetch(url, MODEL), 10)
    assert info == ServerInfo()


async def test_nonsense_numbers_are_not_believed(local: OpenAIServer) -> None:
    local.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": -1}, "n_ctx": True}
    local.model_fields[MODEL] = {"max_model_len": "lots", "context_length": 10**12}
    assert (await fetch(local.base_url, MODEL)).context_window is None
    assert [window(v) for v in (4096, 4096.0, "4096", 0, None, "4k", False)] == [
        4096,
        4096,
        4096,
        None,
        None,
        None,
        None,
    ]


async def test_the_key_goes_only_to_the_servers_own_origin(local: OpenAIServer) -> None:
    local.imitate("llama.cpp", 4096)
    with OpenAIServer() as elsewhere:
        await fetch(local.base_url, MODEL, api_key="sk-own-key")
        assert elsewhere.requests == []
    assert local.requests
    assert {r.headers.get("authorization") for r in local.requests} == {"Bearer sk-own-key"}
    assert same_origin("http://127.0.0.1:8080/props", "http://127.0.0.1:8080/v1")
    assert not same_origin("http://127.0.0.1:8081/props", "http://127.0.0.1:8080/v1")
    assert root_of("https://openrouter.ai/api/v1/") == "https://openrouter.ai/api"


async def test_the_cache_asks_once_per_server_and_model(local: OpenAIServer) -> None:
    local.imitate("llama.cpp", 4096)
    cache = ServerInfoCache()
    first, second = await asyncio.gather(
        cache.ask(local.base_url, MODEL), cache.ask(local.base_url, MODEL)
    )
    assert first is second and first.context_window == 4096
    await cache.ask(local.base_url + "/", MODEL)
    assert [r.path for r in local.requests].count("/props") == 1
    await cache.ask(local.base_url, "other-model")
    assert [r.path for r in local.requests].count("/props") == 2


def test_unlisted_warning_names_a_few_models() -> None:
    many = ServerInfo(models=tuple(f"m{i}" for i in range(8)))
    text = unlisted_warning(many, "local", "http://127.0.0.1:8080/v1")
    assert text is not None
    assert "127.0.0.1:8080 does not list the model “local”" in text
    assert "m0, m1, m2, m3, m4 and 3 more" in text
    assert unlisted_warning(many, "m3", "http://x/v1") is None
    assert unlisted_warning(ServerInfo(), "local", "http://x/v1") is None  # no list: silent


def test_precedence_config_then_server_then_table() -> None:
    assert budget.context_window("gpt-4o-mini") == 128_000
    assert budget.context_window("gpt-4o-mini", reported=4096) == 4096
    assert budget.context_window("gpt-4o-mini", {"gpt-4o-mini": 9000}, reported=4096) == 9000
    assert budget.context_window("my-local-thing", reported=4096) == 4096


async def test_the_session_prefers_what_the_server_says(local: OpenAIServer, tmp_path) -> None:
    local.models = ["gemma"]
    local.imitate("llama.cpp", 4096)
    settings = Settings(base_url=local.base_url, model="gpt-4o-mini", api_key="k")
    client = ChatClient(base_url=local.base_url, api_key="k")
    store = Store(tmp_path / "chats")
    store.open()
    session = ChatSession(settings, store, client)
    conversation = Conversation(model="gpt-4o-mini")
    assert session.context_limit(conversation) == 128_000  # the table, before asking
    assert not session.server_asked(conversation)
    warnings = await session.ask_server(conversation)
    assert session.server_asked(conversation)
    assert session.context_limit(conversation) == 4096
    assert len(warnings) == 1 and "it has gemma." in warnings[0]
    await client.close()


async def test_ollamas_maximum_is_asked_again_once_a_reply_loaded_the_model(
    local: OpenAIServer, tmp_path
) -> None:
    # No num_ctx and not loaded: /api/show gives only what the model could do.
    local.imitate("ollama-default", 4096)
    settings = Settings(base_url=local.base_url, model=MODEL, api_key="")
    client = ChatClient(base_url=local.base_url, api_key="")
    store = Store(tmp_path / "chats")
    store.open()
    session = ChatSession(settings, store, client)
    conversation = session.new_conversation()
    await session.ask_server(conversation)
    assert session.context_limit(conversation) == 131072
    assert session.server_info.get(local.base_url, MODEL).provisional  # type: ignore[union-attr]

    # The reply makes Ollama load the model; /api/ps now says what it runs with.
    turn = await session.send(conversation, "hello")
    await turn.generation.run()
    assert not session.server_asked(conversation)
    await session.ask_server(conversation)
    assert session.context_limit(conversation) == 4096
    info = session.server_info.get(local.base_url, MODEL)
    assert info is not None and not info.provisional

    # A window the server runs with is kept: another reply asks nothing again.
    turn = await session.send(conversation, "again")
    await turn.generation.run()
    assert session.server_asked(conversation)
    await client.close()
