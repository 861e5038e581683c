"""Copying to the clipboard, and saying truthfully how it was done. No Textual import.

A terminal app has two ways to reach a clipboard:

* **OSC 52**: an escape sequence asking the *terminal* to set its clipboard. It works
  over SSH, but many terminals ignore it (or need it enabled: tmux's
  ``set-clipboard``), and the app cannot tell whether it worked.
* **A local tool** (wl-copy, xclip, xsel, pbcopy): works when the app runs on the
  desktop whose clipboard it is, and says whether it failed.

The app sends OSC 52 always and also uses a local tool when one fits the session;
:func:`describe` words the notification after what really happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

TOOL_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Tool:
    """A command that puts its standard input on the clipboard."""

    name: str
    argv: tuple[str, ...]


def local_tool(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> Tool | None:
    """The clipboard tool for this session, or None (no desktop here, or no tool).

    Wayland needs ``WAYLAND_DISPLAY``, X needs ``DISPLAY`` (so a plain SSH login,
    where a tool would fill the *remote* clipboard, uses OSC 52 only); macOS has
    pbcopy everywhere.
    """
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    path = env.get("PATH")
    candidates: list[Tool] = []
    if platform == "darwin":
        candidates.append(Tool("pbcopy", ("pbcopy",)))
    if env.get("WAYLAND_DISPLAY"):
        candidates.append(Tool("wl-copy", ("wl-copy",)))
    if env.get("DISPLAY"):
        candidates.append(Tool("xclip", ("xclip", "-selection", "clipboard", "-in")))
        candidates.append(Tool("xsel", ("xsel", "--clipboard", "--input")))
    for tool in candidates:
        found = shutil.which(tool.argv[0], path=path)
        if found:
            return Tool(tool.name, (found, *tool.argv[1:]))
    return None


def run_tool(tool: Tool, text: str) -> str | None:
    """Give ``text`` to ``tool``; None if it worked, else why not (blocking: run it in a
    thread). The tool's output is not read beyond its error text."""
    try:
        done = subprocess.run(
            tool.argv,
            input=text.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{tool.name} did not finish within {TOOL_TIMEOUT_S:g} s"
    except OSError as error:
        return f"{tool.name} could not run: {error.strerror or error}"
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = said[-1][:200] if said else f"exit status {done.returncode}"
        return f"{tool.name} failed: {reason}"
    return None


def describe(what: str, tool: Tool | None, error: str | None) -> str:
    """The notification after copying ``what`` ("the reply (1,204 characters)")."""
    if tool is not None and error is None:
        return f"Copied {what} to the clipboard (with {tool.name})."
    osc = (
        f"Sent {what} to the terminal's clipboard (OSC 52). If pasting gives "
        "nothing, this terminal ignores OSC 52 (in tmux: set -g set-clipboard on)."
    )
    if error is not None:
        return f"{error}. {osc}"
    return osc
