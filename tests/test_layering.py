"""The core imports no Textual; widgets never import the app module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "llmchat_tui"
CORE = [
    "config",
    "config_file",
    "config_target",
    "config_load",
    "paths",
    "budget",
    "blocks",
    "discovery",
    "exporting",
    "importing",
    "models",
    "store",
    "tokens",
    "llm",
    "llm.client",
    "llm.errors",
    "llm.events",
    "llm.server_info",
    "generation",
    "session",
    "sanitize",
    "keymap",
    "outbox",
    "screens.composer",
    "tee",
    "titles",
    "find",
    "attachments",
    "request_options",
    "external_editor",
    "clipboard",
    "ask",
    "completion",
    "factory",
]


def test_core_modules_import_no_textual():
    code = (
        "import sys\n"
        + "".join(f"import llmchat_tui.{name}\n" for name in CORE)
        + "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_widgets_and_screens_do_not_import_the_app():
    for folder in ("widgets", "screens"):
        for path in (SRC / folder).glob("*.py"):
            assert "llmchat_tui.app" not in imported_modules(path), path


def test_readme_key_table_and_config_reference_match_the_code():
    from readme_blocks import render_readme

    readme = (SRC.parents[1] / "README.md").read_text()
    assert render_readme(readme) == readme, (
        "README is out of date: run python scripts/readme_blocks.py --write"
    )
    assert "<!-- keys:begin -->\n| Where | Keys |" in readme


def test_every_binding_has_an_id():
    from llmchat_tui.keytable import binding_rows

    missing = [(where, keys) for where, keys, _what, binding_id in binding_rows() if not binding_id]
    assert not missing


def test_app_keys_do_not_clash_with_the_prompt_or_inputs():
    """A key the prompt (TextArea) or an Input binds never reaches the app."""
    from textual.widgets import Input, TextArea

    from llmchat_tui.keytable import APP_BINDINGS
    from llmchat_tui.screens.chat import ChatScreen

    def keys(bindings):
        return {key.strip() for b in bindings for key in b.key.split(",")}

    # Esc is meant to reach the screen from the prompt (it stops a reply).
    taken = keys(TextArea.BINDINGS) | keys(Input.BINDINGS)
    clashes = keys([*APP_BINDINGS, *ChatScreen.BINDINGS]) & taken
    # Ctrl+Z undoes a delete only for a few seconds after one (a priority binding
    # that skips itself otherwise, so the prompt's undo still gets the key).
    assert clashes == {"ctrl+z"}, clashes


def test_ci_runs_exactly_the_readme_setup_commands():
    root = SRC.parents[1]
    readme = (root / "README.md").read_text()
    block = readme.split("<!-- setup:begin -->")[1].split("<!-- setup:end -->")[0]
    commands = [line for line in block.splitlines() if line and line[0].isalpha()]
    ci = [
        line
        for line in (root / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith(("#", " ")) and line[0].isalpha()
    ]
    assert commands[0] == "pip install -e '.[test]'" and commands[-1] == "pytest"
    assert {"ruff check .", "ruff format --check .", "mypy"} <= set(commands)
    assert ci[-len(commands) :] == commands
