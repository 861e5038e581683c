"""Saving the server picked at first run into the config file.

Every test reads the written file back the way the app does when it starts
(``read_config_file`` and ``load_settings``), so "Saved" always means the
next start works and uses the saved server.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmchat_tui.config import ConfigError, read_config_file
from llmchat_tui.config_file import remember_server
from llmchat_tui.config_load import load_settings

URL = "http://127.0.0.1:8080/v1"
MODEL = "llama3.2"

#: Files ending in each kind of table, with comments that must survive.
ENDING_IN_A_TABLE = {
    "prices": (
        '# my settings\ntheme = "textual-light"  # light\n\n'
        '# what my models cost\n[prices."gpt-4o"]\ninput = 2.5  # per million\noutput = 10\n'
    ),
    "context_windows": (
        'system_prompt = "Be brief."\n\n[context_windows]\n"llama3.2" = 32768  # as started\n'
    ),
    "profiles": (
        "# providers\n[profiles.work]\n"
        'base_url = "https://llm.example.com/v1"\napi_key_env = "WORK_KEY"\n'
        '\n[profiles.x]\nmodel = "m"\n'
    ),
    "prompts": (
        '[prompts]\nreviewer = """\nReview the code.\n# not a comment: part of the prompt\n"""\n'
    ),
    "keymap": 'retry_attempts = 2\n[keymap]\nstop = "escape,f9"\n',
    "no trailing newline": 'theme = "textual-light"\n[prompts]\nshort = "Be short."',
}


def tables_part(text: str) -> str:
    """Everything from the first table header on (what must not change at all)."""
    if text.startswith("["):
        return text
    at = text.find("\n[")
    return text[at + 1 :] if at >= 0 else ""


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode())
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("name", sorted(ENDING_IN_A_TABLE))
def test_saved_keys_go_to_the_top_level_of_a_file_ending_in_a_table(tmp_path, name):
    old = ENDING_IN_A_TABLE[name]
    path = write(tmp_path / "config.toml", old)
    before = read_config_file(path)

    remember_server(path, URL, MODEL)

    new = path.read_text("utf-8")
    assert read_config_file(path) == {**before, "base_url": URL, "model": MODEL}
    settings = load_settings(config_path=path, environ={})  # the real start-up path
    assert (settings.base_url, settings.model) == (URL, MODEL)
    assert tables_part(old) and tables_part(new) == tables_part(old)
    assert comment_lines(old) == [c for c in comment_lines(new) if "llmchat-tui" not in c]


def test_comments_stay_where_they_were(tmp_path):
    old = (
        "# llmchat-tui settings, kept in my dotfiles\n"
        'theme = "textual-light"   # the light one\n'
        "\n"
        "# Prices for my models\n"
        '[prices."gpt-4o"]\n'
        "input = 2.5    # dollars per million\n"
        "output = 10\n"
    )
    path = write(tmp_path / "config.toml", old)
    remember_server(path, URL, MODEL)
    new = path.read_text("utf-8")
    # The header and the theme line come first, unchanged; the comment about
    # prices still sits right above its table, and the table is untouched.
    assert new.startswith(
        '# llmchat-tui settings, kept in my dotfiles\ntheme = "textual-light"   # the light one\n'
    )
    assert new.endswith(
        '# Prices for my models\n[prices."gpt-4o"]\ninput = 2.5    # dollars per million\n'
        "output = 10\n"
    )
    head = new.split("# Prices for my models")[0]
    assert f'base_url = "{URL}"' in head and f'model = "{MODEL}"' in head


def test_a_file_of_comments_and_tables_only_keeps_its_header_on_top(tmp_path):
    old = '# My config\n\n# Local models\n[profiles.ollama]\nmodel = "llama3.2"\n'
    path = write(tmp_path / "config.toml", old)
    remember_server(path, URL, MODEL)
    new = path.read_text("utf-8")
    assert new.startswith("# My config\n")
    assert new.endswith('# Local models\n[profiles.ollama]\nmodel = "llama3.2"\n')
    assert load_settings(config_path=path, environ={}).base_url == URL


def test_crlf_file_keeps_crlf_line_ends(tmp_path):
    old = '# mine\ntheme = "textual-light"\n\n[context_windows]\n"llama3.2" = 8192\n'
    path = write(tmp_path / "config.toml", old, newline="\r\n")
    remember_server(path, URL, MODEL)
    raw = path.read_bytes()
    assert raw.count(b"\n") == raw.count(b"\r\n")  # every line ends in CRLF
    assert raw.endswith(b'[context_windows]\r\n"llama3.2" = 8192\r\n')
    settings = load_settings(config_path=path, environ={})
    assert (settings.base_url, settings.model, settings.context_windows) == (
        URL,
        MODEL,
        {"llama3.2": 8192},
    )


@pytest.mark.parametrize(
    "model",
    [
        "llama3.2 🦙",
        "qwen2.5:7b-instruct-q4_K_M",
        "für-Ünïcode-模型",
        'quote " and back\\slash',
        "tab\tin the name",
    ],
)
def test_any_model_name_is_written_as_valid_toml(tmp_path, model):
    path = write(tmp_path / "config.toml", '[prompts]\na = "b"\n')
    remember_server(path, URL, model)
    settings = load_settings(config_path=path, environ={})
    assert settings.model == model
    assert settings.prompts == {"a": "b"}


def test_a_missing_file_is_created_private_in_a_private_folder(tmp_path):
    path = tmp_path / "new" / "folder" / "config.toml"
    remember_server(path, URL, MODEL)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_config_file(path) == {"base_url": URL, "model": MODEL}
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp file left


def test_an_existing_folder_keeps_its_mode(tmp_path):
    # e.g. --config ~/llmchat.toml: the home folder must not become 0700
    folder = tmp_path / "home"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    remember_server(folder / "llmchat.toml", URL, MODEL)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_a_symlinked_config_stays_a_symlink(tmp_path):
    real = write(tmp_path / "dotfiles" / "llmchat.toml", '[prompts]\na = "b"\n')
    link = tmp_path / "config" / "config.toml"
    link.parent.mkdir()
    link.symlink_to(real)
    remember_server(link, URL, MODEL)
    assert link.is_symlink()
    assert read_config_file(real)["base_url"] == URL


def test_settings_written_by_hand_are_not_overwritten(tmp_path):
    old = '# mine\nmodel = "gpt-4o"\n[prompts]\na = "b"\n'
    path = write(tmp_path / "config.toml", old)
    with pytest.raises(ConfigError) as caught:
        remember_server(path, URL, MODEL)
    message = str(caught.value)
    assert str(path) in message and "model" in message and "by hand" in message
    assert path.read_text() == old


def test_a_default_profile_that_sets_the_server_is_not_shadowed(tmp_path):
    # The saved top-level base_url would lose to the default profile's at the
    # next start: saying "Saved" would be a lie.
    old = 'profile = "openai"\n[profiles.openai]\nbase_url = "https://api.openai.com/v1"\n'
    path = write(tmp_path / "config.toml", old)
    with pytest.raises(ConfigError, match="profile 'openai'"):
        remember_server(path, URL, MODEL)
    assert path.read_text() == old


def test_a_top_level_key_is_not_re_paired_with_the_saved_server(tmp_path):
    # api_key_env at the top level belongs to the top-level base_url (OpenAI
    # while none is set): saving base_url would send that key to the server.
    old = 'api_key_env = "MY_OPENAI_KEY"\n'
    path = write(tmp_path / "config.toml", old)
    with pytest.raises(ConfigError, match="api_key_env at the top level"):
        remember_server(path, URL, MODEL)
    assert path.read_text() == old


def test_a_broken_file_is_left_alone(tmp_path):
    old = "model = = 1\n"
    path = write(tmp_path / "config.toml", old)
    with pytest.raises(ConfigError, match="not valid TOML"):
        remember_server(path, URL, MODEL)
    assert path.read_text() == old


# -- the disk says no ------------------------------------------------------------


@contextlib.contextmanager
def small_mount(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``folder`` (needs root; skips the test otherwise)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def make_read_only(folder: Path) -> None:
    if os.geteuid() == 0:  # root ignores permissions: remount read-only instead
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        folder.chmod(0o500)


def test_a_read_only_folder_leaves_the_old_file_and_says_why(tmp_path):
    old = '# mine\n[prompts]\na = "b"\n'
    with small_mount(tmp_path / "ro", "64k") as folder:
        path = write(folder / "config.toml", old)
        make_read_only(folder)
        with pytest.raises(ConfigError) as caught:
            remember_server(path, URL, MODEL)
        assert str(path) in str(caught.value)
        assert "read-only" in str(caught.value).lower() or "permission" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert path.read_text() == old


def test_a_full_disk_leaves_the_old_file_whole(tmp_path):
    # The old file fills a 64 KiB disk to the last page: the new one, a little
    # longer, fits neither beside it nor in its place. The old one must
    # survive whole (truncating it and writing the new text would tear it).
    old = '[prompts]\nlong = "' + "x" * (65_536 - 64) + '"\n'
    with small_mount(tmp_path / "full", "64k") as folder:
        path = write(folder / "config.toml", old)
        with pytest.raises(ConfigError, match="cannot write"):
            remember_server(path, URL, MODEL)
        assert path.read_text() == old
        assert [p.name for p in folder.iterdir()] == ["config.toml"]
