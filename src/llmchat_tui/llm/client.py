"""Stream a chat completion with the ``openai`` SDK and yield typed events.

No Textual import. One instance per (base URL, key); it is cheap to keep.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import openai

from llmchat_tui.llm.errors import classify
from llmchat_tui.llm.events import (
    Cause,
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    TextDelta,
    UsageReported,
)
from llmchat_tui.sanitize import clean, clean_line, redact

try:  # openai 3.x ships its own fork of httpx
    import httpx2 as _httpx
except ImportError:  # pragma: no cover - openai 1.x/2.x
    import httpx as _httpx  # type: ignore[no-redef]


class ChatClient:
    """Talks to one OpenAI-compatible server.

    ``stall_timeout`` is the read timeout: when no byte arrives for that long
    the request fails as stalled. The SDK's own retries are off
    (``max_retries=0``): the app retries visibly.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        stream_usage: bool = True,
        connect_timeout: float = 10.0,
        stall_timeout: float = 60.0,
        key_hint: str = "set OPENAI_API_KEY",
    ) -> None:
        self.base_url = base_url
        self.stream_usage = stream_usage
        self.stall_timeout = stall_timeout
        self.key_hint = key_hint
        self._secret = api_key
        timeout = _httpx.Timeout(stall_timeout, connect=connect_timeout)
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            # Local servers take any key, but the SDK refuses to start without one.
            api_key=api_key or "no-key",
            max_retries=0,
            timeout=timeout,
        )

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    async def list_models(self) -> list[str]:
        """Model ids from ``GET /models`` (sanitized), sorted."""
        page = await self._client.models.list()
        return sorted(clean_line(m.id, 200) for m in page.data)

    async def stream(
        self,
        messages: Sequence[dict[str, str]],
        model: str,
        *,
        temperature: float | None = None,
    ) -> AsyncIterator[Event]:
        """Send ``messages`` and yield events until the reply ends.

        Always ends with exactly one :class:`Finished` or :class:`Failed`.
        Never raises for network or server trouble. Closing the generator
        (or cancelling its consumer) closes the HTTP response.
        """
        kwargs: dict[str, Any] = {"model": model, "messages": list(messages), "stream": True}
        if temperature is not None:
            kwargs["temperature"] = temperature
        if self.stream_usage:
            kwargs["stream_options"] = {"include_usage": True}
        opener = self._client.chat.completions.with_streaming_response
        try:
            try:
                response_cm = opener.create(**kwargs)
                response = await response_cm.__aenter__()
            except openai.BadRequestError as error:
                if "stream_options" not in kwargs or "stream_options" not in str(error.body):
                    raise
                # A server that rejects stream_options: ask again without, and
                # remember for the rest of the session.
                self.stream_usage = False
                del kwargs["stream_options"]
                response_cm = opener.create(**kwargs)
                response = await response_cm.__aenter__()
        except Exception as error:
            yield Failed(await self._describe(error, model))
            return

        # The SDK built, authenticated and sent the request and checked the
        # status; the body is read here as raw server-sent events and parsed
        # with json.loads, which costs a fraction of building a pydantic model
        # per chunk (measured in benchmarks/README.md).
        finish_reason: str | None = None
        received = 0
        try:
            async for data in _sse_data(response.http_response):
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if not isinstance(chunk, dict):
                    continue
                error = chunk.get("error")
                if error:
                    message = error.get("message") if isinstance(error, dict) else error
                    raise _InStreamError(str(message or "An error occurred during streaming"))
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    yield UsageReported(
                        _int_or_none(usage.get("prompt_tokens")),
                        _int_or_none(usage.get("completion_tokens")),
                    )
                for choice in chunk.get("choices") or ():
                    if not isinstance(choice, dict):
                        continue
                    delta = choice.get("delta")
                    if isinstance(delta, dict):
                        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                        if isinstance(reasoning, str) and reasoning:
                            yield ReasoningDelta(clean(reasoning))
                        content = delta.get("content")
                        if isinstance(content, str) and content:
                            received += 1
                            yield TextDelta(clean(content))
                    if choice.get("finish_reason"):
                        finish_reason = str(choice["finish_reason"])
        except Exception as error:
            yield Failed(await self._describe(error, model, received=received))
            return
        finally:
            await response_cm.__aexit__(None, None, None)
        if finish_reason is None:
            yield Failed(
                Cause(
                    "cut",
                    f"The stream ended without a finish reason after {received} chunks",
                    "the connection was probably cut; regenerate or continue",
                )
            )
        else:
            yield Finished(clean_line(finish_reason, 40))

    async def _describe(self, error: BaseException, model: str, *, received: int = 0) -> Cause:
        """A :class:`Cause` for ``error``, with the server's models for a 404,
        and never the API key."""
        cause = self._cause(error, model, received=received)
        if cause.kind == "not_found":
            try:
                models = await asyncio.wait_for(self.list_models(), 5)
            except Exception:
                models = []
            if models:
                shown = ", ".join(models[:8])
                more = f" and {len(models) - 8} more" if len(models) > 8 else ""
                cause = replace(cause, hint=f"this server has: {shown}{more} (use --model)")
        return replace(
            cause,
            message=redact(cause.message, self._secret),
            hint=redact(cause.hint, self._secret),
            detail=redact(cause.detail, self._secret),
        )

    def _cause(self, error: BaseException, model: str, *, received: int = 0) -> Cause:
        if isinstance(error, _InStreamError):
            return Cause(
                "stream_error",
                f"The server reported an error mid-reply: {clean_line(str(error), 300)}",
                "",
                detail=repr(error),
            )
        if isinstance(error, _httpx.TimeoutException):
            error = openai.APITimeoutError(request=error.request if _has_request(error) else None)
        elif isinstance(error, _httpx.TransportError):
            wrapped = openai.APIConnectionError(
                request=error.request if _has_request(error) else None  # type: ignore[arg-type]
            )
            wrapped.__cause__ = error
            error = wrapped
        if isinstance(error, openai.APITimeoutError) and received:
            return Cause(
                "stalled",
                f"No data for {self.stall_timeout:g} s: stopped as stalled after {received} chunks",
                "regenerate or continue",
                detail=repr(error),
            )
        if isinstance(error, openai.APIConnectionError) and received:
            return Cause(
                "connection_lost",
                f"Connection lost after {received} chunks",
                "regenerate or continue",
                detail=repr(error),
            )
        if isinstance(error, json.JSONDecodeError):
            return Cause(
                "malformed",
                f"The server sent malformed data after {received} chunks",
                "regenerate or continue",
                detail=repr(error),
            )
        return classify(error, base_url=self.base_url, model=model, key_hint=self.key_hint)


class _InStreamError(Exception):
    """An error object sent inside a stream that began with HTTP 200."""


def _has_request(error: Exception) -> bool:
    try:
        return error.request is not None  # type: ignore[attr-defined]
    except RuntimeError:  # httpx raises when no request is attached
        return False


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _sse_data(response: _httpx.Response) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined by newlines)."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith("data:"):
            lines.append(line[6:] if line[5:6] == " " else line[5:])
        # "event:", "id:", "retry:" and ":" comments carry nothing we need.
    if lines:
        yield "\n".join(lines)
