"""A key goes only to its own host: the installed ``llmchat-tui`` in a real pty.

Two loopback servers: one named by ``OPENAI_BASE_URL`` (with ``OPENAI_API_KEY``
beside it, as many shells have), one by a ``[profiles.work]`` table whose key
comes from ``api_key_env``. The test reads the Authorization header each
server received.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_server import OpenAIServer

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")


def _find_executable() -> str | None:
    beside = Path(sys.executable).with_name("llmchat-tui")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("llmchat-tui")


EXECUTABLE = _find_executable()
if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

from terminal import Terminal  # noqa: E402  (needs pyte, checked above)

pytestmark = pytest.mark.e2e

F4 = "\x1bOS"  # what an xterm sends for F4


@pytest.fixture
def servers() -> Iterator[tuple[OpenAIServer, OpenAIServer, OpenAIServer]]:
    with OpenAIServer() as ambient, OpenAIServer() as work, OpenAIServer() as home:
        yield ambient, work, home


def start(tmp_path: Path, servers: tuple[OpenAIServer, ...]) -> Terminal:
    ambient, work, home = servers
    config = tmp_path / "elsewhere" / "llmchat.toml"
    config.parent.mkdir()
    config.write_text(
        f'[profiles.work]\nbase_url = "{work.base_url}"\nmodel = "work-model"\n'
        'api_key_env = "WORK_KEY"\n'
        f'[profiles.home]\nbase_url = "{home.base_url}"\nmodel = "home-model"\n'
    )
    config.chmod(0o600)
    env = dict(os.environ)
    env.update(
        OPENAI_BASE_URL=ambient.base_url,
        OPENAI_API_KEY="sk-ambient-0001",
        WORK_KEY="sk-work-0002",
    )
    assert EXECUTABLE is not None
    argv = [
        EXECUTABLE,
        "--config",
        str(config),
        "--profile",
        "work",
        "--data-dir",
        str(tmp_path / "chats"),
    ]
    term = Terminal(argv, env=env, cwd=tmp_path)
    term.wait_for_text("New conversation", timeout=20)
    return term


def send(term: Terminal, text: str) -> None:
    term.send(text)
    term.wait_for_text(text)
    term.press("enter")
    term.wait_for_text(f"Echo: {text}")


def test_profile_key_goes_to_the_profile_server_not_to_openai_base_url(tmp_path, servers):
    ambient, work, home = servers
    with start(tmp_path, servers) as term:
        send(term, "hello work")
        term.press("ctrl+q")
        assert term.wait_for_exit(15) == 0
    assert [r.headers["authorization"] for r in work.chat_requests] == ["Bearer sk-work-0002"]
    assert work.chat_requests[0].body["model"] == "work-model"
    assert ambient.requests == [] and home.requests == []


def test_switching_profile_with_f4_does_not_carry_the_key(tmp_path, servers):
    ambient, work, home = servers
    with start(tmp_path, servers) as term:
        # The app asks its server about the model after the first frame: let it, so the
        # switch below happens with the work key already in use.
        assert work.wait_for_requests(1, chat_only=False)
        term.send(F4)
        term.wait_for_text("Provider profile")
        term.send("home")
        term.press("enter")
        term.wait_for_text("Provider: home")
        send(term, "hello home")
        term.press("ctrl+q")
        assert term.wait_for_exit(15) == 0
    received = [r.headers.get("authorization") for r in home.chat_requests]
    assert received == ["Bearer no-key"]  # the SDK's placeholder: no real key
    assert home.chat_requests[0].body["model"] == "home-model"
    assert ambient.requests == [] and work.chat_requests == []
    # At start the app asked the work server about its model (context window, model
    # list) with the work key; after the switch it asked home, with no key at all.
    assert {r.headers.get("authorization") for r in work.requests} == {"Bearer sk-work-0002"}
    assert {r.headers.get("authorization") for r in home.requests} == {None, "Bearer no-key"}
