"""``llmchat-tui ask``: one question, the reply streamed to stdout.

The same core as the app: :func:`~llmchat_tui.factory.build_session` makes the
session, :meth:`ChatSession.send` saves the question and starts the
:class:`~llmchat_tui.generation.Generation` (request, retries, sanitize,
checkpoints, ``--tee``), and this module only follows the generation with a
text cursor and writes what arrives. Plain text when stdout is not a
terminal (or with ``--raw``); Markdown rendered by rich when it is. Retries,
errors and ``--stats`` go to stderr.

Exit status: 0 the reply completed, 1 the request (or saving) failed, 2 a
usage error, 130 stopped by Ctrl+C (the partial reply stays on stdout and is
saved as cancelled), 143 stopped by SIGTERM (saved as interrupted). No Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from llmchat_tui.attachments import Attachment, AttachmentError
from llmchat_tui.sanitize import clean_line, normalize_newlines

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.markdown import Markdown

    from llmchat_tui.generation import Generation
    from llmchat_tui.models import Conversation
    from llmchat_tui.session import ChatSession

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

#: Above this many characters of request, the token encoding is loaded first (about
#: a second) so that the oldest messages are left out when the request does not fit.
PLAN_ABOVE_CHARS = 12_000

EPILOG = """\
The prompt is the words given, or stdin when there are none (or "-") and stdin
is not a terminal; with both, the piped text follows the words, after a blank line.

examples:
  llmchat-tui ask "What is the capital of Peru?"
  git diff | llmchat-tui ask "review this"
  llmchat-tui ask -c "and of Chile?"                 # continue the last conversation
  llmchat-tui ask -a notes.txt -a todo.md "merge these"
  llmchat-tui ask --no-save -m llama3.2 "hi" > out.txt
  llmchat-tui ask --stats -s "Answer in one word." "Sky colour?"

exit status: 0 done; 1 the request failed (or could not be saved); 2 usage
error; 130 stopped with Ctrl+C (the partial reply stays on stdout and is
saved as cancelled).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``llmchat-tui ask`` (the global ones are added by the caller)."""
    parser.description = (
        "Ask once and stream the reply to stdout as it arrives; saved as a conversation "
        "the app lists."
    )
    parser.epilog = EPILOG
    parser.add_argument("prompt", nargs="*", metavar="PROMPT", help='the question ("-": stdin)')
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "-c",
        "--continue",
        dest="continue_last",
        action="store_true",
        help="continue the most recently updated conversation",
    )
    which.add_argument("--conversation", metavar="ID", help="continue conversation ID (or prefix)")
    parser.add_argument(
        "-s", "--system", metavar="TEXT", help="system prompt (for a continued one: replaces it)"
    )
    parser.add_argument(
        "-a",
        "--attach",
        metavar="FILE",
        action="append",
        type=Path,
        default=[],
        help="send a file with the prompt: text as a fenced block headed by its name, "
        "PNG/JPEG/GIF/WebP as an image (repeatable)",
    )
    parser.add_argument("--no-save", action="store_true", help="do not save the conversation")
    parser.add_argument(
        "--raw", action="store_true", help="plain text even when stdout is a terminal"
    )
    parser.add_argument(
        "--stats", action="store_true", help="time to first token, tok/s and tokens to stderr"
    )


def say(message: str) -> None:
    """One line on stderr."""
    with contextlib.suppress(OSError, ValueError):
        print(f"llmchat-tui: {message}", file=sys.stderr, flush=True)


def read_prompt(words: list[str], stdin: TextIO | None) -> str | None:
    """The prompt: the words, stdin, or the words then stdin (None: there is none).

    Piped text loses its trailing whitespace (``echo hi |`` sends "hi"). Bytes
    that are not UTF-8 (in stdin or the words) become U+FFFD, with a warning.
    """
    piped = stdin is not None and not stdin.isatty()
    if not words or words == ["-"]:
        if not piped or stdin is None:
            return None
        return _read_all(stdin)
    text = _valid(" ".join(words), "the prompt")
    if piped and stdin is not None:
        extra = _read_all(stdin)
        if extra.strip():
            text = f"{text}\n\n{extra}"
    return text


def _read_all(stdin: TextIO) -> str:
    buffer = getattr(stdin, "buffer", None)
    raw = buffer.read() if buffer is not None else stdin.read().encode("utf-8", "surrogateescape")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        say("stdin is not all UTF-8: the bytes that are not are sent as �")
    return normalize_newlines(text).rstrip()


def _valid(text: str, what: str) -> str:
    """``text`` with undecodable bytes (kept by Python as surrogates) as U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        say(f"{what} is not all UTF-8: the bytes that are not are sent as �")
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def run_ask(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run ``llmchat-tui ask`` with its parsed arguments."""
    from llmchat_tui import paths
    from llmchat_tui.config import ConfigError
    from llmchat_tui.config_load import load_settings
    from llmchat_tui.config_target import resolve_target
    from llmchat_tui.logs import setup_logging
    from llmchat_tui.store import Store, StoreError, StoreLocked

    class UnsavedStore(Store):
        """``--no-save``: reads from the data folder, writes nothing to it."""

        kept: dict[str, bytes] = {}

        def save(self, conv: Conversation) -> None:
            return None

        def keep_attachment(self, attachment: Attachment, data: bytes) -> None:
            self.kept[attachment.sha256] = data  # in memory only: nothing is written

        def read_attachment(self, attachment: Attachment) -> bytes:
            found = self.kept.get(attachment.sha256)
            return found if found is not None else super().read_attachment(attachment)

    try:
        text = read_prompt(list(args.prompt), sys.stdin)
    except OSError as error:
        say(f"cannot read stdin: {error.strerror or error}")
        return EXIT_FAILED
    if text is None:
        parser.error("give a PROMPT, or pipe one in (stdin is a terminal)")
    if not text.strip():
        parser.error("the prompt is empty")
    flags = {
        "model": args.model,
        "base_url": args.base_url,
        "profile": args.profile,
        "data_dir": str(args.data_dir) if args.data_dir else None,
        "tee_file": str(args.tee) if args.tee else None,
        "system_prompt": args.system,
    }
    try:
        settings = load_settings(flags=flags, config_path=args.config)
        target = resolve_target(settings)
    except ConfigError as error:
        say(str(error))
        return EXIT_USAGE
    for warning in target.warnings:
        say(clean_line(warning))
    setup_logging(target.api_key)

    data_dir = Path(settings.data_dir).expanduser() if settings.data_dir else paths.data_dir()
    store = UnsavedStore(data_dir) if args.no_save else Store(data_dir)
    continuing = bool(args.continue_last or args.conversation)
    try:
        if args.no_save:
            if continuing and store.conversations_dir.is_dir():
                store.open()
        else:
            store.acquire_lock()
            store.open()
    except StoreLocked as error:
        say(f"{error}, or use --no-save")
        return EXIT_FAILED
    except (OSError, StoreError) as error:
        say(f"cannot use data folder {data_dir}: {clean_line(str(error))}")
        return EXIT_FAILED

    from llmchat_tui.factory import build_session

    try:
        session = build_session(settings, store, target=target)
        try:
            return asyncio.run(_ask(session, args, text))
        finally:
            with contextlib.suppress(OSError, StoreError):
                store.close()
    except ConfigError as error:
        say(str(error))
        return EXIT_USAGE


def _find(session: ChatSession, args: argparse.Namespace) -> Conversation | str:
    """The conversation to continue, or why there is none (or it cannot be read)."""
    from llmchat_tui.store import StoreError

    store = session.store
    rows = store.summaries() if store.conversations_dir.is_dir() else []
    if args.continue_last:
        if not rows:
            return f"no saved conversation to continue in {store.data_dir}"
        wanted = rows[0].id
        matches = [wanted]
    else:
        wanted = str(args.conversation)
        matches = [row.id for row in rows if row.id == wanted] or [
            row.id for row in rows if row.id.startswith(wanted)
        ]
    if len(matches) > 1:
        return f"ambiguous id {clean_line(wanted)}: {len(matches)} conversations"
    if not matches:
        return f"no saved conversation {clean_line(wanted)} (see llmchat-tui list)"
    try:
        return session.open(matches[0])
    except (OSError, StoreError) as error:
        return clean_line(str(error))


async def _ask(session: ChatSession, args: argparse.Namespace, text: str) -> int:
    """Send ``text`` and stream the reply; the exit status."""
    from llmchat_tui import tokens
    from llmchat_tui.session import request_messages
    from llmchat_tui.store import StoreError

    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    stopped: list[int] = []  # the signal that stopped the reply
    generation: Generation | None = None

    def stop(signum: int) -> None:
        # Once the reply runs, a signal stops only the reply (a second one while it
        # is being saved changes nothing); before, it stops the whole command.
        stopped.append(signum)
        if generation is not None:
            generation.cancel(interrupted=signum != signal.SIGINT)
        elif me is not None and len(stopped) == 1:
            me.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    status = EXIT_FAILED
    try:
        try:
            if args.continue_last or args.conversation:
                found = _find(session, args)
                if isinstance(found, str):
                    say(found)
                    return EXIT_FAILED
                conversation = found
                if args.profile:
                    for warning in session.set_profile(conversation, args.profile):
                        say(clean_line(warning))
                if args.model:
                    session.set_model(conversation, args.model)
                if args.system is not None:
                    conversation.system_prompt = args.system
            else:
                conversation = session.new_conversation()
            model = conversation.model or session.settings.model
            size = sum(len(m["content"]) for m in request_messages(conversation)) + len(text)
            if args.stats or size > PLAN_ABOVE_CHARS:
                await asyncio.to_thread(tokens.get_encoding, tokens.encoding_for_model(model).name)
            turn = await session.send(conversation, text, files=[Path(p) for p in args.attach])
        except asyncio.CancelledError:
            return _stopped_status(stopped)
        except AttachmentError as error:
            say(f"not sent: {error}")
            return EXIT_FAILED
        except (OSError, StoreError) as error:
            say(f"could not save the conversation: {clean_line(str(error))}")
            return EXIT_FAILED
        generation = turn.generation
        if generation.dropped:
            limit = session.context_limit(conversation) or 0
            say(
                f"the {generation.dropped} oldest message(s) were left out to fit the "
                f"{limit:,}-token context of {clean_line(generation.model, 40)}"
            )
        writer = make_writer(sys.stdout, raw=args.raw)
        task = asyncio.create_task(generation.run())
        broken = await follow(generation, writer)
        if broken and generation.active:
            generation.cancel()
        await asyncio.wait({task})
        status = _status(generation, stopped, broken)
        if args.stats:
            say(stats_line(generation))
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        with contextlib.suppress(Exception):
            await session.close()
    for conversation_id, reason in session.unsaved.items():
        saved = session.conversations.get(conversation_id)
        title = saved.title if saved is not None else conversation_id
        say(f"“{clean_line(title, 60)}” could not be saved in {session.store.data_dir}: {reason}")
        status = status or EXIT_FAILED
    return status


def _stopped_status(stopped: list[int]) -> int:
    return EXIT_TERMINATED if stopped and stopped[0] == signal.SIGTERM else EXIT_INTERRUPTED


def _status(generation: Generation, stopped: list[int], broken: bool) -> int:
    from llmchat_tui.generation import State

    if generation.state is State.COMPLETE:
        return EXIT_OK
    if stopped:
        say("stopped; the partial reply is saved")
        return _stopped_status(stopped)
    if broken:
        return EXIT_OK  # e.g. `| head -3`: the reader had enough
    cause = generation.cause
    say(cause.text if cause is not None else "the request failed")
    return EXIT_FAILED


async def follow(generation: Generation, writer: Writer) -> bool:
    """Write the reply as it arrives, and retries to stderr, until it ends.

    Returns True when stdout went away (a closed pipe).
    """
    from llmchat_tui.generation import State

    cursor = 0
    told = 0  # the retry attempt already reported
    state = generation.state
    try:
        while True:
            await generation.wait_for_news(cursor, state=state)
            state = generation.state
            if state is State.RETRYING and generation.attempt != told:
                told = generation.attempt
                cause = generation.cause
                why = (cause.label or cause.message) if cause is not None else "failed"
                wait = generation.retry_in() or 0.0
                say(
                    f"{why}; retrying in {wait:.1f} s "
                    f"(attempt {told} of {generation.retry.attempts})"
                )
            text, cursor = generation.text_since(cursor)
            writer.write(text, thinking=bool(generation.reasoning_parts))
            if generation.done.is_set():
                text, cursor = generation.text_since(cursor)
                writer.write(text, thinking=False)
                writer.finish()
                return False
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return True


def stats_line(generation: Generation) -> str:
    """``--stats``: model, time to first token, speed and tokens, in one line."""
    parts = [clean_line(generation.model, 60)]
    ttft = generation.ttft
    parts.append(f"TTFT {ttft:.2f} s" if ttft is not None else "TTFT –")
    speed = generation.tokens_per_second()
    parts.append(f"{speed:.1f} tok/s" if speed is not None else "– tok/s")
    completion = generation.completion_tokens()
    usage = generation.usage
    prompt = usage.prompt_tokens if usage is not None else None
    if prompt is None:
        prompt = generation.prompt_estimate
    approx = "" if completion.exact else "≈"
    prompt_text = f"{approx}{prompt:,}" if prompt is not None else "?"
    parts.append(f"{prompt_text} prompt + {approx}{completion.value:,} completion tokens")
    return " · ".join(parts)


# -- writers -----------------------------------------------------------------


class Writer:
    """Plain text: each piece written and flushed as it arrives."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last = ""

    def write(self, text: str, *, thinking: bool = False) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self.last = text

    def finish(self) -> None:
        if self.last and not self.last.endswith("\n"):
            self.out.write("\n")
        self.out.flush()


_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def block_end(text: str) -> int:
    """Where the finished Markdown blocks of ``text`` end: after its last blank line
    outside a code fence (0: none is finished)."""
    end = 0
    inside = False
    at = 0
    fences = [m.start() for m in _FENCE.finditer(text)]
    for fence in [*fences, len(text)]:
        if not inside:
            gap = text.rfind("\n\n", at, fence)
            if gap >= 0:
                end = gap + 2
        inside = not inside
        at = fence
    return end


class MarkdownWriter(Writer):
    """A terminal: finished blocks printed as rendered Markdown, the block being
    written shown live below them (re-rendered a few times a second, not per token)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        self.console: Console = Console(file=out, highlight=False, soft_wrap=False)
        self.pending = ""
        self.started = False
        self.printed = False  # a block is on the screen already
        self.live: Live = Live(
            Text("waiting…", style="dim"),
            console=self.console,
            refresh_per_second=8,
            transient=True,
            vertical_overflow="visible",
        )
        self.live.start()

    def _markdown(self, text: str) -> Markdown:
        from rich.markdown import Markdown

        return Markdown(text, code_theme="monokai")

    def write(self, text: str, *, thinking: bool = False) -> None:
        from rich.constrain import Constrain
        from rich.text import Text

        if not text:
            if thinking and not self.started:
                self.live.update(Text("thinking…", style="dim"))
            return
        self.started = True
        self.pending += text
        end = block_end(self.pending)
        if end:
            done, self.pending = self.pending[:end], self.pending[end:]
            self._print_blocks(done)
        if self.pending.strip():
            # Narrower than the terminal: its last row never fills the width, so the
            # "^C" a terminal echoes on Ctrl+C cannot wrap and leave a stale row behind.
            width = max(self.console.width - 3, 20)
            self.live.update(Constrain(self._markdown(self.pending), width=width))
        else:
            self.live.update(Text(""))

    def finish(self) -> None:
        from rich.text import Text

        self.live.update(Text(""))
        self.live.stop()
        if self.pending.strip():
            self._print_blocks(self.pending)
        self.pending = ""

    def _print_blocks(self, text: str) -> None:
        """Print finished blocks, one blank line between them whatever rich pads them with."""
        from rich.segment import Segment, Segments

        lines = self.console.render_lines(self._markdown(text), pad=False, new_lines=False)
        visible = [i for i, line in enumerate(lines) if "".join(s.text for s in line).strip()]
        if not visible:
            return
        segments: list[Segment] = []
        for line in lines[visible[0] : visible[-1] + 1]:
            segments.extend(line)
            segments.append(Segment.line())
        if self.printed:
            self.console.print()
        self.console.print(Segments(segments), end="")
        self.printed = True


def make_writer(out: TextIO, *, raw: bool) -> Writer:
    """Rendered Markdown on a terminal unless ``raw``; plain text otherwise."""
    try:
        terminal = out.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if terminal and not raw and os.environ.get("TERM") != "dumb":
        return MarkdownWriter(out)
    return Writer(out)
