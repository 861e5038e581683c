"""What a server says about itself: the context window it runs a model with, and
the models it lists. No Textual import.

Asked once per (server, model) with short timeouts, only at the profile's own
origin (scheme, host and port of its base URL; redirects are not followed), so
the profile's key goes nowhere else. Each server speaks its own dialect:

==============  =====================================  ==========================================
server          request                                field
==============  =====================================  ==========================================
vLLM            ``GET {base}/models``                  ``data[].max_model_len``
OpenRouter      ``GET {base}/models``                  ``data[].context_length``
llama.cpp       ``GET {root}/props``                   ``default_generation_settings.n_ctx``
                                                       (or ``n_ctx``)
Ollama          ``GET {root}/api/ps``                  ``models[].context_length`` (loaded now)
                ``POST {root}/api/show``               ``num_ctx`` in ``parameters``, else
                                                       ``model_info.*.context_length``
LM Studio       ``GET {root}/api/v0/models``           ``loaded_context_length``, else
                                                       ``max_context_length``
==============  =====================================  ==========================================

``{base}`` is the profile's base URL (``http://host:8080/v1``), ``{root}`` the
same without a trailing ``/v1``. What a server runs with wins over what the
model could do: Ollama's ``num_ctx`` over the model's ``context_length``, LM
Studio's loaded length over its maximum. An Ollama answer that is only the
model's maximum is :attr:`ServerInfo.provisional`: the session asks again after
a reply, when the model is loaded and ``/api/ps`` knows.

Everything taken from an answer is checked (a positive whole number, a
cleaned model name) before it is used.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llmchat_tui.sanitize import clean_line

if TYPE_CHECKING:
    # The openai SDK 3.x's HTTP client (a fork of httpx), imported when first
    # asked: its import is a large share of the start-up (benchmark B11).
    import httpx2 as _httpx

#: Seconds to wait for each answer, and to connect (the app keeps working meanwhile).
TIMEOUT = (4.0, 2.0)
#: Larger numbers than this are not believed (no server runs a 100M-token context).
MAX_WINDOW = 100_000_000
#: How many of the server's model names a warning names.
NAMED = 5

_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ServerInfo:
    """What one server said about one model."""

    #: The context window in tokens, if the server said.
    context_window: int | None = None
    #: Where it came from, for the log and the README ("llama.cpp /props n_ctx").
    source: str = ""
    #: The model ids of ``GET {base}/models`` (cleaned); None if it did not list them.
    models: tuple[str, ...] | None = None
    #: The window is what the model could do, not what the server runs it with
    #: (Ollama, model not loaded, no ``num_ctx``): worth asking again once it is loaded.
    provisional: bool = False

    def lists(self, model: str) -> bool | None:
        """Whether the server lists ``model`` (None: it listed nothing).

        Ollama answers to ``llama3.2`` for ``llama3.2:latest``, so that counts.
        """
        if self.models is None:
            return None
        if model in self.models:
            return True
        return ":" not in model and f"{model}:latest" in self.models


def window(value: object) -> int | None:
    """``value`` as a context size, or None unless it is a believable whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 < value <= MAX_WINDOW:
        return value
    return None


def root_of(base_url: str) -> str:
    """The server's root: the base URL without a trailing ``/v1``."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the scheme, host and port of ``base_url``."""
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


# -- reading each dialect (pure: a parsed JSON answer in, a number out) ------------


def from_models_list(data: object, model: str) -> tuple[tuple[str, ...] | None, int | None, str]:
    """``GET /models``: the model ids, and the model's window if the entry has one
    (vLLM ``max_model_len``, OpenRouter ``context_length``)."""
    entries = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        return None, None, ""
    ids: list[str] = []
    found: int | None = None
    source = ""
    for entry in entries:
        if not isinstance(entry, Mapping) or not entry.get("id"):
            continue
        name = clean_line(str(entry["id"]), 200)
        ids.append(name)
        if name != model or found is not None:
            continue
        for key, where in (("max_model_len", "vLLM"), ("context_length", "OpenRouter")):
            size = window(entry.get(key))
            if size is not None:
                found, source = size, f"{where} /models {key}"
                break
        else:
            top = entry.get("top_provider")
            size = window(top.get("context_length")) if isinstance(top, Mapping) else None
            if size is not None:
                found, source = size, "OpenRouter /models top_provider.context_length"
    return tuple(ids), found, source


def from_llamacpp_props(data: object) -> int | None:
    """llama.cpp ``GET /props``: the context each request gets (``n_ctx``)."""
    if not isinstance(data, Mapping):
        return None
    settings = data.get("default_generation_settings")
    if isinstance(settings, Mapping):
        size = window(settings.get("n_ctx"))
        if size is not None:
            return size
    return window(data.get("n_ctx"))


def from_ollama_ps(data: object, model: str) -> int | None:
    """Ollama ``GET /api/ps``: the context the model runs with now, if it is loaded."""
    entries = data.get("models") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        return None
    names = {model, f"{model}:latest"} if ":" not in model else {model}
    for entry in entries:
        if isinstance(entry, Mapping) and (
            entry.get("name") in names or entry.get("model") in names
        ):
            return window(entry.get("context_length"))
    return None


def from_ollama_show(data: object) -> tuple[int | None, str]:
    """Ollama ``POST /api/show``: ``num_ctx`` (what Ollama runs it with) when the
    model sets it, else the model's own ``context_length``."""
    if not isinstance(data, Mapping):
        return None, ""
    parameters = data.get("parameters")
    if isinstance(parameters, str):
        match = _NUM_CTX.search(parameters)
        if match is not None and window(match.group(1)) is not None:
            return window(match.group(1)), "Ollama /api/show num_ctx"
    info = data.get("model_info")
    if isinstance(info, Mapping):
        for key, value in info.items():
            if isinstance(key, str) and key.endswith(".context_length"):
                size = window(value)
                if size is not None:
                    return size, "Ollama /api/show context_length"
    return None, ""


def from_lmstudio_models(data: object, model: str) -> tuple[int | None, str]:
    """LM Studio ``GET /api/v0/models``: the loaded context length, else the maximum."""
    entries = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        return None, ""
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("id") != model:
            continue
        for key in ("loaded_context_length", "max_context_length"):
            size = window(entry.get(key))
            if size is not None:
                return size, f"LM Studio /api/v0/models {key}"
    return None, ""


# -- asking ------------------------------------------------------------------------


async def _json(
    client: _httpx.AsyncClient, method: str, url: str, base_url: str, body: object = None
) -> Any:
    """The parsed JSON answer of one request at the base URL's origin, or None."""
    import httpx2 as _httpx

    if not same_origin(url, base_url):  # never: every URL is built from base_url
        return None
    try:
        response = await client.request(method, url, json=body)
        if response.status_code != 200:
            return None
        return response.json()
    except (_httpx.HTTPError, OSError, ValueError, json.JSONDecodeError):
        return None


def _http_client(headers: dict[str, str]) -> _httpx.AsyncClient:
    import httpx2 as _httpx

    timeout = _httpx.Timeout(TIMEOUT[0], connect=TIMEOUT[1])
    return _httpx.AsyncClient(timeout=timeout, headers=headers, follow_redirects=False)


async def fetch(base_url: str, model: str, *, api_key: str = "") -> ServerInfo:
    """Ask the server at ``base_url`` about ``model``; never raises for network trouble.

    ``GET {base}/models`` first (the list, and vLLM's or OpenRouter's window);
    when that gives no window, llama.cpp's, Ollama's and LM Studio's own
    endpoints are asked together and the first that answers in its shape is used.
    """
    base = base_url.rstrip("/")
    root = root_of(base)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    # Importing httpx2 and loading the TLS certificates took ~0.1 s: not on the
    # event loop, which is drawing the first frame when the app asks.
    client = await asyncio.to_thread(_http_client, headers)
    async with client:
        listed = await _json(client, "GET", f"{base}/models", base)
        models, size, source = from_models_list(listed, model)
        if size is not None:
            return ServerInfo(size, source, models)
        props, ps, show, lmstudio = await asyncio.gather(
            _json(client, "GET", f"{root}/props", base),
            _json(client, "GET", f"{root}/api/ps", base),
            _json(client, "POST", f"{root}/api/show", base, {"model": model}),
            _json(client, "GET", f"{root}/api/v0/models", base),
        )
    found = from_ollama_ps(ps, model)
    if found is not None:
        return ServerInfo(found, "Ollama /api/ps context_length", models)
    found, source = from_ollama_show(show)
    if found is not None:
        return ServerInfo(found, source, models, provisional=not source.endswith("num_ctx"))
    found = from_llamacpp_props(props)
    if found is not None:
        return ServerInfo(found, "llama.cpp /props n_ctx", models)
    found, source = from_lmstudio_models(lmstudio, model)
    return ServerInfo(found, source, models)


def unlisted_warning(info: ServerInfo, model: str, base_url: str) -> str | None:
    """The warning for a model the server does not list (naming a few it has), or None."""
    if info.lists(model) is not False:
        return None
    host = clean_line(urlsplit(base_url).netloc or base_url, 80)
    name = clean_line(model, 60)
    if not info.models:
        return f"The server at {host} lists no models, so “{name}” may not work."
    shown = ", ".join(clean_line(m, 60) for m in info.models[:NAMED])
    more = len(info.models) - NAMED
    if more > 0:
        shown += f" and {more:,} more"
    return (
        f"The server at {host} does not list the model “{name}”; it has {shown}. "
        "Replies may fail or come from another model."
    )


class ServerInfoCache:
    """One answer per (server, model) for the session; concurrent asks share one fetch.

    Not kept on disk: a server restarted with another context size (llama.cpp's
    ``-c``, Ollama's ``num_ctx``) would be shown with a stale limit.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], ServerInfo] = {}
        self._asking: dict[tuple[str, str], asyncio.Future[ServerInfo]] = {}

    def get(self, base_url: str, model: str) -> ServerInfo | None:
        """What is known already (no request)."""
        return self._known.get((base_url.rstrip("/"), model))

    def asked(self, base_url: str, model: str) -> bool:
        """Whether the server was asked (or is being asked) about ``model``."""
        key = (base_url.rstrip("/"), model)
        return key in self._known or key in self._asking

    def forget_provisional(self, base_url: str, model: str) -> bool:
        """Drop a :attr:`ServerInfo.provisional` answer so the next ask asks again
        (after a reply, when Ollama has loaded the model); True if one was dropped."""
        key = (base_url.rstrip("/"), model)
        known = self._known.get(key)
        if known is None or not known.provisional:
            return False
        del self._known[key]
        return True

    async def ask(self, base_url: str, model: str, *, api_key: str = "") -> ServerInfo:
        """The server's answer for ``model``, fetched once."""
        key = (base_url.rstrip("/"), model)
        known = self._known.get(key)
        if known is not None:
            return known
        pending = self._asking.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ServerInfo] = asyncio.get_running_loop().create_future()
        self._asking[key] = future
        try:
            info = await fetch(base_url, model, api_key=api_key)
        except BaseException:
            # Cancelled (the app is closing): the next ask tries again.
            del self._asking[key]
            future.cancel()
            raise
        self._known[key] = info
        del self._asking[key]
        future.set_result(info)
        return info
