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


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    return path
