"""Shared fixtures: a loopback OpenAI-compatible server, isolated folders, the app."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from openai_server import OpenAIServer

if TYPE_CHECKING:
    from terminal import Terminal


@pytest.fixture(scope="session")
def token_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder per test run, so tiktoken data is seeded once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_cache: Path) -> Path:
    """Point every user folder at ``tmp_path``; no real config, key or network."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(token_cache))
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "LLMCHAT_MODEL",
        "LLMCHAT_DATA_DIR",
        "TIKTOKEN_CACHE_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    """A scripted OpenAI-compatible server on 127.0.0.1 (real HTTP)."""
    with OpenAIServer() as running:
        yield running


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "chats"


@pytest.fixture
def make_app(server: OpenAIServer, data_dir: Path) -> Callable[..., Any]:
    """Build the real app against the loopback server through the production factory
    (``make_app(model=..., ...)``: keyword arguments set Settings fields)."""
    from llmchat_tui.config import Settings
    from llmchat_tui.factory import build_app
    from llmchat_tui.store import Store

    def build(
        *,
        folder: Path | None = None,
        clock: Callable[[], float] | None = None,
        first_run: bool = False,
        probe_servers: list[tuple[str, int]] | None = None,
        defer: bool = False,
        **overrides: Any,
    ) -> Any:
        settings = Settings(base_url=server.base_url, model="gpt-4o-mini", api_key="test-key")
        for key, value in overrides.items():
            setattr(settings, key, value)
        store = Store(folder or data_dir)
        skipped = store.open(defer=defer)
        return build_app(
            settings,
            store,
            skipped=skipped,
            first_run=first_run,
            probe_servers=probe_servers,
            clock=clock,
        )

    return build


async def wait_until(
    pilot: Any, predicate: Callable[[], Any], timeout: float = 10.0, what: str = ""
) -> None:
    """Let the app run until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


async def eventually(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Core tests (no Textual): let the event loop run until ``predicate()`` is true;
    returns its first true value; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)
    return value


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Thread/process version of :func:`wait_until` (polls every 20 ms); returns
    the predicate's first true value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.02)


@pytest.fixture
def app_env(server: OpenAIServer) -> dict[str, str]:
    """The environment of the app: the isolated one plus the loopback server."""
    env = dict(os.environ)
    env.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="test")
    # No desktop: the clipboard is OSC 52 only, whatever the machine running the tests.
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


@pytest.fixture
def launch(
    app_env: dict[str, str], data_dir: Path, tmp_path: Path
) -> Iterator[Callable[..., Terminal]]:
    """Start the installed ``llmchat-tui --model gpt-4o-mini --data-dir <data_dir>`` in a pty.

    ``launch(*extra_args, wait_ready=True, columns=120, lines=40, env=None)``; every
    terminal started is closed (its process group killed) after the test.
    """
    from app_pty import EXECUTABLE, MODEL
    from terminal import Terminal

    if EXECUTABLE is None:
        pytest.skip("the llmchat-tui command is not installed")
    started: list[Terminal] = []

    def start(
        *extra: str,
        wait_ready: bool = True,
        columns: int = 120,
        lines: int = 40,
        env: dict[str, str] | None = None,
    ) -> Terminal:
        assert EXECUTABLE is not None
        argv = [EXECUTABLE, "--model", MODEL, "--data-dir", str(data_dir), *extra]
        term = Terminal(argv, env=env or app_env, cwd=tmp_path, columns=columns, lines=lines)
        started.append(term)
        if wait_ready:
            # The empty new conversation's hint: the app is up and the prompt has focus.
            term.wait_for_text("New conversation", timeout=20)
        return term

    yield start
    for term in started:
        term.close()
