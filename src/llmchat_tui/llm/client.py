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
        try:
            try:
                stream = await self._client.chat.completions.create(**kwargs)
            except openai.BadRequestError as error:
                if "stream_options" not in kwargs or "stream_options" not in str(error.body):
                    raise
                # A server that rejects stream_options: ask again without, and
                # remember for the rest of the session.
                self.stream_usage = False
                del kwargs["stream_options"]
                stream = await self._client.chat.completions.create(**kwargs)
        except Exception as error:
            yield Failed(await self._describe(error, model))
            return

        finish_reason: str | None = None
        received = 0
        try:
            async for chunk in stream:
                usage = chunk.usage
                if usage is not None:
                    yield UsageReported(usage.prompt_tokens, usage.completion_tokens)
                for choice in chunk.choices or ():
                    delta = choice.delta
                    if delta is not None:
                        extra = delta.model_extra
                        if extra:
                            reasoning = extra.get("reasoning_content") or extra.get("reasoning")
                            if isinstance(reasoning, str) and reasoning:
                                yield ReasoningDelta(clean(reasoning))
                        if delta.content:
                            received += 1
                            yield TextDelta(clean(delta.content))
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        except Exception as error:
            yield Failed(await self._describe(error, model, received=received))
            return
        finally:
            await stream.close()
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
