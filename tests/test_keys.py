"""Where a request goes, and which key goes with it: a key goes only to its own host.

Settings come from a real config file in a temp folder and an explicit
environment; clients are built by the CLI's own factory (``factory.make_client``)
and, where the server is on 127.0.0.1, asked for ``/models`` so the test sees
the Authorization header the server really received. Remote hosts are never
contacted: for them the test checks what *would* be sent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmchat_tui import cli, factory
from llmchat_tui.config import ConfigError
from llmchat_tui.config_load import for_profile, load_settings, resolve_api_key
from llmchat_tui.config_target import (
    precedence_markdown,
    resolve_target,
    same_url,
    sends_in_the_clear,
)
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Store
from openai_server import OpenAIServer

ROOT = Path(__file__).resolve().parents[1]
OPENAI = "https://api.openai.com/v1"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


async def authorization(client, server: OpenAIServer) -> str:
    """Ask ``server`` for its models through ``client``; the Authorization it got."""
    before = len(server.requests)
    await client.list_models()
    assert len(server.requests) == before + 1
    return server.requests[-1].headers.get("authorization", "")


# -- (a) an explicit profile beats OPENAI_BASE_URL, and gets its own key ---------


async def test_a_profile_key_goes_to_the_profile_not_to_openai_base_url(tmp_path):
    with OpenAIServer() as ambient, OpenAIServer() as work:
        path = config(
            tmp_path,
            f'[profiles.work]\nbase_url = "{work.base_url}"\nmodel = "w"\n'
            'api_key_env = "WORK_KEY"\n',
        )
        env = {
            "OPENAI_BASE_URL": ambient.base_url,
            "OPENAI_API_KEY": "sk-ambient",
            "WORK_KEY": "sk-work",
        }
        settings = load_settings(flags={"profile": "work"}, config_path=path, environ=env)
        assert (settings.base_url, settings.model) == (work.base_url, "w")
        client = factory.make_client(settings)
        try:
            assert client.base_url == work.base_url
            assert await authorization(client, work) == "Bearer sk-work"
        finally:
            await client.close()
        assert ambient.requests == []
        assert resolve_target(settings).warnings == []


async def test_openai_base_url_with_openai_api_key_still_pairs(tmp_path):
    with OpenAIServer() as ambient:
        env = {"OPENAI_BASE_URL": ambient.base_url + "/", "OPENAI_API_KEY": "sk-ambient"}
        settings = load_settings(config_path=config(tmp_path, ""), environ=env)
        client = factory.make_client(settings)
        try:
            assert await authorization(client, ambient) == "Bearer sk-ambient"
        finally:
            await client.close()


# -- (b) switching profile never carries the start-up profile's key --------------


async def test_switching_profile_does_not_send_the_start_up_key(tmp_path):
    with OpenAIServer() as work, OpenAIServer() as home:
        path = config(
            tmp_path,
            f'[profiles.work]\nbase_url = "{work.base_url}"\napi_key_env = "WORK_KEY"\n'
            f'[profiles.home]\nbase_url = "{home.base_url}"\nmodel = "h"\n',
        )
        env = {"WORK_KEY": "sk-work", "OPENAI_API_KEY": "sk-openai"}
        settings = load_settings(flags={"profile": "work"}, config_path=path, environ=env)
        store = Store(tmp_path / "chats")
        store.open()
        session = ChatSession(
            settings, store, factory.make_client(settings), client_factory=factory.make_client
        )
        try:
            conversation = session.new_conversation()
            assert await authorization(session.client_for(conversation), work) == "Bearer sk-work"

            warnings = session.set_profile(conversation, "home")  # what F4 does
            assert (conversation.base_url, conversation.model) == (home.base_url, "h")
            client = session.client_for(conversation)
            assert client.base_url == home.base_url
            assert await authorization(client, home) == "Bearer no-key"  # the SDK placeholder
            # The ambient OpenAI key was withheld too, and the app is told so.
            assert len(warnings) == 1
            assert "OPENAI_API_KEY was not sent to " + home.base_url in warnings[0]
            assert "sk-" not in warnings[0]

            session.set_profile(conversation, "work")  # back: work's own key again
            assert await authorization(session.client_for(conversation), work) == ("Bearer sk-work")
        finally:
            await session.close()
            store.close()


async def test_a_switched_profile_gets_its_own_key(tmp_path):
    with OpenAIServer() as work, OpenAIServer() as home:
        path = config(
            tmp_path,
            f'[profiles.work]\nbase_url = "{work.base_url}"\napi_key = "sk-work"\n'
            f'[profiles.home]\nbase_url = "{home.base_url}"\napi_key_env = "HOME_KEY"\n',
        )
        settings = load_settings(
            flags={"profile": "work"}, config_path=path, environ={"HOME_KEY": "sk-home"}
        )
        store = Store(tmp_path / "chats")
        store.open()
        session = ChatSession(
            settings, store, factory.make_client(settings), client_factory=factory.make_client
        )
        try:
            conversation = session.new_conversation()
            assert session.set_profile(conversation, "home") == []
            assert await authorization(session.client_for(conversation), home) == "Bearer sk-home"
        finally:
            await session.close()
            store.close()


def test_a_switched_profile_is_built_from_the_file_not_from_the_start_up_values(tmp_path):
    path = config(
        tmp_path,
        'model = "top-model"\nstream_usage = false\n'
        '[profiles.work]\nbase_url = "https://work.example.com/v1"\nmodel = "w"\n'
        'api_key_env = "WORK_KEY"\nstream_usage = true\n'
        "[profiles.bare]\n",
    )
    env = {"WORK_KEY": "sk-work", "LLMCHAT_MODEL": "env-model"}
    settings = load_settings(
        flags={"profile": "work", "base_url": "https://flag.example.com/v1", "model": "flag-m"},
        config_path=path,
        environ=env,
    )
    target = resolve_target(settings, "bare")
    # Nothing of work's, nothing of the flags: top level + the profile (+ LLMCHAT_MODEL).
    assert (target.base_url, target.model, target.stream_usage) == (OPENAI, "env-model", False)
    assert target.api_key == ""


# -- (c) a key over plain http to a public host ------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://127.8.9.10/v1",
        "http://[::1]:8080/v1",
        "http://localhost:11434/v1",
        "http://LOCALHOST./v1",
        "http://10.1.2.3/v1",
        "http://172.16.0.1/v1",
        "http://172.31.255.254/v1",
        "http://192.168.1.20:8000/v1",
        "http://[fd12:3456::1]/v1",
        "http://169.254.10.10/v1",
        "http://[fe80::1]/v1",
        "https://llm.example.com/v1",
        "https://8.8.8.8/v1",
    ],
)
def test_no_warning_for_https_or_a_private_host(url):
    assert not sends_in_the_clear(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://llm.example.com/v1",
        "http://8.8.8.8/v1",
        "http://172.32.0.1/v1",
        "http://100.64.0.1/v1",
        "http://[2001:4860::8888]/v1",
        "http://localhost.example.com/v1",
        "HTTP://Example.COM:80/v1",
    ],
)
def test_plain_http_to_a_public_host_is_in_the_clear(url):
    assert sends_in_the_clear(url)


def test_a_key_over_plain_http_to_a_public_host_is_said_once(tmp_path, monkeypatch):
    path = config(
        tmp_path,
        '[profiles.remote]\nbase_url = "http://llm.example.com/v1"\napi_key_env = "R_KEY"\n'
        '[profiles.lan]\nbase_url = "http://192.168.1.20:8080/v1"\napi_key = "sk-lan"\n',
    )
    env = {"R_KEY": "sk-remote-123"}
    settings = load_settings(flags={"profile": "remote"}, config_path=path, environ=env)
    target = resolve_target(settings)
    assert target.api_key == "sk-remote-123"  # still sent: the user paired them
    assert len(target.warnings) == 1
    assert "plain http" in target.warnings[0] and "http://llm.example.com/v1" in target.warnings[0]
    assert "R_KEY" in target.warnings[0] and "sk-remote" not in target.warnings[0]
    client = factory.make_client(settings)
    assert client.base_url == "http://llm.example.com/v1"
    assert resolve_target(settings, "lan").warnings == []

    # And the CLI hands the warning to the app, which shows it at start.
    monkeypatch.setenv("R_KEY", "sk-remote-123")
    seen = run_cli(monkeypatch, ["--config", str(path), "--profile", "remote"], tmp_path)
    assert [w for w in seen["warnings"] if "plain http" in w] == target.warnings


def run_cli(monkeypatch, argv: list[str], tmp_path: Path) -> dict:
    """Run ``cli.main`` up to the app; what the app was given."""
    seen: dict = {}

    class FakeApp:
        def __init__(self, session, **kwargs):
            seen.update(kwargs, session=session)
            self.session = session
            self.return_code = 0

        def run(self):
            return 0

    monkeypatch.setattr("llmchat_tui.app.ChatApp", FakeApp)
    assert cli.main([*argv, "--data-dir", str(tmp_path / "data")]) == 0
    return seen


# -- withheld keys -------------------------------------------------------------------


async def test_openai_api_key_is_not_sent_to_a_base_url_flag(tmp_path, monkeypatch):
    with OpenAIServer() as local:
        env = {"OPENAI_API_KEY": "sk-secret-1"}
        settings = load_settings(
            flags={"base_url": local.base_url}, config_path=config(tmp_path, ""), environ=env
        )
        target = resolve_target(settings)
        assert target.api_key == ""
        assert len(target.warnings) == 1
        warning = target.warnings[0]
        assert warning.startswith(f"OPENAI_API_KEY was not sent to {local.base_url}:")
        assert "api.openai.com" in warning and "OPENAI_BASE_URL" in warning
        assert "api_key_env" in warning  # how to pair it
        assert "sk-secret" not in warning
        client = factory.make_client(settings)
        try:
            assert await authorization(client, local) == "Bearer no-key"
        finally:
            await client.close()

        monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-1")
        seen = run_cli(monkeypatch, ["--base-url", local.base_url], tmp_path)
        assert seen["warnings"] == [warning]
        assert seen["first_run"] is False


def test_a_top_level_key_goes_only_to_the_top_level_base_url(tmp_path):
    path = config(
        tmp_path,
        'api_key = "sk-top"\n'
        '[profiles.ollama]\nbase_url = "http://localhost:11434/v1"\nmodel = "llama3.2"\n'
        '[profiles.mini]\nmodel = "gpt-4o-mini"\n',  # no base_url: the top-level one
    )
    settings = load_settings(config_path=path, environ={})
    assert resolve_target(settings).api_key == "sk-top"
    assert resolve_target(settings, "mini").api_key == "sk-top"
    ollama = resolve_target(settings, "ollama")
    assert ollama.api_key == ""
    assert ollama.warnings and "api_key in the config file" in ollama.warnings[0]
    started = load_settings(flags={"profile": "ollama"}, config_path=path, environ={})
    assert resolve_target(started).api_key == ""


def test_urls_compare_by_scheme_host_port_and_path():
    assert same_url("https://API.openai.com/v1/", "https://api.openai.com:443/v1")
    assert same_url("http://127.0.0.1:80/v1", "http://127.0.0.1/v1")
    assert not same_url("http://api.openai.com/v1", "https://api.openai.com/v1")
    assert not same_url("https://api.openai.com/v1", "https://api.openai.com.evil.test/v1")
    assert not same_url("https://api.openai.com/v1", "https://api.openai.com/v2")
    assert not same_url("https://host:8443/v1", "https://host/v1")
    assert not same_url("https://host:bad/v1", "https://host:bad/v1")


def test_an_unpaired_key_command_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    script = tmp_path / "key.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho sk-from-command\n")
    script.chmod(0o700)
    path = config(
        tmp_path,
        f'api_key_command = "{script}"\n[profiles.local]\nbase_url = "http://127.0.0.1:9/v1"\n',
    )
    settings = load_settings(flags={"profile": "local"}, config_path=path, environ={})
    target = resolve_target(settings)
    assert target.api_key == "" and not marker.exists()
    assert "api_key_command in the config file was not sent" in target.warnings[0]
    assert resolve_target(load_settings(config_path=path, environ={})).api_key == (
        "sk-from-command"
    )
    assert marker.exists()


def test_a_profile_naming_its_key_variable_does_not_fall_back_to_openai_api_key(tmp_path):
    path = config(
        tmp_path, f'[profiles.openai]\nbase_url = "{OPENAI}"\napi_key_env = "MY_OPENAI_KEY"\n'
    )
    env = {"OPENAI_API_KEY": "sk-ambient"}
    settings = load_settings(flags={"profile": "openai"}, config_path=path, environ=env)
    assert resolve_target(settings).api_key == ""


def test_resolve_api_key_keeps_its_meaning_for_plain_settings(tmp_path):
    settings = load_settings(config_path=config(tmp_path, ""), environ={"OPENAI_API_KEY": "k"})
    assert resolve_api_key(settings) == "k"
    settings = load_settings(
        flags={"base_url": "http://127.0.0.1:9/v1"},
        config_path=config(tmp_path, ""),
        environ={"OPENAI_API_KEY": "k"},
    )
    assert resolve_api_key(settings) == ""


def test_a_failing_key_command_of_a_switched_profile_is_a_hint_not_a_crash(tmp_path):
    path = config(
        tmp_path, '[profiles.p]\nbase_url = "https://p.example.com/v1"\napi_key_command = "false"\n'
    )
    settings = load_settings(config_path=path, environ={})
    with pytest.raises(ConfigError, match="exited with status 1"):
        resolve_target(settings, "p")
    client = factory.make_client(for_profile(settings, "p"))
    assert client.base_url == "https://p.example.com/v1"
    assert "api_key_command" in client.key_hint and "exited with status 1" in client.key_hint


# -- precedence, as the README says it -----------------------------------------------


def readme_block(name: str) -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", readme, re.S)
    assert found, f"README has no {name} block"
    return found.group(1)


def test_readme_precedence_tables_are_the_code():
    assert readme_block("precedence") == precedence_markdown() + "\n"


BASE = {
    "flag": "https://flag.example.com/v1",
    "profile": "https://profile.example.com/v1",
    "env": "https://env.example.com/v1",
    "top": "https://top.example.com/v1",
}


def _settings(tmp_path, *, flag=False, explicit=False, env=True, default_profile=True, top=True):
    text = ""
    if default_profile:
        text += 'profile = "p"\n'
    if top:
        text += f'base_url = "{BASE["top"]}"\nmodel = "top-m"\n'
    text += f'[profiles.p]\nbase_url = "{BASE["profile"]}"\nmodel = "p-m"\n'
    flags: dict[str, str] = {}
    if flag:
        flags.update(base_url=BASE["flag"], model="flag-m")
    if explicit:
        flags["profile"] = "p"
    environ = {"OPENAI_BASE_URL": BASE["env"], "LLMCHAT_MODEL": "env-m"} if env else {}
    return load_settings(flags=flags, config_path=config(tmp_path, text), environ=environ)


@pytest.mark.parametrize(
    ("case", "base_url", "model"),
    [
        (dict(flag=True, explicit=True), BASE["flag"], "flag-m"),
        (dict(explicit=True), BASE["profile"], "p-m"),
        (dict(), BASE["env"], "env-m"),
        (dict(env=False), BASE["profile"], "p-m"),
        (dict(env=False, default_profile=False), BASE["top"], "top-m"),
        (dict(env=False, default_profile=False, top=False), OPENAI, "gpt-4o-mini"),
    ],
)
def test_each_row_of_the_precedence_table_beats_the_rows_below(tmp_path, case, base_url, model):
    settings = _settings(tmp_path, **case)
    target = resolve_target(settings)
    assert (settings.base_url, settings.model) == (base_url, model)
    assert (target.base_url, target.model) == (base_url, model)


def test_an_explicit_profile_without_base_url_inherits_the_top_level_not_the_environment(
    tmp_path,
):
    path = config(tmp_path, f'base_url = "{BASE["top"]}"\n[profiles.bare]\nmodel = "b"\n')
    env = {"OPENAI_BASE_URL": BASE["env"]}
    settings = load_settings(flags={"profile": "bare"}, config_path=path, environ=env)
    assert settings.base_url == BASE["top"]
    assert load_settings(config_path=path, environ=env).base_url == BASE["env"]


# -- LLMCHAT_CONFIG --------------------------------------------------------------------


def test_llmchat_config_names_the_file_and_config_flag_beats_it(tmp_path):
    from_env = tmp_path / "env.toml"
    from_env.write_text('model = "from-env-file"\n')
    from_flag = tmp_path / "flag.toml"
    from_flag.write_text('model = "from-flag-file"\n')
    env = {"LLMCHAT_CONFIG": str(from_env)}
    settings = load_settings(environ=env)
    assert (settings.model, settings.config_file) == ("from-env-file", from_env)
    settings = load_settings(config_path=from_flag, environ=env)
    assert (settings.model, settings.config_file) == ("from-flag-file", from_flag)


def test_llmchat_config_may_name_a_file_not_created_yet(tmp_path):
    missing = tmp_path / "later" / "config.toml"
    settings = load_settings(environ={"LLMCHAT_CONFIG": str(missing)})
    assert settings.config_file == missing  # where the first-run choice is saved


def test_llmchat_config_in_help_and_paths(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "LLMCHAT_CONFIG" in capsys.readouterr().out
    target = tmp_path / "elsewhere.toml"
    monkeypatch.setenv("LLMCHAT_CONFIG", str(target))
    assert cli.main(["paths", "--data-dir", str(tmp_path / "d")]) == 0
    assert f"config file    {target}  (not created yet)" in capsys.readouterr().out
