"""Writing the config file without ever breaking the next start.

The one writer today saves the server picked at first run
(:func:`remember_server`). The file is edited as text so that every comment,
blank line, line ending and table the user wrote stays byte for byte; the new
``key = value`` lines are rendered by tomlkit (correct TOML for any model
name) and go at the top level, after the last top-level key and before the
comments that lead into the first table. The new text is checked with the
reader the app uses at start-up before it replaces the old file atomically
(temp file, fsync, rename, fsync of the folder; 0600), and the file on disk is
read back afterwards. On any failure the old file is left as it was and
:class:`~llmchat_tui.config.ConfigError` says why in one line. No Textual.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from pathlib import Path
from typing import Any

import tomlkit

from llmchat_tui.config import ConfigError, parse_config, read_config_file
from llmchat_tui.store import atomic_write_bytes

SAVED_COMMENT = "# Saved by llmchat-tui when you picked a local server at first run."


def remember_server(path: Path, base_url: str, model: str) -> None:
    """Save ``base_url`` and ``model`` as top-level settings of the config file ``path``.

    Creates the file (0600; missing folders 0700) or adds the two keys to it.
    Refuses, leaving the file as it is, when the file already sets either key,
    when its default profile sets them (the saved values would not be used),
    or when it holds a top-level key setting (that key would start going to
    the saved server). A symlinked file stays a symlink: its target is
    rewritten.
    """
    target = path.resolve() if path.is_symlink() else path
    exists = target.exists()
    old = _read(target, path) if exists else b""
    current = parse_config(old, path) if exists else {}
    _refuse_to_shadow(path, current, base_url, model)
    values = {"base_url": base_url, "model": model}
    try:
        new = add_top_level(old.decode("utf-8"), values, SAVED_COMMENT).encode("utf-8")
    except UnicodeError:
        raise ConfigError(f"not saved to {path}: the model name is not valid text") from None
    expected = {**current, **values}
    try:
        ok = parse_config(new, path) == expected
    except ConfigError:
        ok = False
    if not ok:
        raise ConfigError(f"not saved: the new text of {path} would not load as written")
    try:
        _make_folder(target.parent)
        atomic_write_bytes(target, new, 0o600)
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        written: Any = read_config_file(target)
    except ConfigError as error:
        written = error
    if written != expected:
        _put_back(target, old if exists else None)
        raise ConfigError(f"not saved: {path} did not read back as written; it was put back")


def add_top_level(text: str, values: dict[str, str], comment: str = "") -> str:
    """``text`` (a valid TOML document) with ``values`` added as top-level keys.

    The keys go after the last top-level key; comments and blank lines that
    lead into the first table stay with it. Lines use the file's line ending.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    document = tomlkit.document()
    for key, value in values.items():
        document.add(key, value)
    rendered = tomlkit.dumps(document).splitlines()
    block = "".join(line + newline for line in ([comment] if comment else []) + rendered)

    lines = text.splitlines(keepends=True)
    first_table = _first_table(lines)
    keys_end = _end_of_keys(lines, first_table)
    head, lead_in, tables = lines[:keys_end], lines[keys_end:first_table], lines[first_table:]
    if head:
        if not head[-1].endswith(("\n", "\r")):  # the file's last line
            head[-1] += newline
        parts = [*head, newline, block]
    else:
        # Only comments before the first table: a leading paragraph (ended by
        # a blank line) is the file's header and stays on top.
        blank = next((i for i, line in enumerate(lead_in) if not line.strip()), None)
        header = lead_in[: blank + 1] if blank is not None else []
        lead_in = lead_in[len(header) :]
        parts = [*header, block]
    if (lead_in or tables) and not (lead_in and not lead_in[0].strip()):
        parts.append(newline)
    return "".join(parts + lead_in + tables)


def _parses(text: str) -> bool:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return True


def _first_table(lines: list[str]) -> int:
    """The index of the first table header line (``len(lines)`` when there is none).

    A line is a header when it starts with ``[`` and everything before it is
    a complete TOML document (so it is not inside a string or an array).
    """
    for index, line in enumerate(lines):
        if line.lstrip().startswith("[") and _parses("".join(lines[:index])):
            return index
    return len(lines)


def _end_of_keys(lines: list[str], first_table: int) -> int:
    """The index just after the last top-level key line before ``first_table``."""
    end = first_table
    while end > 0:
        line = lines[end - 1].strip()
        if line and not line.startswith("#"):
            break
        if not _parses("".join(lines[: end - 1])):
            break  # a '#' line inside a multi-line string
        end -= 1
    return end


def _refuse_to_shadow(path: Path, current: dict[str, Any], base_url: str, model: str) -> None:
    """Raise when the saved values would overwrite the user's or not be used."""
    written = [key for key in ("base_url", "model") if key in current]
    if written:
        raise ConfigError(
            f"not saved: {path} already sets {' and '.join(written)} (written by hand); "
            f"edit it there to use {base_url} with model {model}"
        )
    keys = [key for key in ("api_key", "api_key_env", "api_key_command") if key in current]
    if keys:
        # A top-level key belongs to the top-level base_url: saving one would
        # start sending that key to the picked server.
        raise ConfigError(
            f"not saved: {path} sets {' and '.join(keys)} at the top level, which would then "
            f"go to {base_url}; add a [profiles.NAME] table for the server instead"
        )
    profile = current.get("profile", "")
    table = current.get("profiles", {}).get(profile, {}) if profile else {}
    shadowing = [key for key in ("base_url", "model") if key in table]
    if shadowing:
        raise ConfigError(
            f"not saved: in {path} the default profile {profile!r} sets "
            f"{' and '.join(shadowing)}, which would win over a saved server; edit that profile"
        )


def _read(target: Path, shown: Path) -> bytes:
    try:
        return target.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config file {shown}: {error.strerror or error}") from None


def _make_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents 0700; an existing folder keeps its mode."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(mode=0o700)
        os.chmod(created, 0o700)  # whatever the umask


def _put_back(target: Path, old: bytes | None) -> None:
    """Undo a write that did not read back as expected."""
    with contextlib.suppress(OSError):
        if old is None:
            target.unlink()
        else:
            atomic_write_bytes(target, old, 0o600)
