"""Turn SDK exceptions into a :class:`Cause` the user can act on. No Textual import."""

from __future__ import annotations

import json
import re
import ssl
from typing import Any

import openai

from llmchat_tui.llm.events import Cause
from llmchat_tui.sanitize import clean_line

RETRYABLE_STATUS = {408, 409, 429}


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds only)."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(float(ms) / 1000.0, 0.0)
        value = headers.get("retry-after")
        if value is not None:
            return max(float(value), 0.0)
    except (TypeError, ValueError):
        return None
    return None


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
    if "html" in content_type or text.lstrip().lower().startswith(("<!doctype", "<html")):
        title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
        return clean_line(title.group(1) if title else "", 120), False
    try:
        json.loads(text)
        return clean_line(text, 300), True
    except ValueError:
        return clean_line(text, 160), False


def classify(error: BaseException, *, base_url: str, model: str, key_hint: str) -> Cause:
    """Describe ``error`` (raised by the SDK while talking to ``base_url``)."""
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        server_text, is_json = _server_message(error)
        said = f": {server_text}" if server_text else ""
        if not is_json:
            return Cause(
                "proxy",
                f"HTTP {status} from {base_url} with a non-JSON page{said}",
                "a proxy or the wrong base URL? Check base_url (it usually ends in /v1)",
                retryable=status >= 500 or status in RETRYABLE_STATUS,
                retry_after=_retry_after(error.response.headers),
                status=status,
                detail=detail,
            )
        if status == 401:
            return Cause(
                "auth",
                f"The server rejected the API key (401){said}",
                key_hint,
                status=status,
                detail=detail,
            )
        if status == 403:
            return Cause(
                "permission",
                f"Access denied (403){said}",
                f"check the key's permissions for {model}; {key_hint}",
                status=status,
                detail=detail,
            )
        if status == 404:
            return Cause(
                "not_found",
                f"Model {model!r} not found at {base_url} (404){said}",
                "pick another model (--model or the model setting)",
                status=status,
                detail=detail,
            )
        if status == 429:
            return Cause(
                "rate_limit",
                f"Rate limited (429){said}",
                "wait a moment and retry",
                retryable=True,
                retry_after=_retry_after(error.response.headers),
                status=status,
                detail=detail,
            )
        if status == 400 and re.search(
            r"context|maximum.*tokens|too long|too many tokens", server_text, re.I
        ):
            return Cause(
                "context_length",
                f"The conversation is too long for {model}{said}",
                "start a new conversation or delete old messages",
                status=status,
                detail=detail,
            )
        if status >= 500 or status in RETRYABLE_STATUS:
            return Cause(
                "server",
                f"Server error {status}{said}",
                "retrying may help",
                retryable=True,
                retry_after=_retry_after(error.response.headers),
                status=status,
                detail=detail,
            )
        return Cause(
            "bad_request",
            f"The server refused the request ({status}){said}",
            "",
            status=status,
            detail=detail,
        )
    if isinstance(error, openai.APITimeoutError):
        return Cause(
            "timeout",
            f"No answer from {base_url} in time",
            "is the server busy or loading a model? retrying may help",
            retryable=True,
            detail=detail,
        )
    if isinstance(error, openai.APIConnectionError):
        root = error.__cause__ or error.__context__
        chain = []
        while root is not None and len(chain) < 6:
            chain.append(root)
            root = root.__cause__ or root.__context__
        text = " ".join(f"{type(e).__name__} {e}" for e in chain).lower()
        if (
            any(isinstance(e, ssl.SSLError) for e in chain)
            or "certificate" in text
            or "ssl" in text
        ):
            return Cause(
                "tls",
                f"TLS/certificate problem talking to {base_url}",
                "check the URL's scheme (http vs https) or set SSL_CERT_FILE",
                detail=detail,
            )
        if (
            "name or service not known" in text
            or "nodename nor servname" in text
            or "temporary failure in name resolution" in text
            or "getaddrinfo" in text
        ):
            return Cause(
                "dns",
                f"Cannot resolve the host of {base_url}",
                "check base_url and your network",
                retryable=True,
                detail=detail,
            )
        if "refused" in text:
            return Cause(
                "connection_refused",
                f"Connection refused by {base_url}",
                "is the server running? check base_url",
                retryable=True,
                detail=detail,
            )
        return Cause(
            "connection",
            f"Could not talk to {base_url}",
            "check the network and base_url; retrying may help",
            retryable=True,
            detail=detail,
        )
    if isinstance(error, openai.APIError):
        # An error object inside a 200 stream.
        return Cause(
            "stream_error",
            f"The server reported an error mid-reply: {clean_line(str(error.message), 300)}",
            "",
            detail=detail,
        )
    if isinstance(error, (json.JSONDecodeError, ValueError)):
        return Cause(
            "malformed",
            f"The server sent data that is not valid JSON ({base_url})",
            "is base_url an OpenAI-compatible endpoint?",
            detail=detail,
        )
    return Cause(
        "unexpected",
        f"Unexpected error: {type(error).__name__}",
        "details are in the log file",
        detail=detail,
    )
