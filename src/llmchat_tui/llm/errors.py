"""Every failure the user reads, worded in one place. No Textual import.

The client and the generation gather :class:`~llmchat_tui.llm.events.Facts`
(what kind of failure, the HTTP status, the server's own text, how much of
the reply had arrived, the stall timeout, the prompt's size and the model's
limit); :func:`word` turns facts into a :class:`~llmchat_tui.llm.events.Cause`.
:func:`facts_of` reads the facts of an exception raised by the ``openai`` SDK
or its HTTP library, and :func:`classify` does both.
"""

from __future__ import annotations

import json
import math
import re
import ssl
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from llmchat_tui.llm.events import Cause, Facts
from llmchat_tui.sanitize import clean_line

if TYPE_CHECKING:
    # Imported where an error is read: the SDK's import is about half of the
    # app's start-up and the first frame needs none of it (benchmark B11).
    import openai

RETRYABLE_STATUS = {408, 409, 429}

#: Failures worth retrying before the first token (``proxy`` only for some statuses).
RETRYABLE_KINDS = {"rate_limit", "server", "timeout", "dns", "connection_refused", "connection"}

#: A few words per kind for a status line.
LABELS = {
    "images_refused": "images refused",
    "auth": "key rejected",
    "permission": "access denied",
    "not_found": "model not found",
    "rate_limit": "rate limited",
    "context_length": "conversation too long",
    "server": "server error",
    "bad_request": "request refused",
    "proxy": "not an API answer",
    "html_page": "not an API answer",
    "timeout": "no answer",
    "tls": "TLS problem",
    "dns": "unknown host",
    "connection_refused": "connection refused",
    "connection": "no connection",
    "stream_error": "server error",
    "malformed": "malformed data",
    "cut": "stream cut",
    "connection_lost": "connection lost",
    "stalled": "stalled",
    "unexpected": "unexpected error",
}

_IMAGE_ERROR = re.compile(r"image|vision|multi-?modal|mmproj", re.I)
_CONTEXT_ERROR = re.compile(r"context|maximum.*tokens|too long|too many tokens", re.I)
_CONTEXT_LIMIT = re.compile(
    r"(?:maximum context length|context window|context length|context size)\D{0,20}?(\d[\d,]*)",
    re.I,
)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


# -- reading facts ---------------------------------------------------------------


def retry_after_seconds(headers: Any, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (RFC 9110).

    ``Retry-After`` may be a number of seconds or an HTTP date; a date gives
    the seconds from ``now`` (the current UTC time) until it, never below 0.
    None when the headers say nothing usable.
    """
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except (TypeError, ValueError):
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        try:
            when = parsedate_to_datetime(str(value))
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" and obsolete forms: RFC 9110 says GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def looks_like_html(content_type: str, start: str = "") -> bool:
    """True for a ``text/html`` content type or a body that starts like a web page."""
    if "html" in content_type.lower():
        return True
    return start.lstrip().lower().startswith(("<!doctype", "<html"))


def page_title(text: str) -> str:
    """The ``<title>`` of an HTML page, one sanitized line ("" if it has none)."""
    found = _TITLE.search(text)
    return clean_line(found.group(1), 120) if found else ""


def context_limit(server_text: str) -> int | None:
    """The model's context length as a server's error text states it, if it does."""
    found = _CONTEXT_LIMIT.search(server_text)
    return int(found.group(1).replace(",", "")) if found else None


def _server_message(error: openai.APIStatusError) -> tuple[str, bool]:
    """The server's own error text, and whether the body was JSON at all."""
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return clean_line(inner["message"], 300), True
        if isinstance(inner, str):
            return clean_line(inner, 300), True
        return "", True
    try:
        text = error.response.text
    except Exception:  # the body may be unreadable; the status still tells a lot
        text = ""
    content_type = error.response.headers.get("content-type", "") if error.response else ""
    if looks_like_html(content_type, text):
        return page_title(text), False
    try:
        json.loads(text)
        return clean_line(text, 300), True
    except ValueError:
        return clean_line(text, 160), False


def _has_request(error: Exception) -> bool:
    try:
        return error.request is not None  # type: ignore[attr-defined]
    except RuntimeError:  # httpx raises when no request is attached
        return False


def _as_sdk_error(error: BaseException) -> BaseException:
    """An HTTP-library error raised while reading a body, as the SDK would raise it."""
    import httpx2 as _httpx  # the openai SDK 3.x's HTTP client (a fork of httpx)
    import openai

    if isinstance(error, _httpx.TimeoutException):
        return openai.APITimeoutError(
            request=error.request if _has_request(error) else None  # type: ignore[arg-type]
        )
    if isinstance(error, _httpx.TransportError):
        wrapped = openai.APIConnectionError(
            request=error.request if _has_request(error) else None  # type: ignore[arg-type]
        )
        wrapped.__cause__ = error
        return wrapped
    return error


def _connection_kind(error: openai.APIConnectionError) -> str:
    root = error.__cause__ or error.__context__
    chain: list[BaseException] = []
    while root is not None and len(chain) < 6:
        chain.append(root)
        root = root.__cause__ or root.__context__
    text = " ".join(f"{type(e).__name__} {e}" for e in chain).lower()
    if any(isinstance(e, ssl.SSLError) for e in chain) or "certificate" in text or "ssl" in text:
        return "tls"
    if (
        "name or service not known" in text
        or "nodename nor servname" in text
        or "temporary failure in name resolution" in text
        or "getaddrinfo" in text
    ):
        return "dns"
    if "refused" in text:
        return "connection_refused"
    return "connection"


def _status_kind(status: int, server_text: str, is_json: bool) -> str:
    if not is_json:
        return "proxy"
    if status in (401, 403, 404, 429):
        return {401: "auth", 403: "permission", 404: "not_found", 429: "rate_limit"}[status]
    if status == 400 and _CONTEXT_ERROR.search(server_text):
        return "context_length"
    if (400 <= status < 500 or status == 500) and _IMAGE_ERROR.search(server_text):
        return "images_refused"
    if status >= 500 or status in RETRYABLE_STATUS:
        return "server"
    return "bad_request"


def facts_of(
    error: BaseException,
    *,
    base_url: str,
    model: str,
    key_hint: str = "",
    received: int | None = None,
    stall_timeout: float | None = None,
) -> Facts:
    """The facts of ``error``, raised by the SDK (or its HTTP library) talking to ``base_url``.

    ``received`` is the number of text deltas that had arrived when a stream
    failed (None: the request failed before its body was read). A timeout or
    a lost connection after some text is a stall or a lost connection, not a
    failure to connect.
    """
    import openai

    facts = Facts(
        kind="unexpected",
        base_url=base_url,
        model=model,
        key_hint=key_hint,
        received=received,
        stall_timeout=stall_timeout,
        detail=f"{type(error).__name__}: {error}",
    )
    error = _as_sdk_error(error)
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        server_text, is_json = _server_message(error)
        kind = _status_kind(status, server_text, is_json)
        return replace(
            facts,
            kind=kind,
            status=status,
            server_text=server_text,
            retry_after=retry_after_seconds(error.response.headers),
            limit=context_limit(server_text) if kind == "context_length" else None,
        )
    if isinstance(error, openai.APITimeoutError):
        return replace(facts, kind="stalled" if received else "timeout")
    if isinstance(error, openai.APIConnectionError):
        return replace(facts, kind="connection_lost" if received else _connection_kind(error))
    if isinstance(error, openai.APIError):  # an error object inside a 200 stream
        return replace(facts, kind="stream_error", server_text=clean_line(str(error.message), 300))
    if isinstance(error, ValueError):  # json.JSONDecodeError included
        return replace(facts, kind="malformed")
    return replace(facts, server_text=type(error).__name__)


def classify(error: BaseException, *, base_url: str, model: str, key_hint: str) -> Cause:
    """Describe ``error`` (raised by the SDK while talking to ``base_url``)."""
    return word(facts_of(error, base_url=base_url, model=model, key_hint=key_hint))


def unexpected(error: BaseException) -> Cause:
    """A bug of ours, worded without a traceback."""
    return word(
        Facts(
            "unexpected",
            server_text=type(error).__name__,
            detail=f"{type(error).__name__}: {error}",
        )
    )


def reworded(
    cause: Cause, *, tokens: int | None = None, prompt_estimate: int | None = None
) -> Cause:
    """``cause`` worded again with what the generation knows: the tokens
    received and the size of the prompt. A cause made by hand (without
    facts) is returned unchanged."""
    if cause.facts is None:
        return cause
    return word(replace(cause.facts, tokens=tokens, prompt_estimate=prompt_estimate))


# -- wording ---------------------------------------------------------------------


def _count(n: int, unit: str) -> str:
    return f"{n:,} {unit}" if n == 1 else f"{n:,} {unit}s"


def _progress(facts: Facts) -> str:
    """How much had arrived: tokens when known, else chunks."""
    if facts.tokens is not None:
        return _count(facts.tokens, "token")
    return _count(facts.received or 0, "chunk")


def _wait_hint(retry_after: float | None) -> str:
    if retry_after:
        return f"the server asks to wait {math.ceil(retry_after):,} s before retrying"
    return "wait a moment and retry"


def _sizes(facts: Facts) -> str:
    sizes = []
    if facts.prompt_estimate is not None:
        sizes.append(f"≈{facts.prompt_estimate:,} tokens sent")
    if facts.limit is not None:
        sizes.append(f"limit {facts.limit:,}")
    return f" ({', '.join(sizes)})" if sizes else ""


def _words(facts: Facts) -> tuple[str, str]:
    """The message and the hint for ``facts``."""
    kind, url, model = facts.kind, facts.base_url, facts.model
    said = f": {facts.server_text}" if facts.server_text else ""
    again = "regenerate or continue"
    in_stream = facts.received is not None
    if kind == "cut":
        return f"stream cut without a finish reason after {_progress(facts)}", again
    if kind == "connection_lost":
        return f"connection lost after {_progress(facts)}", again
    if kind == "stalled":
        quiet = f"{facts.stall_timeout:g} s" if facts.stall_timeout is not None else "too long"
        return f"stalled: no data for {quiet} after {_progress(facts)}", again
    if kind == "malformed":
        if in_stream:
            return f"malformed data from the server after {_progress(facts)}", again
        return (
            f"The server sent data that is not valid JSON ({url})",
            "is base_url an OpenAI-compatible endpoint?",
        )
    if kind == "stream_error":
        if in_stream:
            return f"The server reported an error after {_progress(facts)}{said}", again
        return f"The server reported an error mid-reply{said}", ""
    if kind == "html_page":
        return (
            f"{url} sent an HTML page, not an API response (a proxy or captive portal?){said}",
            "sign in to the network in a browser, or check base_url (it usually ends in /v1)",
        )
    if kind == "proxy":
        return (
            f"HTTP {facts.status} from {url} with a non-JSON page{said}",
            "a proxy or the wrong base URL? Check base_url (it usually ends in /v1)",
        )
    if kind == "auth":
        return f"The server rejected the API key (401){said}", facts.key_hint
    if kind == "permission":
        check = f"check the key's permissions for {model}"
        hint = f"{check}; {facts.key_hint}" if facts.key_hint else check
        return f"Access denied (403){said}", hint
    if kind == "not_found":
        hint = "pick another model (--model or the model setting)"
        if facts.models:
            shown = ", ".join(facts.models[:8])
            more = f" and {len(facts.models) - 8} more" if len(facts.models) > 8 else ""
            hint = f"this server has: {shown}{more} (use --model)"
        return f"Model {model!r} not found at {url} (404){said}", hint
    if kind == "rate_limit":
        return f"Rate limited (429){said}", _wait_hint(facts.retry_after)
    if kind == "context_length":
        sizes = _sizes(facts)
        return (
            f"The conversation is too long for {model}{sizes or said}",
            "start a new conversation or delete old messages",
        )
    if kind == "images_refused":
        return (
            f"{model} cannot read images, or this server does not accept them{said}",
            "edit the message without the image, or pick a vision model",
        )
    if kind == "server":
        hint = "retrying may help" if not facts.retry_after else _wait_hint(facts.retry_after)
        return f"Server error {facts.status}{said}", hint
    if kind == "bad_request":
        return f"The server refused the request ({facts.status}){said}", ""
    if kind == "timeout":
        return (
            f"No answer from {url} in time",
            "is the server busy or loading a model? retrying may help",
        )
    if kind == "tls":
        return (
            f"TLS/certificate problem talking to {url}",
            "check the URL's scheme (http vs https) or set SSL_CERT_FILE",
        )
    if kind == "dns":
        return f"Cannot resolve the host of {url}", "check base_url and your network"
    if kind == "connection_refused":
        return f"Connection refused by {url}", "is the server running? check base_url"
    if kind == "connection":
        return f"Could not talk to {url}", "check the network and base_url; retrying may help"
    return f"Unexpected error: {facts.server_text or 'unknown'}", "details are in the log file"


def word(facts: Facts) -> Cause:
    """The :class:`Cause` the user reads for ``facts``: the one place failures are worded."""
    message, hint = _words(facts)
    status = facts.status
    retryable = facts.kind in RETRYABLE_KINDS or (
        facts.kind == "proxy"
        and status is not None
        and (status >= 500 or status in RETRYABLE_STATUS)
    )
    return Cause(
        facts.kind,
        message,
        hint,
        retryable=retryable,
        retry_after=facts.retry_after,
        status=status,
        detail=facts.detail,
        label=LABELS.get(facts.kind, facts.kind.replace("_", " ")),
        facts=facts,
    )
