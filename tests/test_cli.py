"""The command line: global options anywhere, the usage line, exit statuses, completion."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app_pty import EXECUTABLE
from llmchat_tui import cli
from llmchat_tui.completion import commands_of, script, value_options
from llmchat_tui.models import Conversation, Message
from llmchat_tui.store import Store


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def one_saved(data_dir: Path) -> Conversation:
    conversation = Conversation(id="01HX0000000000000000000001", title="Saved one")
    conversation.add(Message("user", "hi"))
    store = Store(data_dir)
    store.open()
    store.save(conversation)
    store.close()
    return conversation


def test_global_options_before_or_after_the_command(data_dir, one_saved, capsys, tmp_path):
    expected = f"{one_saved.id}\t"
    for argv in (
        ["--model", "x", "list", "--data-dir", data_dir],
        ["--model=x", "--data-dir", data_dir, "list"],
        ["list", "--data-dir", data_dir, "-m", "x", "--profile", ""],
        ["-m", "x", "--data-dir", tmp_path / "other", "list", "--data-dir", data_dir],
    ):
        code, out, err = run(capsys, *argv)
        assert (code, err) == (0, ""), argv
        assert out.startswith(expected), argv
    # The one after the command wins; the one before is kept when none follows.
    assert run(capsys, "--data-dir", data_dir, "list", "--model", "y")[1].startswith(expected)
    assert run(capsys, "--data-dir", tmp_path / "nothing", "list") == (0, "", "")


def test_usage_line_and_help_name_the_commands_and_exit_statuses(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    usage = out.split("\n\n")[0]
    for name in cli.SUBCOMMANDS:
        assert name in usage, name
        assert f"\n  {name} " in out or f"\n  {name}\n" in out, name
    assert "exit status: 0 done; 1 failed" in out and "130 interrupted" in out
    for command in ("ask", "completion", "list"):
        with pytest.raises(SystemExit) as done:
            cli.main([command, "--help"])
        assert done.value.code == 0
        shown = capsys.readouterr().out
        assert shown.startswith(f"usage: llmchat-tui {command}")
        assert "--data-dir" in shown  # the global options are listed under each command


def test_exit_statuses(data_dir, one_saved, capsys, monkeypatch):
    # 2: argparse's usage errors.
    for argv in (["nosuchcommand"], ["list", "--bogus"], ["export"], ["completion", "tcsh"]):
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code == 2, argv
        assert capsys.readouterr().err.startswith("usage: llmchat-tui"), argv
    # 1: the command ran and failed.
    code, out, err = run(capsys, "export", "01NOPE", "--data-dir", data_dir)
    assert (code, out) == (1, "") and "no saved conversation 01NOPE" in err
    code, out, err = run(capsys, "import", data_dir / "missing.json", "--data-dir", data_dir)
    assert (code, out) == (1, "") and err.startswith("llmchat-tui: cannot read ")
    # 130: Ctrl+C, without a traceback.

    def interrupted(store):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_list", interrupted)
    code, out, err = run(capsys, "list", "--data-dir", data_dir)
    assert (code, out, err) == (130, "", "\n")


def test_option_values_are_consistent_for_completion():
    top, subs = commands_of(cli.build_parser())
    values = value_options(top, subs)  # raises if an option is a flag somewhere
    assert {"--model", "-m", "--data-dir", "--format", "--system", "--conversation"} <= set(values)
    assert [c.name for c in subs] == list(cli.SUBCOMMANDS)


BASH = shutil.which("bash")


def complete(words: list[str], cwd: Path) -> list[str]:
    """Source ``llmchat-tui completion bash`` and run its function on ``words`` (the
    last one being completed); the candidates it leaves in COMPREPLY."""
    assert BASH is not None and EXECUTABLE is not None
    quoted = " ".join(f"'{word}'" for word in words)
    program = (
        f'source <("{EXECUTABLE}" completion bash) || exit 9\n'
        f"COMP_WORDS=(llmchat-tui {quoted})\n"
        f"COMP_CWORD={len(words)}\n"
        "_llmchat_tui\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = dict(os.environ)
    env["PATH"] = f"{Path(EXECUTABLE).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [BASH, "--norc", "-c", program],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=30,
    )
    assert done.returncode == 0 and done.stderr == "", done
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.skipif(BASH is None or EXECUTABLE is None, reason="needs bash and llmchat-tui")
def test_bash_completion_completes_commands_options_and_values(tmp_path):
    (tmp_path / "chat-export.zip").write_text("x")
    (tmp_path / "folder").mkdir()
    assert complete(["ex"], tmp_path) == ["export"]
    assert complete([""], tmp_path) == list(cli.SUBCOMMANDS)
    # Global options (and their values) before the command are skipped over.
    assert complete(["--model", "llama3.2", "--data-dir", "d", "li"], tmp_path) == ["list"]
    assert complete(["--mo"], tmp_path) == ["--model"]
    assert complete(["ask", "--co"], tmp_path) == ["--continue", "--conversation", "--config"]
    assert complete(["export", "--format", ""], tmp_path) == ["md", "json"]
    assert complete(["completion", ""], tmp_path) == ["bash", "zsh", "fish"]
    assert complete(["trash", "r"], tmp_path) == ["restore"]
    assert complete(["import", "chat"], tmp_path) == ["chat-export.zip"]
    assert complete(["list", "--data-dir", "fo"], tmp_path) == ["folder"]
    assert complete(["ask", "-m", ""], tmp_path) == []  # a model name: nothing to offer
    # --option=value reaches the function split at "=", as bash splits it.
    assert complete(["--data-dir", "=", "d", "li"], tmp_path) == ["list"]
    assert complete(["export", "--format", "=", ""], tmp_path) == ["md", "json"]
    assert complete(["export", "--format", "=", "j"], tmp_path) == ["json"]


@pytest.mark.skipif(BASH is None or EXECUTABLE is None, reason="needs bash and llmchat-tui")
def test_bash_completion_offers_saved_ids_from_the_data_folder_on_the_line(
    data_dir, one_saved, tmp_path
):
    store = Store(data_dir)
    store.open()
    gone = Conversation(id="01HX0000000000000000000002", title="Deleted one")
    gone.add(Message("user", "bye"))
    store.save(gone)
    store.trash(gone.id)
    store.close()
    folder = str(data_dir)
    assert complete(["--data-dir", folder, "export", "01"], tmp_path) == [one_saved.id]
    assert complete(["export", "--data-dir", folder, ""], tmp_path) == [one_saved.id]
    assert complete(["ask", "--data-dir", "=", folder, "--conversation", ""], tmp_path) == [
        one_saved.id
    ]
    trashed = complete(["--data-dir", folder, "trash", "restore", ""], tmp_path)
    assert len(trashed) == 1 and trashed[0] != one_saved.id
    assert complete(["--data-dir", folder, "trash", "r"], tmp_path) == ["restore"]
    assert complete(["export", ""], tmp_path) == []  # the default folder holds nothing


def test_zsh_and_fish_scripts_name_every_command_and_option():
    parser = cli.build_parser()
    zsh = script("zsh", parser)
    assert "bashcompinit" in zsh and "complete -o filenames -F _llmchat_tui llmchat-tui" in zsh
    fish = script("fish", parser)
    for name in cli.SUBCOMMANDS:
        assert f"-a {name} " in fish, name
    assert "-l data-dir -r -F" in fish
    assert "-n '__fish_seen_subcommand_from export' -l format -s f -x -a 'md json'" in fish
    assert "-n '__fish_seen_subcommand_from ask' -s c -l continue" in fish


@pytest.mark.skipif(shutil.which("fish") is None or EXECUTABLE is None, reason="needs fish")
def test_fish_completion_through_fish(tmp_path, data_dir, one_saved):
    assert EXECUTABLE is not None
    program = (
        f'"{EXECUTABLE}" completion fish | source\n'
        'complete -C"llmchat-tui ex"\n'
        'complete -C"llmchat-tui export --format "\n'
        'complete -C"llmchat-tui --model x ask --co"\n'
        'complete -C"llmchat-tui export "\n'
    )
    env = dict(os.environ, LLMCHAT_DATA_DIR=str(data_dir))
    env["PATH"] = f"{Path(EXECUTABLE).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["fish", "--no-config", "-c", program],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=30,
    )
    assert done.returncode == 0 and done.stderr == "", done
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == [
        "export",
        "json",
        "md",
        "--config",
        "--continue",
        "--conversation",
        one_saved.id,  # with its title as the description
    ]
    assert done.stdout.splitlines()[-1] == f"{one_saved.id}\t{one_saved.title}"


@pytest.mark.skipif(shutil.which("zsh") is None or EXECUTABLE is None, reason="needs zsh")
def test_zsh_completion_loads_in_zsh(tmp_path):
    # zsh's bashcompinit runs the function with 0-based arrays and filters the
    # candidates itself (its compgen offers every word): check they are offered.
    program = (
        "autoload -U +X compinit && compinit -u\n"
        f'source <("{EXECUTABLE}" completion zsh) || exit 9\n'
        "setopt ksharrays\n"
        "COMP_WORDS=(llmchat-tui --model x ''); COMP_CWORD=3; _llmchat_tui\n"
        'print -l "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(llmchat-tui completion ''); COMP_CWORD=2; _llmchat_tui\n"
        'print -l "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["zsh", "-f", "-c", program], capture_output=True, text=True, cwd=tmp_path, timeout=30
    )
    assert done.returncode == 0 and done.stderr == "", done
    assert done.stdout.split() == [*cli.SUBCOMMANDS, "bash", "zsh", "fish"]
