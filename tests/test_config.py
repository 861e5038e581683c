"""Settings precedence and config-file errors (flags > env > file > defaults)."""

from __future__ import annotations

import os

import pytest

from llmchat_tui import cli, paths
from llmchat_tui.config import (
    DEFAULT_MODEL,
    ConfigError,
    Settings,
    load_settings,
    resolve_api_key,
)


def write_config(text: str):
    path = paths.default_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_file_or_env():
    settings = load_settings(environ={})
    assert settings.model == DEFAULT_MODEL == "gpt-4o-mini"
    assert settings.base_url == "https://api.openai.com/v1"
    assert settings.system_prompt == ""
    assert settings.stream_usage is True
    assert settings.sources["model"] == "default"


def test_file_beats_defaults_env_beats_file_flags_beat_env():
    write_config('model = "from-file"\nbase_url = "http://file/v1"\nsystem_prompt = "Be brief."\n')
    assert load_settings(environ={}).model == "from-file"
    env = {"LLMCHAT_MODEL": "from-env", "OPENAI_BASE_URL": "http://env/v1/"}
    settings = load_settings(environ=env)
    assert settings.model == "from-env"
    assert settings.base_url == "http://env/v1"  # trailing slash trimmed
    assert settings.system_prompt == "Be brief."
    settings = load_settings(flags={"model": "from-flag", "base_url": None}, environ=env)
    assert settings.model == "from-flag"
    assert settings.base_url == "http://env/v1"
    assert settings.sources["model"] == "--model"
    assert settings.sources["base_url"] == "environment OPENAI_BASE_URL"


def test_explicit_config_path_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(config_path=tmp_path / "missing.toml", environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model = ", "is not valid TOML"),
        ('modle = "x"', "unknown setting 'modle'"),
        ("stream_usage = 3", "stream_usage must be true or false"),
        ('stall_timeout = "soon"', "stall_timeout must be a number"),
        ("stall_timeout = 0", "stall_timeout must be more than 0"),
        ("[keymap]\nstop = 3", "keymap.stop must be a string"),
    ],
)
def test_broken_config_gives_one_line_naming_the_file(text, message):
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={})
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_reports_a_broken_config_without_traceback(capsys):
    path = write_config("model = = 1")
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(path) in err and "Traceback" not in err


def test_cli_version_and_help(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert "llmchat-tui 0." in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--model", "--base-url", "--config", "--data-dir", "--version"):
        assert flag in out


def test_api_key_sources(tmp_path):
    settings = Settings()
    assert resolve_api_key(settings, environ={"OPENAI_API_KEY": "sk-env"}) == "sk-env"
    settings.api_key = "sk-file"
    assert resolve_api_key(settings, environ={}) == "sk-file"
    settings.api_key_env = "MY_KEY"
    assert resolve_api_key(settings, environ={"MY_KEY": "sk-mine"}) == "sk-mine"
    script = tmp_path / "key.sh"
    script.write_text("#!/bin/sh\necho sk-from-command\n")
    os.chmod(script, 0o700)
    settings.api_key_command = str(script)
    assert resolve_api_key(settings, environ={"MY_KEY": "sk-mine"}) == "sk-from-command"
    settings.api_key_command = "false"
    with pytest.raises(ConfigError, match="exited with status 1"):
        resolve_api_key(settings, environ={})


def test_every_setting_is_documented():
    names = [name for name, _default, doc in Settings.documented_fields() if doc]
    assert {"model", "base_url", "system_prompt", "stream_usage", "stall_timeout"} <= set(names)
