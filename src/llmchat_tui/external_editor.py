"""Composing a message in the user's own editor ($VISUAL, then $EDITOR, then vi).

No Textual import: the prompt suspends the app around :func:`edit_text`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping


class EditorError(Exception):
    """The editor could not be started, or it failed; the text is unchanged."""


def editor_command(environ: Mapping[str, str] | None = None) -> list[str]:
    """The editor to run, as argv: ``$VISUAL``, else ``$EDITOR``, else ``vi``.

    The variables may hold arguments (``code --wait``), split as a shell would.
    Raises :class:`EditorError` when the command is not usable.
    """
    env = os.environ if environ is None else environ
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "").strip()
        if value:
            try:
                argv = shlex.split(value)
            except ValueError as error:
                raise EditorError(f"${name} cannot be read ({error}): {value!r}") from None
            if argv:
                return argv
    return ["vi"]


def edit_text(text: str, argv: list[str], environ: Mapping[str, str] | None = None) -> str:
    """Open ``text`` in the editor ``argv`` and return what was saved (blocking).

    The text is in a private temporary file (0600, removed afterwards), named
    ``.md`` so editors highlight Markdown. The final newline most editors add is
    dropped. Raises :class:`EditorError` if the editor is missing or exits with a
    failure status (the user quit without saving, e.g. vim's ``:cq``).
    """
    env = dict(os.environ if environ is None else environ)
    program = shutil.which(argv[0], path=env.get("PATH"))
    if program is None:
        raise EditorError(f"the editor {argv[0]!r} was not found (set $VISUAL or $EDITOR)")
    fd, name = tempfile.mkstemp(prefix="llmchat-message-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        try:
            done = subprocess.run([program, *argv[1:], name], env=env, check=False)
        except OSError as error:
            raise EditorError(f"{argv[0]} could not start: {error.strerror or error}") from None
        if done.returncode != 0:
            raise EditorError(
                f"{argv[0]} exited with status {done.returncode}; the message is unchanged"
            )
        with open(name, encoding="utf-8", errors="replace", newline=None) as file:
            edited = file.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
    return edited[:-1] if edited.endswith("\n") else edited
