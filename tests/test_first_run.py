"""First run with nothing configured: a welcome panel and local servers to pick."""

from __future__ import annotations

import tomllib

from conftest import wait_until
from helpers import screen_text, type_text
from llmchat_tui import paths
from llmchat_tui.discovery import probe
from openai_server import OpenAIServer, Reply


async def test_probe_finds_a_server_and_skips_silent_ports(server):
    server.models = ["llama3.2", "qwen2.5:7b"]
    with OpenAIServer() as failing:
        failing.models_status = 500
        found = await probe([("Ollama", server.port), ("vLLM", failing.port), ("LM Studio", 1)])
    assert [(f.name, f.base_url, f.models) for f in found] == [
        ("Ollama", server.base_url, ["llama3.2", "qwen2.5:7b"])
    ]


async def test_welcome_panel_picks_a_local_server_and_saves_it(make_app, server):
    server.models = ["llama3.2"]
    with OpenAIServer() as other:  # plays "the default OpenAI server": never used
        app = make_app(
            base_url=other.base_url, first_run=True, probe_servers=[("Ollama", server.port)]
        )
    server.queue(Reply.text("Hello from the local server."))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "Welcome to llmchat-tui" in screen_text(app))
        assert "OPENAI_API_KEY=sk-... llmchat-tui" in screen_text(app)
        await wait_until(pilot, lambda: "Found on this machine" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.session.settings.base_url == server.base_url)
        assert app.chat.conversation.model == "llama3.2"
        await type_text(pilot, "hi")
        await pilot.press("enter")
        generation = app.session.generation(app.chat.conversation.id)
        await wait_until(pilot, lambda: not generation.active)
        assert "Hello from the local server." in screen_text(app)
    saved = tomllib.loads(paths.default_config_file().read_text())
    assert saved == {"base_url": server.base_url, "model": "llama3.2"}
    assert oct(paths.default_config_file().stat().st_mode & 0o777) == "0o600"


async def test_welcome_panel_says_when_nothing_answers(make_app):
    app = make_app(first_run=True, probe_servers=[("Ollama", 1)])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "No local server answered" in screen_text(app))
        assert app.chat.sidebar  # history can still be browsed
