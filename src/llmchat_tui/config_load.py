"""Building :class:`~llmchat_tui.config.Settings`: the start-up ones from flags, the
environment and the config file, and a copy for a profile picked in the app.

Above :mod:`llmchat_tui.config` (the settings and the file's reading) and
:mod:`llmchat_tui.config_target` (where requests go and which key goes with them),
so neither of those imports the other's caller. No Textual import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from llmchat_tui.config import (
    ConfigError,
    Layers,
    Settings,
    config_location,
    read_config_file,
)
from llmchat_tui.config_target import apply_target, layers_for, resolve_target


def load_settings(
    *,
    flags: dict[str, Any] | None = None,
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the start-up :class:`Settings` from flags, environment, config file, defaults.

    ``base_url``, ``model`` and the key follow the precedence in
    :mod:`llmchat_tui.config_target`; every other setting comes from a flag,
    then the environment (``LLMCHAT_DATA_DIR``), then the file. ``config_path``
    is the ``--config`` flag: a missing file is then an error.
    """
    env = os.environ if environ is None else environ
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    path, required = config_location(config_path, env)
    settings = Settings()
    settings.sources = {f.name: "default" for f in fields(Settings) if "doc" in f.metadata}

    file_values: dict[str, Any] = {}
    if required or path.exists():
        file_values = read_config_file(path)
    settings.config_file = path
    for key, value in file_values.items():
        setattr(settings, key, value)
        settings.sources[key] = f"config file {path}"

    if flags.get("profile"):
        settings.profile = flags["profile"]
        settings.sources["profile"] = "--profile"
    if settings.profile and settings.profile not in settings.profiles:
        known = ", ".join(sorted(settings.profiles)) or "none are defined"
        raise ConfigError(f"unknown profile {settings.profile!r} (profiles: {known})")

    if env.get("LLMCHAT_DATA_DIR"):
        settings.data_dir = env["LLMCHAT_DATA_DIR"]
        settings.sources["data_dir"] = "environment LLMCHAT_DATA_DIR"
    for key, value in flags.items():
        if key not in ("base_url", "model", "profile"):
            setattr(settings, key, value)
            settings.sources[key] = f"--{key.replace('_', '-')}"

    settings.layers = Layers(
        file=file_values,
        environ=env,
        flags=flags,
        profile=settings.profile,
        explicit=bool(flags.get("profile")),
        path=path,
    )
    apply_target(settings)
    return settings


def for_profile(settings: Settings, name: str) -> Settings:
    """A copy of ``settings`` for profile ``name`` picked in the app ("" = a plain copy).

    The profile's base_url, model, stream_usage and keys come from the config
    file's top level and that profile only (never from the start-up profile,
    nor from --base-url/--model); ``warnings`` says what the user should know.
    """
    copy = replace(settings)
    copy.sources = dict(settings.sources)
    copy.warnings = list(settings.warnings)
    if not name:
        return copy
    copy.layers = layers_for(settings, name)
    copy.profile = name
    apply_target(copy)
    return copy


def resolve_api_key(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The API key ``settings`` send: only one paired with their base URL ("" for none).

    See :func:`llmchat_tui.config_target.resolve_target`, which also says
    where the key came from and what to tell the user. Raises
    :class:`ConfigError` when the paired ``api_key_command`` fails.
    """
    return resolve_target(settings, environ=environ).api_key
