"""Settings precedence and config-file errors (flags > env > file > defaults)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmchat_tui import cli, paths
from llmchat_tui.config import DEFAULT_MODEL, ConfigError, Settings
from llmchat_tui.config_load import load_settings, resolve_api_key


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


def test_paths_command_shows_where_files_live(capsys, tmp_path):
    assert cli.main(["paths", "--data-dir", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert f"config file    {paths.default_config_file()}  (not created yet)" in out
    assert f"conversations  {tmp_path / 'd' / 'conversations'}" in out
    assert f"log file       {paths.log_file()}" in out


def test_profiles_apply_and_unknown_profiles_are_named():
    write_config(
        'model = "gpt-4o-mini"\n'
        '[profiles.ollama]\nbase_url = "http://localhost:11434/v1"\nmodel = "llama3.2"\n'
        "stream_usage = false\n"
    )
    settings = load_settings(flags={"profile": "ollama"}, environ={})
    assert (settings.base_url, settings.model, settings.stream_usage) == (
        "http://localhost:11434/v1",
        "llama3.2",
        False,
    )
    with pytest.raises(ConfigError, match="unknown profile 'nope' \\(profiles: ollama\\)"):
        load_settings(flags={"profile": "nope"}, environ={})


def test_bad_profile_key_is_one_line():
    path = write_config('[profiles.x]\nbase_ulr = "http://x"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={})
    assert "unknown key profiles.x.base_ulr" in str(caught.value) and str(path) in str(caught.value)


def test_cli_warns_when_a_config_with_a_key_is_readable(monkeypatch):
    path = write_config('api_key = "sk-abc123"\n')
    path.chmod(0o644)
    seen = {}

    class FakeApp:
        def __init__(self, session, **kwargs):
            seen.update(kwargs)
            self.session = session
            self.return_code = 0

        def run(self):
            return 0

    monkeypatch.setattr("llmchat_tui.app.ChatApp", FakeApp)
    assert cli.main(["--data-dir", str(path.parent / "data")]) == 0
    assert any("other users can read it" in w for w in seen["warnings"])
    assert seen["first_run"] is False


def test_the_theme_picked_in_the_app_wins_unless_the_config_was_edited_after(
    tmp_path: Path,
) -> None:
    from llmchat_tui.config import Settings, starting_theme

    config = tmp_path / "config.toml"
    config.write_text('theme = "nord"\n')
    os.utime(config, (1000, 1000))
    settings = Settings(theme="nord", config_file=config)
    settings.sources["theme"] = f"config file {config}"
    assert starting_theme(settings, None, None) == "nord"
    assert starting_theme(settings, "gruvbox", 2000.0) == "gruvbox", "picked after the edit"
    assert starting_theme(settings, "gruvbox", 500.0) == "nord", "the file was edited after"
    assert starting_theme(settings, "gruvbox", None) == "nord", "an old pick without a time"
    unset = Settings(config_file=config)  # the file does not set a theme
    assert starting_theme(unset, "gruvbox", None) == "gruvbox"
