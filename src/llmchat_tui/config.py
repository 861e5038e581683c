"""Settings: command-line flags > environment > TOML config file > defaults.

Every setting is a field of :class:`Settings` with a default and a one-line
description (``doc``); the README's config reference is generated from these.
No Textual import here.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import tomllib
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from llmchat_tui import paths

DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_BASE_URL = "https://api.openai.com/v1"


class ConfigError(Exception):
    """A problem with the configuration, worded for the user in one line."""


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
        "Context sizes in tokens by model name or prefix, overriding the built-in table.",
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
    config_file: Path | None = field(default=None, repr=False, compare=False)

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
        if not isinstance(value, types):
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


def load_settings(
    *,
    flags: dict[str, Any] | None = None,
    config_path: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build :class:`Settings` from flags > environment > config file > defaults.

    ``config_path`` is the ``--config`` flag: a missing file is then an
    error; the default file may be absent.
    """
    env = os.environ if environ is None else environ
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    explicit = config_path is not None
    path = config_path or paths.default_config_file()
    settings = Settings()
    settings.sources = {f.name: "default" for f in fields(Settings) if "doc" in f.metadata}

    file_values: dict[str, Any] = {}
    if explicit or path.exists():
        file_values = read_config_file(path)
        settings.config_file = path
    for key, value in file_values.items():
        setattr(settings, key, value)
        settings.sources[key] = f"config file {path}"

    if flags.get("profile"):
        settings.profile = flags["profile"]
        settings.sources["profile"] = "--profile"
    if settings.profile:
        if settings.profile not in settings.profiles:
            known = ", ".join(sorted(settings.profiles)) or "none are defined"
            raise ConfigError(f"unknown profile {settings.profile!r} (profiles: {known})")
        for key, value in settings.profiles[settings.profile].items():
            setattr(settings, key, value)
            settings.sources[key] = f"profile {settings.profile}"

    env_map = {
        "model": "LLMCHAT_MODEL",
        "base_url": "OPENAI_BASE_URL",
        "data_dir": "LLMCHAT_DATA_DIR",
    }
    for key, var in env_map.items():
        value = env.get(var)
        if value:
            setattr(settings, key, value)
            settings.sources[key] = f"environment {var}"

    for key, value in flags.items():
        setattr(settings, key, value)
        settings.sources[key] = f"--{key.replace('_', '-')}"

    settings.base_url = settings.base_url.rstrip("/") or OPENAI_BASE_URL
    return settings


def for_profile(settings: Settings, name: str) -> Settings:
    """A copy of ``settings`` with profile ``name`` applied ("" = the base settings).

    Flags and environment still win over the profile for the default profile
    only; switching profile in the app uses the profile's own values.
    """
    copy = replace(settings)
    copy.sources = dict(settings.sources)
    if not name:
        return copy
    if name not in settings.profiles:
        raise ConfigError(f"unknown profile {name!r}")
    copy.profile = name
    for key, value in settings.profiles[name].items():
        setattr(copy, key, value)
    copy.base_url = copy.base_url.rstrip("/") or OPENAI_BASE_URL
    return copy


def remember_server(path: Path, base_url: str, model: str) -> None:
    """Save a server picked at first run into the config file at ``path``.

    Creates the file (0600, folder 0700) or appends to one that sets neither
    ``base_url`` nor ``model``; refuses to rewrite settings the user wrote.
    """
    lines = [
        "# Saved by llmchat-tui when you picked a local server at first run.",
        f"base_url = {json.dumps(base_url)}",
        f"model = {json.dumps(model)}",
        "",
    ]
    if path.exists():
        current = read_config_file(path)
        if "base_url" in current or "model" in current:
            raise ConfigError(f"{path} already sets base_url or model; edit it by hand")
        existing = path.read_text("utf-8")
        text = existing + ("" if existing.endswith("\n") or not existing else "\n") + "\n"
        text += "\n".join(lines)
    else:
        text = "\n".join(lines)
    paths.make_private_dirs(path.parent)  # new folders 0700 whatever the umask
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def config_file_exposes_key(path: Path) -> bool:
    """True when ``path`` holds an ``api_key`` and others can read it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def resolve_api_key(settings: Settings, environ: dict[str, str] | None = None) -> str:
    """The API key: from ``api_key_command``, then the env variable, then ``api_key``.

    Local servers need no key; the SDK insists on one, so a placeholder is
    used when none is configured. Raises :class:`ConfigError` when the
    command fails (its output is never shown: it could be the key).
    """
    env = os.environ if environ is None else environ
    if settings.api_key_command:
        try:
            done = subprocess.run(
                shlex.split(settings.api_key_command),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, ValueError, subprocess.TimeoutExpired) as error:
            raise ConfigError(f"api_key_command failed to run: {type(error).__name__}") from None
        if done.returncode != 0:
            raise ConfigError(f"api_key_command exited with status {done.returncode}")
        key = done.stdout.strip().splitlines()[0].strip() if done.stdout.strip() else ""
        if not key:
            raise ConfigError("api_key_command printed nothing")
        return key
    key = env.get(settings.api_key_env, "")
    if key:
        return key
    return settings.api_key


def api_key_hint(settings: Settings) -> str:
    """Where the user should put an API key, for error messages."""
    if settings.api_key_command:
        return f"check api_key_command ({settings.api_key_command.split()[0]}) in the config file"
    return f"set {settings.api_key_env} or api_key_command in the config file"
