"""Where a request goes, and which API key goes with it. No Textual import.

The rule (the README's precedence tables are generated from the rows below,
and a test keeps them equal):

**Where the request goes** (``base_url``), highest first: the ``--base-url``
flag; the explicitly chosen profile's ``base_url`` (``--profile``, a
conversation's saved profile, or F4); ``OPENAI_BASE_URL`` (only when no
profile was chosen explicitly); the ``base_url`` of the config file's default
profile (``profile = "NAME"``); the file's top-level ``base_url``; the
default ``https://api.openai.com/v1``. The model follows the same order with
``--model`` and ``LLMCHAT_MODEL`` (which, unlike ``OPENAI_BASE_URL``, still
applies to an explicit profile that names no model). Flags describe the
start-up target: a profile picked later in the app (F4, or a conversation
saved with another profile) is built from the file's top level and that
profile only.

**Which key goes with it.** Every key source has an owner URL: a profile's
``api_key_command``/``api_key_env``/``api_key`` belong to that profile's
``base_url`` (a profile without one inherits the top-level ``base_url``, or
the default); the file's top-level ones belong to the top-level ``base_url``
(or the default); the ambient ``OPENAI_API_KEY`` (used when neither the
profile nor the top level names an ``api_key_env``) belongs to
``OPENAI_BASE_URL`` when that is set, else to the default. The key sent is
that of the highest source that holds a key and whose owner equals the request
URL (compared by scheme, host, port and path without a trailing slash). When
none does, no key is sent and a warning names the key withheld. A key that
would cross plain ``http://`` to a host that is neither loopback nor private
is still sent (the user paired them) with a warning. Names are never resolved
through DNS: any name but ``localhost`` counts as public. A key is never put
in a warning.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from llmchat_tui.config import (
    DEFAULT_MODEL,
    OPENAI_BASE_URL,
    ConfigError,
    Layers,
    Settings,
)
from llmchat_tui.sanitize import clean_line

AMBIENT_KEY = "OPENAI_API_KEY"


@dataclass(frozen=True)
class Target:
    """Where one profile's requests go, with what model, and the key paired with it."""

    profile: str
    base_url: str
    model: str
    stream_usage: bool
    #: The key to send; "" when none is paired with ``base_url`` (or not read yet).
    api_key: str = field(repr=False)
    #: Where the key comes from, e.g. "WORK_KEY (api_key_env of profile work)"; "" for none.
    key_source: str
    #: What to do when the server rejects the key (shown with a 401/403).
    key_hint: str
    #: Things to tell the user once: keys withheld, keys sent in the clear.
    warnings: list[str]


# -- precedence of base_url and model -------------------------------------------


def _chosen(layers: Layers) -> Mapping[str, Any]:
    """The table of the profile in effect ({} for none)."""
    profiles = layers.file.get("profiles", {})
    table = profiles.get(layers.profile, {}) if layers.profile else {}
    return table if isinstance(table, Mapping) else {}


@dataclass(frozen=True)
class Row:
    """One row of a precedence table: a source, when it applies, and its value."""

    source: str
    when: str
    value: Callable[[Layers], str]
    label: Callable[[Layers], str]


def _rows(setting: str, flag: str, env: str, env_when: str, default: str) -> tuple[Row, ...]:
    return (
        Row(
            f"`{flag}` flag",
            "the start-up target only (not a profile picked later in the app)",
            lambda lay: str(lay.flags.get(setting) or ""),
            lambda lay: flag,
        ),
        Row(
            f"the chosen profile's `{setting}`",
            "a profile chosen explicitly: `--profile`, a conversation's saved profile, F4",
            lambda lay: str(_chosen(lay).get(setting) or "") if lay.explicit else "",
            lambda lay: f"profile {lay.profile}",
        ),
        Row(
            f"`{env}` environment variable",
            env_when,
            lambda lay: (
                "" if env == "OPENAI_BASE_URL" and lay.explicit else str(lay.environ.get(env) or "")
            ),
            lambda lay: f"environment {env}",
        ),
        Row(
            f"the default profile's `{setting}`",
            'the config file\'s `profile = "NAME"`',
            lambda lay: "" if lay.explicit else str(_chosen(lay).get(setting) or ""),
            lambda lay: f"profile {lay.profile}",
        ),
        Row(
            f"top-level `{setting}` in the config file",
            "also for a profile that sets none",
            lambda lay: str(lay.file.get(setting) or ""),
            lambda lay: f"config file {lay.path}",
        ),
        Row(f"`{default}`", "the default", lambda lay: default, lambda lay: "default"),
    )


BASE_URL_ROWS = _rows(
    "base_url",
    "--base-url",
    "OPENAI_BASE_URL",
    "only when no profile was chosen explicitly",
    OPENAI_BASE_URL,
)
MODEL_ROWS = _rows(
    "model",
    "--model",
    "LLMCHAT_MODEL",
    "also when an explicitly chosen profile sets no model",
    DEFAULT_MODEL,
)


def pick(rows: tuple[Row, ...], layers: Layers) -> tuple[str, str]:
    """(value, label) of the first row that gives a value."""
    for row in rows:
        value = row.value(layers)
        if value:
            return value, row.label(layers)
    raise AssertionError("the last row always gives a value")


# -- key sources and their owners -------------------------------------------------


@dataclass(frozen=True)
class KeySource:
    """One place a key may come from, and the base URL it belongs to."""

    label: str
    owner: str
    kind: str  # "command", "env" or "literal"
    value: str = field(repr=False)  # the command, the variable's name, or the key
    owner_text: str = ""
    pairing: str = ""

    def available(self, environ: Mapping[str, str]) -> bool:
        """Whether this source holds a key (a command is not run to find out)."""
        if self.kind == "env":
            return bool(environ.get(self.value))
        return bool(self.value)

    def read(self, environ: Mapping[str, str]) -> str:
        """The key (runs the command; raises :class:`ConfigError` when it fails)."""
        if self.kind == "command":
            return run_key_command(self.value, self.label)
        if self.kind == "env":
            return environ.get(self.value, "")
        return self.value


def _layer_sources(
    table: Mapping[str, Any], owner: str, where: str, pairing: str
) -> list[KeySource]:
    """A profile's or the top level's keys, in order: command, variable, literal."""
    owner_text = f"{owner} (the base_url {where})"
    out = []
    if table.get("api_key_command"):
        command = str(table["api_key_command"])
        out.append(
            KeySource(f"api_key_command {where}", owner, "command", command, owner_text, pairing)
        )
    if table.get("api_key_env"):
        name = str(table["api_key_env"])
        out.append(
            KeySource(f"{name} (api_key_env {where})", owner, "env", name, owner_text, pairing)
        )
    if table.get("api_key"):
        key = str(table["api_key"])
        out.append(KeySource(f"api_key {where}", owner, "literal", key, owner_text, pairing))
    return out


def _top_owner(layers: Layers) -> str:
    return _trim(str(layers.file.get("base_url") or "")) or OPENAI_BASE_URL


def _profile_sources(layers: Layers) -> list[KeySource]:
    if not layers.profile:
        return []
    table = _chosen(layers)
    owner = _trim(str(table.get("base_url") or "")) or _top_owner(layers)
    name = layers.profile
    pairing = f"to send it there, give profile {name} that base_url"
    return _layer_sources(table, owner, f"of profile {name}", pairing)


def _top_sources(layers: Layers) -> list[KeySource]:
    pairing = "to send it there, put the key in a profile with that base_url"
    return _layer_sources(layers.file, _top_owner(layers), "in the config file", pairing)


def _ambient_source(layers: Layers) -> list[KeySource]:
    if _chosen(layers).get("api_key_env") or layers.file.get("api_key_env"):
        return []
    env_url = _trim(layers.environ.get("OPENAI_BASE_URL") or "")
    owner = env_url or OPENAI_BASE_URL
    owner_text = (
        f"OPENAI_BASE_URL ({owner})" if env_url else f"{OPENAI_BASE_URL} or to OPENAI_BASE_URL"
    )
    pairing = (
        "to use it there, set OPENAI_BASE_URL to that URL instead, or set "
        f'api_key_env = "{AMBIENT_KEY}" in a profile with that base_url'
    )
    return [KeySource(AMBIENT_KEY, owner, "env", AMBIENT_KEY, owner_text, pairing)]


@dataclass(frozen=True)
class KeyRow:
    """One row of the key table: a group of sources and where they may go."""

    source: str
    goes_to: str
    sources: Callable[[Layers], list[KeySource]]


KEY_ROWS = (
    KeyRow(
        "the profile in use: its `api_key_command`, `api_key_env`, `api_key` (in that order)",
        "that profile's `base_url` (a profile without one: the top-level `base_url`, "
        "else the default)",
        _profile_sources,
    ),
    KeyRow(
        "top-level `api_key_command`, `api_key_env`, `api_key` in the config file",
        "the top-level `base_url` (else the default)",
        _top_sources,
    ),
    KeyRow(
        f"`{AMBIENT_KEY}`, when neither the profile nor the top level sets `api_key_env`",
        f"`OPENAI_BASE_URL` when it is set, else `{OPENAI_BASE_URL}`",
        _ambient_source,
    ),
)


def key_sources(layers: Layers) -> list[KeySource]:
    """Every key source of ``layers``, highest precedence first."""
    return [source for row in KEY_ROWS for source in row.sources(layers)]


def run_key_command(command: str, label: str = "api_key_command") -> str:
    """The first line ``command`` prints (its output is never shown: it is a key)."""
    try:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as error:
        raise ConfigError(f"{label} failed to run: {type(error).__name__}") from None
    if done.returncode != 0:
        raise ConfigError(f"{label} exited with status {done.returncode}")
    key = done.stdout.strip().splitlines()[0].strip() if done.stdout.strip() else ""
    if not key:
        raise ConfigError(f"{label} printed nothing")
    return key


# -- URLs -----------------------------------------------------------------------------


def _trim(url: str) -> str:
    return url.strip().rstrip("/")


def _url_key(url: str) -> tuple[str, str, int | None, str, str] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    host = (parts.hostname or "").rstrip(".")
    return scheme, host, port, parts.path.rstrip("/"), parts.query


def same_url(a: str, b: str) -> bool:
    """Whether two base URLs name the same endpoint (scheme, host, port, path)."""
    key = _url_key(a)
    return key is not None and key == _url_key(b)


_PRIVATE = [
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
]


def is_private_host(host: str) -> bool:
    """Loopback (127/8, ::1, localhost), RFC 1918, fc00::/7 or link-local; no DNS."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in _PRIVATE if net.version == address.version)


def sends_in_the_clear(url: str) -> bool:
    """Whether ``url`` is plain http to a host that is neither loopback nor private."""
    parts = urlsplit(url.strip())
    return parts.scheme.lower() == "http" and not is_private_host(parts.hostname or "")


# -- resolving ------------------------------------------------------------------------


def layers_of(settings: Settings) -> Layers:
    """The layers ``settings`` were built from (made up from its fields when it was
    built in code: they are then the config file's top level)."""
    if settings.layers is not None:
        return settings.layers
    file: dict[str, Any] = {
        "base_url": settings.base_url,
        "model": settings.model,
        "stream_usage": settings.stream_usage,
        "profiles": settings.profiles,
    }
    for key in ("api_key", "api_key_command"):
        if getattr(settings, key):
            file[key] = getattr(settings, key)
    if settings.api_key_env != AMBIENT_KEY:
        file["api_key_env"] = settings.api_key_env
    return Layers(file=file, environ=os.environ, profile=settings.profile, path=None)


def layers_for(
    settings: Settings, profile: str | None = None, environ: Mapping[str, str] | None = None
) -> Layers:
    """The layers of ``profile`` picked in the app (None: ``settings``' own target).

    A picked profile keeps the file and the environment but not the flags or
    the start-up profile: nothing of another profile's values carries over.
    """
    layers = layers_of(settings)
    if environ is not None:
        layers = replace(layers, environ=environ)
    if profile is None:
        return layers
    if profile and profile not in layers.file.get("profiles", {}):
        raise ConfigError(f"unknown profile {profile!r}")
    return Layers(
        file=layers.file,
        environ=layers.environ,
        profile=profile,
        explicit=bool(profile),
        path=layers.path,
    )


def resolve_target(
    settings: Settings,
    profile: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    run_command: bool = True,
) -> Target:
    """Where ``settings`` (or ``profile`` picked in the app) sends requests, with which key.

    ``run_command=False`` plans without running an ``api_key_command`` (the
    key is then "" but the source and warnings are known). Raises
    :class:`ConfigError` when the paired ``api_key_command`` fails.
    """
    layers = layers_for(settings, profile, environ)
    base_url = _trim(pick(BASE_URL_ROWS, layers)[0]) or OPENAI_BASE_URL
    model = pick(MODEL_ROWS, layers)[0]
    chosen = _chosen(layers)
    stream_usage = bool(chosen.get("stream_usage", layers.file.get("stream_usage", True)))
    shown_url = clean_line(base_url, 200)
    withheld: list[KeySource] = []
    for source in key_sources(layers):
        if not source.available(layers.environ):
            continue
        if not same_url(source.owner, base_url):
            withheld.append(source)
            continue
        key = source.read(layers.environ) if run_command or source.kind != "command" else ""
        warnings = []
        if sends_in_the_clear(base_url):
            warnings.append(
                clean_line(
                    f"The API key from {source.label} is sent to {shown_url} over plain http, "
                    "unencrypted: use https, or a server on this machine or your own network."
                )
            )
        return Target(
            layers.profile,
            base_url,
            model,
            stream_usage,
            key,
            source.label,
            clean_line(f"check {source.label}"),
            warnings,
        )
    warnings = []
    if withheld:
        first = withheld[0]
        more = f" (and {len(withheld) - 1} more key sources)" if len(withheld) > 1 else ""
        warnings.append(
            clean_line(
                f"{first.label}{more} was not sent to {shown_url}: it goes only to "
                f"{first.owner_text}; {first.pairing}."
            )
        )
        hint = f"no key is sent to this server: {first.label} is not paired with it"
    elif any(same_url(s.owner, base_url) for s in _ambient_source(layers)):
        hint = f"set {AMBIENT_KEY}, or api_key_env or api_key_command in the config file"
    else:
        hint = "set api_key_env or api_key_command in a profile with this base_url"
    return Target(layers.profile, base_url, model, stream_usage, "", "", clean_line(hint), warnings)


def apply_target(settings: Settings) -> Target:
    """Set ``settings``' base_url, model, stream_usage (and their sources) and its
    warnings from its layers; the plan (no command run) is returned."""
    layers = layers_of(settings)
    for name, rows in (("base_url", BASE_URL_ROWS), ("model", MODEL_ROWS)):
        value, label = pick(rows, layers)
        setattr(settings, name, _trim(value) if name == "base_url" else value)
        settings.sources[name] = label
    chosen = _chosen(layers)
    settings.stream_usage = bool(chosen.get("stream_usage", layers.file.get("stream_usage", True)))
    for key, default in (("api_key", ""), ("api_key_env", AMBIENT_KEY), ("api_key_command", "")):
        setattr(settings, key, str(chosen.get(key, layers.file.get(key, default))))
    for key in ("stream_usage", "api_key", "api_key_env", "api_key_command"):
        if key in chosen:
            settings.sources[key] = f"profile {layers.profile}"
    plan = resolve_target(settings, run_command=False)
    settings.warnings = list(plan.warnings)
    return plan


def precedence_markdown() -> str:
    """The README's precedence tables (base URL, model, keys), from the rows above."""
    out = ["Where requests go (`base_url`), first that is set:", ""]
    for title, rows in (("base_url", BASE_URL_ROWS), ("model", MODEL_ROWS)):
        if title == "model":
            out += ["", "The model (`model`), first that is set:", ""]
        out += ["| # | Source | When |", "|---|---|---|"]
        out += [f"| {i} | {row.source} | {row.when} |" for i, row in enumerate(rows, 1)]
    out += [
        "",
        "The key sent is the first of these that holds a key **and** belongs to the URL "
        "the request goes to; when none does, no key is sent and the app says which was "
        "withheld:",
        "",
        "| # | Key source | Sent only to |",
        "|---|---|---|",
    ]
    out += [f"| {i} | {row.source} | {row.goes_to} |" for i, row in enumerate(KEY_ROWS, 1)]
    return "\n".join(out)
