"""A scripted, fault-injecting OpenAI-compatible streaming server for tests (stdlib only).

The server speaks just enough of the OpenAI HTTP API for a chat client that uses
``AsyncOpenAI(...).chat.completions.create(stream=True)`` over real HTTP:

* ``POST /v1/chat/completions`` -- streamed (SSE) or plain ``chat.completion`` answers;
* ``GET  /v1/models``           -- the model list;
* what a real server says about its context window, when asked to imitate one
  (:meth:`OpenAIServer.imitate`: llama.cpp ``/props``, Ollama ``/api/show`` and
  ``/api/ps``, vLLM / OpenRouter fields in ``/v1/models``, LM Studio ``/api/v0/models``);
* anything else                 -- a 404 OpenAI-style JSON error.

Every answer is described by a :class:`Reply`. Tests queue replies, point the client
at :attr:`OpenAIServer.base_url`, and afterwards inspect what was requested
(:attr:`OpenAIServer.requests`) and how each stream went (:attr:`OpenAIServer.streams`).

Quick start::

    from openai_server import OpenAIServer, Reply      # tests/ on sys.path

    with OpenAIServer() as server:                      # binds 127.0.0.1 on a free port
        server.queue(Reply.text("Hello there, world!", delay=0.01))
        server.queue(Reply(status=429, headers={"Retry-After": "1"}, repeat=2))
        client = AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
        assert server.wait_for_requests(1)
        assert server.chat_requests[0].body["messages"][-1]["content"] == "hi"
        record = server.streams[0]
        assert record.finished.wait(5) and not record.client_disconnected

When the queue is empty, :attr:`OpenAIServer.default_reply` answers (by default it
echoes the last user message as ``"Echo: <text>"``). ``default_reply`` and queued
items may also be callables ``(Recorded) -> Reply`` that build a reply per request.

Fault injection (see :class:`Reply` for details): slow drip (``delay``), slow first
token (``first_delay``), slow headers (``headers_delay``), abrupt connection cut
(``cut_after``), stall (``stall_after``), an in-stream error event
(``error_event_after``), a malformed SSE event (``malformed_after``), a missing finish
reason (``finish_reason=None``), HTTP errors with headers and arbitrary bodies
(``status``/``headers``/``body``/``content_type``) and retries (``repeat``).
All ``*_after`` counters count *content* deltas (reasoning deltas are not counted) and
fire when exactly that many content deltas have been sent; ``0`` fires right after the
reasoning deltas, ``len(content)`` fires after the last content delta.

Streams are written as raw SSE bytes on an HTTP/1.1 response with ``Connection: close``
and no ``Content-Length`` (the body ends when the server closes the connection), unless
``Reply(chunked=True)`` asks for ``Transfer-Encoding: chunked`` like most real servers
(then a cut surfaces in the client as an incomplete-body error instead of a clean end).

Manual use (e.g. in tmux against the real app)::

    python tests/openai_server.py --port 8765 --delay 0.02 --first-delay 0.3

serves a realistic Markdown answer word by word. A last user message containing the
word ``long`` streams ~2,000 words, ``cut`` cuts the connection after 20 chunks,
``think`` adds reasoning deltas first, ``error`` answers HTTP 500.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import http.server
import json
import re
import select
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = [
    "DEFAULT_ERROR_EVENT",
    "OpenAIServer",
    "Recorded",
    "Reply",
    "StreamRecord",
    "echo_reply",
]

#: Exceptions that mean "the client went away" while writing; never logged.
DISCONNECT_ERRORS: tuple[type[BaseException], ...] = (
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)

#: The in-stream error event sent by ``Reply(error_event_after=N)`` by default.
DEFAULT_ERROR_EVENT: dict[str, Any] = {
    "error": {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
    }
}

#: How long a single wait slice lasts; waits check for disconnects between slices.
_WAIT_SLICE = 0.05

_WORD_RE = re.compile(r"\S+\s*")


# --------------------------------------------------------------------------- replies


@dataclass
class Reply:
    """One scripted response. Every field is optional; ``Reply()`` is a valid empty answer.

    Content and shape:
        content: content deltas; each one is its own SSE event (``chat.completion.chunk``).
            The first chunk's delta also carries ``"role": "assistant"``.
        reasoning: reasoning deltas, sent before the content in delta field
            ``reasoning_field`` (``"reasoning_content"`` or e.g. ``"reasoning"``).
        finish_reason: sent in a final chunk with an empty delta. ``None``: no finish
            chunk at all, but ``data: [DONE]`` is still sent.
        usage: token usage. Sent as an extra chunk with ``"choices": []`` only when the
            request had ``stream_options.include_usage`` true and ``send_usage`` is true.
            ``None`` means "compute a plausible one" (words in the prompt / deltas sent).
        usage_in_last_chunk: put ``usage`` on the finish chunk instead of a separate
            chunk (as some servers do); still only when the request asked for usage.
        model: model name to report; default echoes the requested model.

    Timing (all waits abort at once when the server stops):
        headers_delay: seconds before the response status line/headers are sent.
        first_delay: seconds after the headers, before the first chunk (TTFT).
        delay: seconds between chunks (slow drip).

    Faults (counted in *content* deltas sent):
        cut_after: after N content chunks, shut the socket down abruptly (no finish
            chunk, no ``[DONE]``). With ``cut_reset=True`` the close sends a TCP RST.
        stall_after / stall_seconds: after N content chunks send nothing for
            ``stall_seconds`` (keeping the connection open; aborted early if the client
            disconnects or the server stops), then continue and end normally.
        resume: a ``threading.Event`` that ends a stall early when set, so a test can
            hold a stream at a known point and let it go on when it is ready.
        error_event_after / error_event: after N content chunks send
            ``data: {error json}`` and close.
        malformed_after: after N content chunks send ``data: {this is not json`` and close.

    Plain HTTP answers:
        status, body, headers, content_type: when ``status != 200`` (or ``body`` is not
            ``None``) answer with that status, the headers (e.g. ``{"Retry-After": "2"}``)
            and the body: a dict is sent as JSON, str/bytes as is (with ``content_type``),
            ``None`` gives an OpenAI-style error JSON naming the status. ``headers`` are
            also added to successful (streamed or not) responses.

    Queueing:
        repeat: how many requests this reply serves before it leaves the queue.
        chunked: use ``Transfer-Encoding: chunked`` for the stream instead of a
            close-delimited body.
    """

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    reasoning_field: str = "reasoning_content"
    finish_reason: str | None = "stop"
    usage: dict[str, Any] | None = None
    send_usage: bool = True
    usage_in_last_chunk: bool = False
    model: str | None = None

    headers_delay: float = 0.0
    first_delay: float = 0.0
    delay: float = 0.0

    cut_after: int | None = None
    cut_reset: bool = False
    stall_after: int | None = None
    stall_seconds: float = 3600.0
    resume: threading.Event | None = field(default=None, repr=False, compare=False)
    error_event_after: int | None = None
    error_event: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_ERROR_EVENT))
    malformed_after: int | None = None

    status: int = 200
    body: str | bytes | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    repeat: int = 1
    chunked: bool = False

    # ------------------------------------------------------------------ helpers

    @property
    def text_content(self) -> str:
        """All content deltas joined."""
        return "".join(self.content)

    @property
    def is_http_error(self) -> bool:
        """True when this reply is a plain HTTP answer rather than a completion."""
        return self.status != 200 or self.body is not None

    @classmethod
    def text(cls, text: str, *, words_per_chunk: int = 1, **kw: Any) -> Reply:
        """A reply whose content is ``text`` split into deltas of ``words_per_chunk`` words.

        Whitespace is kept (each word carries its trailing whitespace, leading whitespace
        goes on the first delta), so ``"".join(reply.content) == text``.
        """
        return cls(content=split_words(text, words_per_chunk), **kw)

    @classmethod
    def tokens(cls, n: int, **kw: Any) -> Reply:
        """A long reply of ``n`` small deltas (one word each, a paragraph break every 50)."""
        return cls(content=make_tokens(n), **kw)

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str | None = None,
        *,
        retry_after: float | str | None = None,
        **kw: Any,
    ) -> Reply:
        """An HTTP error answer with an OpenAI-style body (and ``Retry-After`` if given)."""
        headers = dict(kw.pop("headers", {}) or {})
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        body = error_body(status, message) if message is not None else None
        return cls(status=status, body=body, headers=headers, **kw)


def split_words(text: str, words_per_chunk: int = 1) -> list[str]:
    """Split ``text`` into deltas of ``words_per_chunk`` words, keeping all whitespace."""
    words = _WORD_RE.findall(text)
    if not words:
        return [text] if text else []
    leading = text[: len(text) - len(text.lstrip())]
    words[0] = leading + words[0]
    step = max(1, words_per_chunk)
    return ["".join(words[i : i + step]) for i in range(0, len(words), step)]


_VOCAB_TEXT = (
    "the quick brown fox jumps over a lazy dog while streaming tokens arrive one by one "
    "from an imaginary model that likes to talk about terminals markdown and latency"
)


def make_tokens(n: int) -> list[str]:
    """``n`` deterministic word deltas, a sentence end every 12 and a paragraph every 50."""
    vocab = _VOCAB_TEXT.split()
    out: list[str] = []
    for i in range(n):
        word = vocab[i % len(vocab)]
        if (i + 1) % 50 == 0:
            out.append(word + ".\n\n")
        elif (i + 1) % 12 == 0:
            out.append(word + ". ")
        else:
            out.append(word + " ")
    return out


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error JSON for ``status``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    types = {
        400: "invalid_request_error",
        401: "invalid_request_error",
        403: "permission_error",
        404: "invalid_request_error",
        422: "invalid_request_error",
        429: "rate_limit_error",
    }
    codes = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
    return {
        "error": {
            "message": message or f"Error code: {status} - {phrase}",
            "type": types.get(status, "server_error"),
            "param": None,
            "code": codes.get(status),
        }
    }


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last ``user`` message in a chat request body ("" if none)."""
    messages = body.get("messages") or []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def echo_reply(request: Recorded) -> Reply:
    """The default reply: ``"Echo: <last user message>"`` in word deltas."""
    return Reply.text(f"Echo: {last_user_text(request.body)}")


# --------------------------------------------------------------------------- records


class Headers(dict):
    """A ``dict`` of request headers with case-insensitive lookups (keys stored lowercase)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class Recorded:
    """One received request."""

    method: str
    path: str
    headers: Headers = field(repr=False)
    body: dict[str, Any]
    raw: bytes = field(default=b"", repr=False)
    query: str = ""
    time: float = field(default_factory=time.monotonic)
    #: The :class:`StreamRecord` if this request was answered with a stream.
    stream: StreamRecord | None = field(default=None, repr=False)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """``body["messages"]`` (empty list if absent)."""
        return list(self.body.get("messages") or [])

    @property
    def wants_usage(self) -> bool:
        """Whether ``stream_options.include_usage`` was true."""
        opts = self.body.get("stream_options")
        return isinstance(opts, dict) and bool(opts.get("include_usage"))


@dataclass
class StreamRecord:
    """What happened to one streamed response (filled in live by the handler thread)."""

    request: Recorded = field(repr=False)
    reply: Reply = field(repr=False)
    #: ``chat.completion.chunk`` events fully written (reasoning, content, finish, usage).
    chunks_sent: int = 0
    #: Content deltas fully written.
    content_sent: int = 0
    #: Whether ``data: [DONE]`` was written.
    done_sent: bool = False
    #: A write failed with a disconnect error, or the client closed during a wait.
    client_disconnected: bool = False
    #: The stream ended because the server was stopping.
    aborted_by_server: bool = False
    #: Which fault ended the stream, if any: "cut", "error_event", "malformed".
    fault: str | None = None
    #: Set when the handler is completely done with this stream.
    finished: threading.Event = field(default_factory=threading.Event)


class _ClientGone(Exception):
    """Internal: the client disconnected; unwinds the handler quietly."""


class _ServerStopping(Exception):
    """Internal: the server is stopping; unwinds the handler quietly."""


#: Handler exceptions that end a connection silently (no traceback).
_QUIET_ERRORS: tuple[type[BaseException], ...] = (
    *DISCONNECT_ERRORS,
    _ClientGone,
    _ServerStopping,
    TimeoutError,
)


# --------------------------------------------------------------------------- HTTP layer


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: OpenAIServer) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, _QUIET_ERRORS):
            return
        if self.app._stopping.is_set() and isinstance(exc, OSError):
            return
        text = traceback.format_exc()
        self.app.errors.append(text)
        sys.stderr.write(f"openai_server: error handling request:\n{text}")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-test-server/1.0"
    sys_version = ""
    #: Socket timeout for reads/writes; stalls/waits do not touch the socket, so they
    #: are not limited by it.
    timeout = 60
    server: _HTTPServer

    # -------------------------------------------------------------- plumbing

    @property
    def app(self) -> OpenAIServer:
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        if self.app.verbose:
            sys.stderr.write(f"openai_server: {self.address_string()} {format % args}\n")

    def handle(self) -> None:
        try:
            super().handle()
        except _QUIET_ERRORS:
            self.close_connection = True

    def _read_body(self) -> bytes:
        """Read the whole request body (Content-Length or chunked)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers end with an empty line.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _record(self) -> tuple[Recorded, str | None]:
        raw = self._read_body()
        path, _, query = self.path.partition("?")
        body: dict[str, Any] = {}
        problem = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                problem = f"We could not parse the JSON body of your request: {exc}"
            else:
                if isinstance(parsed, dict):
                    body = parsed
                else:
                    problem = "The request body must be a JSON object."
        rec = Recorded(
            method=self.command,
            path=path,
            headers=Headers(self.headers.items()),
            body=body,
            raw=raw,
            query=query,
        )
        self.app._add_request(rec)
        return rec, problem

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except DISCONNECT_ERRORS as exc:
            raise _ClientGone from exc

    def _send_simple(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        try:
            self.end_headers()
        except DISCONNECT_ERRORS as exc:
            raise _ClientGone from exc
        if self.command != "HEAD":
            self._write(body)

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_simple(status, json.dumps(obj).encode(), "application/json", headers)

    def _not_found(self) -> None:
        self._send_json(
            404,
            {
                "error": {
                    "message": f"Unknown request URL: {self.command} {self.path}",
                    "type": "invalid_request_error",
                    "code": None,
                }
            },
        )

    # -------------------------------------------------------------- routing

    def _dispatch(self) -> None:
        rec, problem = self._record()
        route = (self.command, rec.path.rstrip("/"))
        if route == ("POST", "/v1/chat/completions"):
            if problem:
                self._send_json(400, error_body(400, problem))
                return
            self._chat(rec)
        elif route == ("GET", "/v1/models"):
            self._models()
        elif route in self.app.routes:
            answer = self.app.routes[route]
            self._send_json(200, answer(rec) if callable(answer) else answer)
        else:
            self._not_found()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def _models(self) -> None:
        status = self.app.models_status
        if status != 200:
            self._send_json(status, error_body(status))
            return
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "test"}
            | self.app.model_fields.get(m, {})
            for m in self.app.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def _chat(self, rec: Recorded) -> None:
        if rec.body.get("stream") is not True:
            # Not streamed: the app's background requests (titles). They have their
            # own answer and leave the queue of replies alone.
            answer = self.app.completion_reply
            if answer is None:
                self._send_json(501, error_body(501, "this server only streams"))
            elif answer.is_http_error:
                self._http_error(answer)
            else:
                self._completion(rec, answer)
            return
        reply = self.app._next_reply(rec)
        if reply.headers_delay and not self._wait(reply.headers_delay, None):
            return
        if reply.is_http_error:
            self._http_error(reply)
        elif rec.body.get("stream") is True:
            self._stream(rec, reply)
        else:
            self._completion(rec, reply)

    def _http_error(self, reply: Reply) -> None:
        if reply.first_delay and not self._wait(reply.first_delay, None):
            return
        body = reply.body
        if body is None:
            body = error_body(reply.status)
        if isinstance(body, dict):
            data = json.dumps(body).encode()
            ctype = reply.content_type or "application/json"
        else:
            data = body.encode() if isinstance(body, str) else bytes(body)
            ctype = reply.content_type or "text/plain; charset=utf-8"
        self._send_simple(reply.status, data, ctype, reply.headers)

    # -------------------------------------------------------------- waiting

    def _client_closed(self) -> bool:
        """Non-blocking check whether the peer closed (or reset) the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _wait(
        self, seconds: float, record: StreamRecord | None, until: threading.Event | None = None
    ) -> bool:
        """Wait ``seconds`` (or until ``until`` is set); False if the server is stopping
        or the client went away.

        Waits on the server's stop event in slices, checking the socket between them,
        so neither ``stop()`` nor a disconnecting client is ever held up.
        """
        stop = self.app._stopping
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            if stop.is_set():
                if record is not None:
                    record.aborted_by_server = True
                return False
            if self._client_closed():
                if record is not None:
                    record.client_disconnected = True
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (until is not None and until.is_set()):
                return True
            stop.wait(min(remaining, _WAIT_SLICE))

    # -------------------------------------------------------------- completions

    def _usage(self, rec: Recorded, reply: Reply) -> dict[str, Any]:
        if reply.usage is not None:
            return dict(reply.usage)
        prompt = sum(len(message_text(m).split()) + 4 for m in rec.messages if isinstance(m, dict))
        completion = len(reply.content) + len(reply.reasoning)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _completion(self, rec: Recorded, reply: Reply) -> None:
        """A non-streamed ``chat.completion`` (held until ``reply.resume`` is set, if given)."""
        if reply.first_delay and not self._wait(reply.first_delay, None):
            return
        if reply.resume is not None and not self._wait(reply.stall_seconds, None, reply.resume):
            return
        message: dict[str, Any] = {"role": "assistant", "content": reply.text_content}
        if reply.reasoning:
            message[reply.reasoning_field] = "".join(reply.reasoning)
        obj = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or rec.body.get("model") or "test-model",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.finish_reason or "stop",
                }
            ],
            "usage": self._usage(rec, reply),
        }
        self._send_json(200, obj, reply.headers)

    def _stream(self, rec: Recorded, reply: Reply) -> None:
        record = StreamRecord(request=rec, reply=reply)
        rec.stream = record
        self.app._add_stream(record)
        try:
            self._stream_body(rec, reply, record)
        except _ClientGone:
            record.client_disconnected = True
        except _ServerStopping:
            record.aborted_by_server = True
        finally:
            self.close_connection = True
            if record.fault != "cut":
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_WR)
            record.finished.set()

    def _stream_body(self, rec: Recorded, reply: Reply, record: StreamRecord) -> None:
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = reply.model or rec.body.get("model") or "test-model"
        wants_usage = rec.wants_usage
        send_usage = wants_usage and reply.send_usage
        chunked = reply.chunked

        def send_raw(data: bytes) -> None:
            if chunked:
                data = b"%x\r\n%s\r\n" % (len(data), data)
            self._write(data)

        first = True

        def pause() -> None:
            """The delay before the next chunk (first_delay before the first)."""
            seconds = reply.first_delay if first else reply.delay
            if seconds and not self._wait(seconds, record):
                raise _ClientGone if record.client_disconnected else _ServerStopping
            if self.app._stopping.is_set():
                raise _ServerStopping

        def send_chunk(
            delta: dict[str, Any] | None,
            finish: str | None = None,
            usage: dict[str, Any] | None = None,
            no_choices: bool = False,
        ) -> None:
            nonlocal first
            pause()
            obj: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": []
                if no_choices
                else [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
            }
            if wants_usage:
                obj["usage"] = usage
            if first and not no_choices:
                obj["choices"][0]["delta"] = {"role": "assistant", **(delta or {})}
            send_raw(b"data: " + json.dumps(obj).encode() + b"\n\n")
            first = False
            record.chunks_sent += 1

        def end_connection() -> None:
            if chunked:
                send_raw(b"")  # the zero-length terminating chunk

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Request-Id", f"req_{uuid.uuid4().hex[:16]}")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        try:
            self.end_headers()
        except DISCONNECT_ERRORS as exc:
            raise _ClientGone from exc

        for piece in reply.reasoning:
            send_chunk({reply.reasoning_field: piece})

        def faults(count: int) -> bool:
            """Apply faults due after ``count`` content chunks; True ends the stream."""
            if reply.stall_after == count:
                if not self._wait(reply.stall_seconds, record, until=reply.resume):
                    raise _ClientGone if record.client_disconnected else _ServerStopping
            if reply.cut_after == count:
                record.fault = "cut"
                sock = self.connection
                with contextlib.suppress(OSError):
                    if reply.cut_reset:
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    else:
                        sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    # makefile() readers keep the fd alive; close them too.
                    self.rfile.close()
                    sock.close()
                return True
            if reply.error_event_after == count:
                pause()
                record.fault = "error_event"
                send_raw(b"data: " + json.dumps(reply.error_event).encode() + b"\n\n")
                end_connection()
                return True
            if reply.malformed_after == count:
                pause()
                record.fault = "malformed"
                send_raw(b"data: {this is not json\n\n")
                end_connection()
                return True
            return False

        for index, piece in enumerate(reply.content):
            if faults(index):
                return
            send_chunk({"content": piece})
            record.content_sent += 1
        if faults(len(reply.content)):
            return
        if first:
            # Nothing sent yet: real servers still open with a role chunk.
            send_chunk({"content": ""})

        usage = self._usage(rec, reply) if send_usage else None
        if reply.finish_reason is not None:
            on_finish = usage if reply.usage_in_last_chunk else None
            send_chunk({}, finish=reply.finish_reason, usage=on_finish)
            if on_finish is not None:
                usage = None
        if usage is not None:
            send_chunk(None, usage=usage, no_choices=True)
        send_raw(b"data: [DONE]\n\n")
        record.done_sent = True
        end_connection()


# --------------------------------------------------------------------------- server


ReplySource = Reply | Callable[[Recorded], Reply]


class OpenAIServer:
    """A scripted OpenAI-compatible server on 127.0.0.1, served from a daemon thread.

    Attributes (set them before or while serving):
        models: model ids listed by ``GET /v1/models``.
        models_status: HTTP status of ``GET /v1/models`` (non-200 gives an error JSON).
        model_fields: extra fields of a model's ``/v1/models`` entry, by model id
            (``{"m": {"max_model_len": 4096}}``).
        routes: more JSON endpoints, ``{(method, path): body or (Recorded) -> body}``,
            answered with 200 (see :meth:`imitate` for real servers' shapes).
        default_reply: a :class:`Reply` or a callable ``(Recorded) -> Reply`` used when
            the queue is empty (default :func:`echo_reply`).
        completion_reply: the answer to chat requests that are not streamed (the app
            asks for a conversation's title that way); None (the default) answers
            HTTP 501, so titles stay as they were unless a test sets one. The queue
            and ``default_reply`` serve streamed requests only.
        requests: every :class:`Recorded` request, in arrival order.
        streams: a :class:`StreamRecord` per streamed response, in start order.
        errors: tracebacks of unexpected handler errors (client disconnects excluded).
        verbose: log one line per request to stderr.
    """

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", verbose: bool = False) -> None:
        self.host = host
        self._requested_port = port
        self.verbose = verbose
        self.models: list[str] = ["test-model", "gpt-4o-mini"]
        self.models_status: int = 200
        self.model_fields: dict[str, dict[str, Any]] = {}
        self.routes: dict[tuple[str, str], Any] = {}
        self.default_reply: ReplySource = echo_reply
        self.completion_reply: Reply | None = None
        self.requests: list[Recorded] = []
        self.streams: list[StreamRecord] = []
        self.errors: list[str] = []
        self._queue: deque[list[Any]] = deque()  # [reply_source, remaining_uses]
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle

    def start(self) -> OpenAIServer:
        """Bind and start serving in a daemon thread; returns ``self``."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"openai-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; in-flight waits/stalls abort at once."""
        httpd, self._httpd = self._httpd, None
        self._stopping.set()
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (the requested one before ``start()``)."""
        if self._httpd is None:
            return self._requested_port
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` -- pass as ``base_url`` to the OpenAI client."""
        return f"http://{self.host}:{self.port}/v1"

    # -------------------------------------------------------------- scripting

    def queue(self, *replies: ReplySource) -> OpenAIServer:
        """Append replies (or ``(Recorded) -> Reply`` callables) to the queue."""
        with self._cond:
            for reply in replies:
                uses = reply.repeat if isinstance(reply, Reply) else 1
                self._queue.append([reply, max(1, uses)])
        return self

    def clear_queue(self) -> None:
        """Drop every queued reply."""
        with self._cond:
            self._queue.clear()

    @property
    def pending(self) -> int:
        """How many queue entries are left (a ``repeat=n`` reply counts once)."""
        with self._cond:
            return len(self._queue)

    def reset(self) -> None:
        """Clear the queue and all recordings (keeps models and default reply)."""
        with self._cond:
            self._queue.clear()
            self.requests.clear()
            self.streams.clear()
            self.errors.clear()

    def _next_reply(self, rec: Recorded) -> Reply:
        with self._cond:
            if self._queue:
                entry = self._queue[0]
                source = entry[0]
                entry[1] -= 1
                if entry[1] <= 0:
                    self._queue.popleft()
            else:
                source = self.default_reply
        return source(rec) if callable(source) else source

    # -------------------------------------------------------------- observing

    def _add_request(self, rec: Recorded) -> None:
        with self._cond:
            self.requests.append(rec)
            self._cond.notify_all()

    def _add_stream(self, record: StreamRecord) -> None:
        with self._cond:
            self.streams.append(record)
            self._cond.notify_all()

    @staticmethod
    def _is_chat(request: Recorded) -> bool:
        return request.method == "POST" and request.path.rstrip("/") == "/v1/chat/completions"

    @staticmethod
    def _is_background(request: Recorded) -> bool:
        """A chat request that is not streamed (a title request), recorded apart."""
        return OpenAIServer._is_chat(request) and request.body.get("stream") is not True

    @property
    def chat_requests(self) -> list[Recorded]:
        """Recorded ``POST /v1/chat/completions`` requests that asked for a stream
        (the conversation's replies; see :attr:`title_requests` for the others)."""
        with self._cond:
            return [r for r in self.requests if self._is_chat(r) and not self._is_background(r)]

    @property
    def title_requests(self) -> list[Recorded]:
        """Recorded chat requests that were not streamed (the app's title requests)."""
        with self._cond:
            return [r for r in self.requests if self._is_background(r)]

    @property
    def last_request(self) -> Recorded | None:
        with self._cond:
            return self.requests[-1] if self.requests else None

    def wait_for_title_requests(self, n: int, timeout: float = 10) -> bool:
        """Block until at least ``n`` title requests were recorded; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: sum(1 for r in self.requests if self._is_background(r)) >= n, timeout
            )

    def wait_for_requests(self, n: int, timeout: float = 10, *, chat_only: bool = True) -> bool:
        """Block until at least ``n`` streamed chat requests (the conversation's replies)
        were recorded, or ``n`` requests of any kind with ``chat_only=False``; False on
        timeout. (The app also asks ``/v1/models``, ``/props``, ... when it starts, and
        for a title, not streamed, after a first reply.)"""

        def enough() -> bool:
            if not chat_only:
                return len(self.requests) >= n
            chats = [r for r in self.requests if self._is_chat(r) and not self._is_background(r)]
            return len(chats) >= n

        with self._cond:
            return self._cond.wait_for(enough, timeout)

    def info_requests(self) -> list[Recorded]:
        """Requests other than chat completions (model list, server properties)."""
        with self._cond:
            return [r for r in self.requests if r.path.rstrip("/") != "/v1/chat/completions"]

    def imitate(self, kind: str, context: int, *, model: str | None = None) -> OpenAIServer:
        """Answer like ``kind`` does about its context window (``context`` tokens) for
        ``model`` (default: the first of :attr:`models`).

        ``kind``: ``llama.cpp`` (``GET /props``), ``ollama`` (``POST /api/show`` with
        ``num_ctx``; the model's own ``context_length`` is four times larger),
        ``ollama-default`` (``/api/show`` without ``num_ctx`` gives the model's own
        ``context_length``, 32 times ``context``; once a chat request came, the model
        is loaded and ``GET /api/ps`` says ``context``), ``ollama-loaded``
        (``GET /api/ps`` says ``context`` while ``num_ctx`` says twice that),
        ``vllm`` (``max_model_len``) and ``openrouter`` (``context_length``) in
        ``/v1/models``, ``lmstudio`` (``GET /api/v0/models``, loaded length
        ``context``, maximum four times larger).
        """
        name = model or (self.models[0] if self.models else "test-model")
        if kind == "llama.cpp":
            self.routes[("GET", "/props")] = {
                "default_generation_settings": {"n_ctx": context, "model": "/models/x.gguf"},
                "total_slots": 1,
            }
        elif kind in ("ollama", "ollama-default", "ollama-loaded"):
            shown_ctx = context * 2 if kind == "ollama-loaded" else context
            parameters = 'stop "<|eot_id|>"\ntemperature 0.6'
            if kind != "ollama-default":
                parameters = f"num_ctx                        {shown_ctx}\n" + parameters
            maximum = {"ollama": context * 4, "ollama-default": context * 32}.get(kind, context)
            self.routes[("POST", "/api/show")] = lambda rec: {
                "parameters": parameters,
                "model_info": {
                    "general.architecture": "llama",
                    "llama.context_length": maximum,
                    "llama.embedding_length": 3072,
                },
                "details": {"family": "llama"},
                "asked_for": rec.body.get("model"),
            }
            loaded = {"name": name, "model": name, "context_length": context}
            if kind == "ollama-loaded":
                self.routes[("GET", "/api/ps")] = {"models": [loaded]}
            elif kind == "ollama-default":  # loaded by the first chat request
                self.routes[("GET", "/api/ps")] = lambda rec: {
                    "models": [loaded] if self.chat_requests else []
                }
        elif kind == "vllm":
            self.model_fields[name] = {"owned_by": "vllm", "max_model_len": context}
        elif kind == "openrouter":
            self.model_fields[name] = {
                "context_length": context,
                "top_provider": {"context_length": context, "max_completion_tokens": 4096},
            }
        elif kind == "lmstudio":
            self.routes[("GET", "/api/v0/models")] = {
                "object": "list",
                "data": [
                    {
                        "id": name,
                        "type": "llm",
                        "state": "loaded",
                        "max_context_length": context * 4,
                        "loaded_context_length": context,
                    }
                ],
            }
        else:
            raise ValueError(f"unknown server kind {kind!r}")
        return self

    def wait_for_streams(self, n: int, timeout: float = 10) -> bool:
        """Block until at least ``n`` streamed responses have started; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.streams) >= n, timeout)


# --------------------------------------------------------------------------- __main__

DEMO_ANSWER = """\
Here is a quick overview of **streaming** in a terminal chat client. Tokens arrive \
one by one, the Markdown is re-rendered as it grows, and you can press `Escape` at \
any time to stop the answer.

Key points:

- Responses are sent as *server-sent events* over plain HTTP.
- Each event carries a small `delta` of text.
- The final event reports the `finish_reason` and token usage.

A small Python example:

```python
import asyncio
from openai import AsyncOpenAI

async def main() -> None:
    client = AsyncOpenAI(base_url="http://127.0.0.1:8765/v1", api_key="x")
    stream = await client.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": "Hello!"}],
        stream=True,
    )
    async for chunk in stream:
        print(chunk.choices[0].delta.content or "", end="", flush=True)

asyncio.run(main())
```

| Setting  | Default | Meaning                     |
|----------|---------|-----------------------------|
| delay    | 0.02 s  | pause between tokens        |
| TTFT     | 0.3 s   | wait before the first token |
| model    | any     | echoed back in every chunk  |

That's all -- ask for something *long* to get a very long answer, or say *cut* to \
see a dropped connection.
"""

DEMO_REASONING = (
    "The user wants a demo. I should show a paragraph, a list, some code and a table, "
    "and keep it short enough to read while it streams."
)


def demo_reply_factory(delay: float, first_delay: float) -> Callable[[Recorded], Reply]:
    """The manual-testing default reply, reacting to words in the last user message."""

    def build(request: Recorded) -> Reply:
        words = set(re.findall(r"[a-z]+", last_user_text(request.body).lower()))
        model = str(request.body.get("model") or "")
        if "error" in words or "broken" in model:
            return Reply(status=500, first_delay=first_delay)
        text = DEMO_ANSWER
        if "long" in words:
            text = "".join(make_tokens(2000))
        # Each model its own pace and first line, so models compared side by side differ.
        pace = 1 + sum(model.encode()) % 3
        text = f"*{model or 'This model'} answering.* " + text
        reply = Reply.text(text, delay=delay * pace, first_delay=first_delay * pace)
        if "think" in words:
            reply.reasoning = split_words(DEMO_REASONING)
        if "cut" in words:
            reply.cut_after = 20
        return reply

    return build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve a fake OpenAI-compatible streaming API on 127.0.0.1.",
        epilog="Last user message words: 'long' (~2,000 words), 'cut' (drop after 20 "
        "chunks), 'think' (reasoning first), 'error' (HTTP 500); a model named '*broken*' "
        "always answers HTTP 500 (to see one model of a compare fail).",
    )
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds between chunks")
    parser.add_argument(
        "--first-delay", type=float, default=0.3, help="seconds before the first chunk"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    parser.add_argument(
        "--imitate",
        choices=[
            "llama.cpp",
            "ollama",
            "ollama-default",
            "ollama-loaded",
            "vllm",
            "openrouter",
            "lmstudio",
        ],
        help="also answer like this server about its context window (see --context)",
    )
    parser.add_argument("--context", type=int, default=4096, help="the context window to report")
    parser.add_argument(
        "--models",
        help="comma-separated model ids for /v1/models (default: test-model,gpt-4o-mini)",
    )
    args = parser.parse_args(argv)

    server = OpenAIServer(args.port, verbose=not args.quiet)
    if args.models:
        server.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.imitate:
        server.imitate(args.imitate, args.context)
    server.default_reply = demo_reply_factory(args.delay, args.first_delay)
    server.start()
    print(f"Serving fake OpenAI API at {server.base_url}  (Ctrl+C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
