"""Generate the README's key table and config reference from the code (a developer tool).

    python scripts/readme_blocks.py          # print the blocks
    python scripts/readme_blocks.py --write  # rewrite them in README.md

A test (tests/test_layering.py) fails when the README and the code disagree.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def key_table() -> str:
    """Every binding with its default keys."""
    from llmchat_tui.keytable import key_table as table

    return table()


def config_reference() -> str:
    """Every documented setting with its default and meaning."""
    from llmchat_tui.config import Settings

    lines = ["| Key | Default | Meaning |", "|---|---|---|"]
    for name, default, doc in Settings.documented_fields():
        if isinstance(default, bool):
            shown = "true" if default else "false"
        elif default is None:
            shown = "(unset)"
        elif isinstance(default, dict):
            shown = "{}"
        elif isinstance(default, str):
            shown = f'"{default}"'
        else:
            shown = f"{default:g}" if isinstance(default, float) else str(default)
        lines.append(f"| `{name}` | `{shown}` | {doc} |")
    return "\n".join(lines)


def precedence_table() -> str:
    """Where a request goes and which key it carries, highest first."""
    from llmchat_tui.config_target import precedence_markdown

    return precedence_markdown()


BLOCKS: dict[str, Callable[[], str]] = {
    "keys": key_table,
    "config": config_reference,
    "precedence": precedence_table,
}


def render_readme(text: str) -> str:
    """``text`` with every generated block replaced by what the code says now."""
    for name, make in BLOCKS.items():
        begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
        pattern = re.compile(rf"{re.escape(begin)}(?:.*?\n)?{re.escape(end)}", re.S)
        text = pattern.sub(begin + make().replace("\\", "\\\\") + "\n" + end, text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Print the blocks, or rewrite them in README.md with ``--write``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--write"]:
        README.write_text(render_readme(README.read_text()))
        return 0
    for make in BLOCKS.values():
        print(make())
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
