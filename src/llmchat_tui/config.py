"""Settings: command-line flags > environment > TOML config file > defaults.

Every setting is a field of :class:`Settings` with a default and a one-line
description (``doc``); the README's config reference is generated from these.
No Textual import here.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from llmchat_tui import paths

DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_BASE_URL = "https://api.openai.com/v1"


class ConfigError(Exception):
    """A problem with the configuration, worded for the user in one line."""


@dataclass(frozen=True)
class Layers:
    """What settings were built from, kept so any profile's target can be rebuilt.

    ``file`` is the checked config file (``profiles`` included), ``flags``
    the command-line flags (they shape the start-up target only), ``profile``
    the profile in effect and ``explicit`` whether it was chosen (``--profile``,
    F4, a conversation's saved profile) rather than the file's default. See
    :mod:`llmchat_tui.config_target` for how they combine.
    """

    file: Mapping[str, Any] = field(default_factory=dict, repr=False)  # may hold a key
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    flags: Mapping[str, Any] = field(default_factory=dict)
    profile: str = ""
    explicit: bool = False
    path: Path | None = None


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"doc": text}, **kwargs)


@dataclass
class Settings:
    """All settings of llmchat-tui, each with its default."""

    model: str = _doc(
        "Model to chat with (env LLMCHAT_MODEL, flag --model).", default=DEFAULT_MODEL
    )
    base_url: str = _doc(
        "OpenAI-compatible API base URL (env OPENAI_BASE_URL, flag --base-url).",
        default=OPENAI_BASE_URL,
    )
    api_key: str = _doc(
        "API key. Prefer api_key_env or api_key_command so the key is not in a file.",
        default="",
    )
    api_key_env: str = _doc(
        "Name of the environment variable holding the API key.", default="OPENAI_API_KEY"
    )
    api_key_command: str = _doc(
        "Command whose output is the API key, e.g. 'pass show openai'.", default=""
    )
    system_prompt: str = _doc("System prompt for new conversations (empty: none).", default="")
    stream_usage: bool = _doc(
        "Ask the server for token usage (stream_options.include_usage); "
        "turn off for servers that reject it.",
        default=True,
    )
    temperature: float | None = _doc(
        "Sampling temperature sent with each request (unset: the server's default).",
        default=None,
    )
    auto_title: bool = _doc(
        "After a conversation's first reply, ask the model for a title of a few words "
        "(in the background; a title you give always wins). Off: the first line of the "
        "first message.",
        default=True,
    )
    title_model: str = _doc(
        "Model that writes titles, on the conversation's server (empty: the "
        "conversation's own model).",
        default="",
    )
    connect_timeout: float = _doc(
        "Seconds to wait for the server to accept a connection.", default=10.0
    )
    stall_timeout: float = _doc(
        "Seconds without a byte from the server before a reply is stopped as stalled.",
        default=60.0,
    )
    retry_attempts: int = _doc(
        "Retries of a request that failed before its first token (429, 5xx, timeouts, "
        "connection errors); 0 turns retrying off.",
        default=4,
    )
    retry_base: float = _doc("Seconds before the first retry; doubles each time.", default=1.0)
    retry_cap: float = _doc(
        "Longest wait between retries, in seconds (a server's Retry-After is honoured).",
        default=30.0,
    )
    tee_file: str = _doc(
        "Append every reply to this file as it streams, as Markdown (flag --tee).", default=""
    )
    data_dir: str = _doc(
        "Folder for saved conversations (env LLMCHAT_DATA_DIR, flag --data-dir; "
        "empty: the platform's user data folder).",
        default="",
    )
    profile: str = _doc(
        "Provider profile used for new conversations (a name under [profiles]; flag --profile).",
        default="",
    )
    profiles: dict[str, dict[str, Any]] = _doc(
        "Named providers: [profiles.NAME] with base_url, model, api_key_env, "
        "api_key_command, api_key, stream_usage.",
        default_factory=dict,
    )
    prompts: dict[str, str] = _doc(
        'Named reusable system prompts: [prompts] NAME = "text".', default_factory=dict
    )
    context_windows: dict[str, int] = _doc(
        "Context sizes in tokens by model name or prefix; beat what the server reports and the "
        "built-in table.",
        default_factory=dict,
    )
    prices: dict[str, dict[str, float]] = _doc(
        'Prices in dollars per million tokens: [prices."MODEL"] input = 0.15, output = 0.6.',
        default_factory=dict,
    )
    theme: str = _doc(
        "Textual theme name (the last one picked in the app is remembered).", default="textual-dark"
    )
    keymap: dict[str, str] = _doc(
        "Key overrides: binding id = 'key[,key...]' (see the key table).",
        default_factory=dict,
    )

    # Where each value came from, for `llmchat-tui paths` and error messages.
    sources: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: The config file in use (it may not exist yet: the first-run choice is saved there).
    config_file: Path | None = field(default=None, repr=False, compare=False)
    #: The inputs these settings were built from (None: built in code).
    layers: Layers | None = field(default=None, repr=False, compare=False)
    #: What the user should be told once about these settings (keys withheld, ...).
    warnings: list[str] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def documented_fields(cls) -> list[tuple[str, Any, str]]:
        """(name, default, description) of every user-facing setting."""
        out = []
        for f in fields(cls):
            if "doc" not in f.metadata:
                continue
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            out.append((f.name, default, f.metadata["doc"]))
        return out

    @property
    def model_is_explicit(self) -> bool:
        return self.sources.get("model", "default") != "default"


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "base_url": (str,),
    "api_key": (str,),
    "api_key_env": (str,),
    "api_key_command": (str,),
    "system_prompt": (str,),
    "stream_usage": (bool,),
    "temperature": (int, float),
    "auto_title": (bool,),
    "title_model": (str,),
    "connect_timeout": (int, float),
    "stall_timeout": (int, float),
    "retry_attempts": (int,),
    "retry_base": (int, float),
    "retry_cap": (int, float),
    "data_dir": (str,),
    "tee_file": (str,),
    "theme": (str,),
    "keymap": (dict,),
    "profile": (str,),
    "profiles": (dict,),
    "prompts": (dict,),
    "context_windows": (dict,),
    "prices": (dict,),
}

PROFILE_KEYS: dict[str, tuple[type, ...]] = {
    "base_url": (str,),
    "model": (str,),
    "api_key": (str,),
    "api_key_env": (str,),
    "api_key_command": (str,),
    "stream_usage": (bool,),
}


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML file at ``path`` into checked values.

    Raises :class:`ConfigError` with a one-line message naming the file.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
    return parse_config(raw, path)


def parse_config(raw: bytes, path: Path) -> dict[str, Any]:
    """Check the bytes of a config file (named ``path`` in messages), as the app does at start."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    checked: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _FIELD_TYPES:
            known = ", ".join(sorted(_FIELD_TYPES))
            raise ConfigError(f"config file {path}: unknown setting {key!r} (known: {known})")
        types = _FIELD_TYPES[key]
        if isinstance(value, bool) and bool not in types:
            raise ConfigError(
                f"config file {path}: {key} must be {_type_name(types)}, not a boolean"
            )
        if not _is_a(value, types):
            raise ConfigError(
                f"config file {path}: {key} must be {_type_name(types)}, "
                f"not {type(value).__name__} {value!r}"
            )
        if key == "keymap":
            for binding_id, keys in value.items():
                if not isinstance(keys, str):
                    raise ConfigError(f"config file {path}: keymap.{binding_id} must be a string")
        if key in ("profiles", "prompts", "context_windows", "prices"):
            _check_table(path, key, value)
        if key in ("connect_timeout", "stall_timeout") and value <= 0:
            raise ConfigError(f"config file {path}: {key} must be more than 0")
        if key in ("retry_attempts", "retry_base", "retry_cap") and value < 0:
            raise ConfigError(f"config file {path}: {key} must not be negative")
        checked[key] = float(value) if float in types and not isinstance(value, bool) else value
    return checked


def _is_a(value: Any, types: tuple[type, ...]) -> bool:
    """``isinstance`` without narrowing ``value`` (it stays ``Any`` for the checks after)."""
    return isinstance(value, types)


def _check_table(path: Path, key: str, table: dict[str, Any]) -> None:
    """Check the nested tables (profiles, prompts, context windows, prices)."""
    where = f"config file {path}"
    for name, value in table.items():
        if key == "prompts" and not isinstance(value, str):
            raise ConfigError(f"{where}: prompts.{name} must be a string")
        if key == "context_windows" and (
            isinstance(value, bool) or not isinstance(value, int) or value <= 0
        ):
            raise ConfigError(f"{where}: context_windows.{name} must be a positive whole number")
        if key == "prices":
            if not isinstance(value, dict) or set(value) - {"input", "output"}:
                raise ConfigError(f"{where}: prices.{name} must be a table with input and output")
            for side, amount in value.items():
                if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                    raise ConfigError(f"{where}: prices.{name}.{side} must be a number ≥ 0")
        if key == "profiles":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: profiles.{name} must be a table")
            for field_name, field_value in value.items():
                types = PROFILE_KEYS.get(field_name)
                if types is None:
                    known = ", ".join(PROFILE_KEYS)
                    raise ConfigError(
                        f"{where}: unknown key profiles.{name}.{field_name} (known: {known})"
                    )
                if not isinstance(field_value, types):
                    raise ConfigError(
                        f"{where}: profiles.{name}.{field_name} must be {_type_name(types)}"
                    )


def _type_name(types: tuple[type, ...]) -> str:
    if float in types:
        return "a number"
    return {str: "a string", bool: "true or false", dict: "a table", int: "a whole number"}[
        types[0]
    ]


def config_location(config_path: Path | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The config file to use and whether it must exist.

    ``--config`` (must exist) beats ``LLMCHAT_CONFIG`` (may be created at
    first run), which beats the platform's default file.
    """
    if config_path is not None:
        return config_path, True
    named = environ.get("LLMCHAT_CONFIG", "")
    if named:
        return Path(named).expanduser(), False
    return paths.default_config_file(), False


def config_file_exposes_key(path: Path) -> bool:
    """True when ``path`` holds an ``api_key`` and others can read it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def starting_theme(settings: Settings, remembered: object, remembered_at: object) -> str:
    """The theme to start with: the one last picked in the app, unless the config
    file sets ``theme`` and was edited after that pick (then the file wins)."""
    if not isinstance(remembered, str) or not remembered:
        return settings.theme
    if not settings.sources.get("theme", "").startswith("config file"):
        return remembered
    path = settings.config_file
    try:
        edited = path.stat().st_mtime if path is not None else None
    except OSError:
        edited = None
    picked = remembered_at if isinstance(remembered_at, int | float) else None
    if edited is not None and (picked is None or edited > picked):
        return settings.theme
    return remembered
