"""Stream a chat completion with the ``openai`` SDK and yield typed events.

No Textual import. One instance per (base URL, key); it is cheap to keep.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from llmchat_tui.llm.errors import facts_of, looks_like_html, page_title, word
from llmchat_tui.llm.events import (
    Cause,
    Event,
    Facts,
    Failed,
    Finished,
    ReasoningDelta,
    TextDelta,
    UsageReported,
)
from llmchat_tui.llm.server_info import ServerInfo, ServerInfoCache
from llmchat_tui.sanitize import clean, clean_line, redact

if TYPE_CHECKING:
    # The SDK and its HTTP client (a fork of httpx) are imported when the first
    # request is made, or by ChatClient.warm() in a thread after the first frame: their
    # import is about half of the app's start-up (benchmark B11).
    import httpx2 as _httpx
    import openai


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
        self._connect_timeout = connect_timeout
        self._sdk: openai.AsyncOpenAI | None = None
        self._sdk_lock = threading.Lock()

    @property
    def _client(self) -> openai.AsyncOpenAI:
        """The SDK's client, built on first use (also from a thread: see :meth:`warm`)."""
        sdk = self._sdk
        if sdk is None:
            with self._sdk_lock:
                if self._sdk is None:
                    import httpx2
                    import openai

                    self._sdk = openai.AsyncOpenAI(
                        base_url=self.base_url,
                        # Local servers take any key, but the SDK refuses to start without one.
                        api_key=self._secret or "no-key",
                        max_retries=0,
                        timeout=httpx2.Timeout(self.stall_timeout, connect=self._connect_timeout),
                    )
                sdk = self._sdk
        return sdk

    def warm(self) -> None:
        """Import the SDK and build its client now (from a thread, off the UI)."""
        self._client  # noqa: B018

    async def close(self) -> None:
        """Close the HTTP connection pool (if one was ever made)."""
        if self._sdk is not None:
            await self._sdk.close()

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        model: str,
        *,
        timeout: float = 30.0,
    ) -> str:
        """A short answer, not streamed (for background requests such as titles).

        No retries; raises the SDK's errors. The text is sanitized.
        """
        client = self._client.with_options(timeout=timeout, max_retries=0)
        request: Any = list(messages)  # the SDK's TypedDicts; ours are plain dicts
        answer = await client.chat.completions.create(model=model, messages=request, stream=False)
        if not answer.choices:
            return ""
        return clean(answer.choices[0].message.content or "")

    async def list_models(self) -> list[str]:
        """Model ids from ``GET /models`` (sanitized), sorted.

        The body is read as plain JSON: building the SDK's model objects took
        seconds for a list of 50,000 (OpenRouter-sized lists and larger exist).
        """
        response = await self._client.models.with_raw_response.list()
        body = json.loads(response.http_response.content)
        entries = body.get("data") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            raise ValueError("the model list is not an OpenAI-style list")
        return sorted(
            clean_line(entry["id"], 200)
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("id"), str)
        )

    async def server_info(self, model: str, cache: ServerInfoCache) -> ServerInfo:
        """What this client's server says about ``model`` (context window, model list),
        asked once per cache; the key goes only to this client's own origin."""
        return await cache.ask(self.base_url, model, api_key=self._secret)

    async def stream(
        self,
        messages: Sequence[dict[str, Any]],
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Send ``messages`` and yield events until the reply ends.

        Always ends with exactly one :class:`Finished` or :class:`Failed`.
        Never raises for network or server trouble. Closing the generator
        (or cancelling its consumer) closes the HTTP response.
        """
        kwargs: dict[str, Any] = {"model": model, "messages": list(messages), "stream": True}
        # Request options (temperature, top_p, max_tokens, seed, reasoning_effort):
        # only the ones that are set, so the server's defaults apply otherwise.
        for name, value in (options or {}).items():
            if value is not None and name not in kwargs:
                kwargs[name] = value
        if self.stream_usage:
            kwargs["stream_options"] = {"include_usage": True}
        import openai

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
        http = response.http_response
        finish_reason: str | None = None
        received = 0  # text deltas, answer or reasoning
        try:
            if looks_like_html(http.headers.get("content-type", "")):
                raise _HtmlPage(await _read_start(http))
            async for data in _sse_data(http):
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if not isinstance(chunk, dict):
                    continue
                problem = chunk.get("error")
                if problem:
                    message = problem.get("message") if isinstance(problem, dict) else problem
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
                            received += 1
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
            yield Failed(await self._describe(None, model, received=received))
        else:
            yield Finished(clean_line(finish_reason, 40))

    async def _describe(
        self, error: BaseException | None, model: str, *, received: int | None = None
    ) -> Cause:
        """The worded :class:`Cause` of ``error`` (None: the stream ended without a
        finish reason), with the server's models for a 404, and never the API key.

        ``received`` is how many text deltas had arrived (None: the request
        failed before the body was read).
        """
        facts = self._facts(error, model, received)
        if facts.kind == "not_found":
            try:
                models = await asyncio.wait_for(self.list_models(), 5)
            except Exception:
                models = []
            facts = replace(facts, models=tuple(models))
        secret = self._secret
        facts = replace(
            facts,
            base_url=redact(facts.base_url, secret),
            model=redact(facts.model, secret),
            server_text=redact(facts.server_text, secret),
            models=tuple(redact(name, secret) for name in facts.models),
            detail=redact(facts.detail, secret),
        )
        return word(facts)

    def _facts(self, error: BaseException | None, model: str, received: int | None) -> Facts:
        here = Facts(
            "cut",
            base_url=self.base_url,
            model=model,
            key_hint=self.key_hint,
            received=received,
            stall_timeout=self.stall_timeout,
        )
        if error is None:
            return here
        if isinstance(error, _InStreamError):
            return replace(
                here,
                kind="stream_error",
                server_text=clean_line(str(error), 300),
                detail=repr(error),
            )
        if isinstance(error, _HtmlPage):
            return replace(here, kind="html_page", server_text=page_title(str(error)))
        return facts_of(
            error,
            base_url=self.base_url,
            model=model,
            key_hint=self.key_hint,
            received=received,
            stall_timeout=self.stall_timeout,
        )


class _InStreamError(Exception):
    """An error object sent inside a stream that began with HTTP 200."""


class _HtmlPage(Exception):
    """A web page (its start) where server-sent events were expected."""


#: How much of an HTML page is read to find its title.
_PAGE_START = 64 * 1024


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _read_start(response: _httpx.Response, limit: int = _PAGE_START) -> str:
    """The first ``limit`` characters or so of a body (to find an HTML page's title)."""
    pieces: list[str] = []
    size = 0
    async for text in response.aiter_text():
        pieces.append(text)
        size += len(text)
        if size >= limit:
            break
    return "".join(pieces)[:limit]


async def _sse_data(response: _httpx.Response) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined by newlines).

    Raises :class:`_HtmlPage` when the body starts like a web page.
    """
    lines: list[str] = []
    first = True
    body = response.aiter_lines()
    async for line in body:
        if first and line.strip():
            first = False
            if looks_like_html("", line):
                rest = [line]
                size = len(line)
                async for more in body:
                    rest.append(more)
                    size += len(more)
                    if size >= _PAGE_START:
                        break
                raise _HtmlPage("\n".join(rest))
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
