"""Where llmchat-tui keeps its files.

Every location is computed by a function (never at import time) so tests and
the ``--data-dir`` / ``--config`` flags can redirect them.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "llmchat-tui"


def config_dir() -> Path:
    """The folder holding ``config.toml`` (``$XDG_CONFIG_HOME/llmchat-tui`` on Linux)."""
    return Path(platformdirs.user_config_dir(APP_NAME))


def default_config_file() -> Path:
    """The config file used when ``--config`` is not given."""
    return config_dir() / "config.toml"


def data_dir() -> Path:
    """The folder holding saved conversations.

    ``LLMCHAT_DATA_DIR`` overrides the platform default
    (``$XDG_DATA_HOME/llmchat-tui`` on Linux).
    """
    override = os.environ.get("LLMCHAT_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME))


def log_dir() -> Path:
    """The folder holding the log file (``$XDG_STATE_HOME/llmchat-tui/log`` on Linux)."""
    return Path(platformdirs.user_log_dir(APP_NAME))


def log_file() -> Path:
    """The log file: details of every error, never shown on screen."""
    return log_dir() / "llmchat-tui.log"


def cache_dir() -> Path:
    """The folder for caches that can be rebuilt (token encodings)."""
    return Path(platformdirs.user_cache_dir(APP_NAME))


PRIVATE_DIR_MODE = 0o700


def make_private_dirs(path: Path) -> Path:
    """Create ``path`` and any missing parents, each new folder exactly 0700.

    The mode does not depend on the umask (``mkdir -p`` would make parents
    0777 under ``umask 000``), as the XDG base directory spec asks for the
    folders it names. Folders that already exist are left as they are, so
    this is safe for a folder the user chose (an export's destination).
    Raises ``OSError`` if a folder cannot be created.
    """
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to change
        os.chmod(folder, PRIVATE_DIR_MODE)  # the umask may have taken bits away
    return path


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents, as :func:`make_private_dirs`) and make it 0700.

    For the app's own folders (data, conversations, trash, log, cache): an
    existing one is made 0700 too. Raises ``OSError`` if it cannot be created.
    """
    make_private_dirs(path)
    try:
        os.chmod(path, PRIVATE_DIR_MODE)
    except OSError:
        pass
    return path
