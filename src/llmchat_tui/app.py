"""The Textual app: app-wide keys, theme and keymap, the palette, and the crash hook.

The chat itself is :class:`~llmchat_tui.screens.chat.ChatScreen`, the default
screen; this module only holds what is the same on every screen.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.message import Message
from textual.screen import Screen

from llmchat_tui import paths, terminal_keys, tokens
from llmchat_tui.config import Settings, starting_theme
from llmchat_tui.keymap import Keymap
from llmchat_tui.keytable import APP_BINDINGS, key_table, make_keymap
from llmchat_tui.screens.chat import ChatScreen
from llmchat_tui.screens.help import HelpScreen
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Skipped, Summary
from llmchat_tui.widgets.ordered_keys import KeysInOrder
from llmchat_tui.widgets.reply_markdown import use_dark_code
from llmchat_tui.widgets.sidebar import Row, row_of

log = logging.getLogger(__name__)

#: What the sidebar says while conversation files are read after the first frame.
READING = "Reading conversations…"
#: Seconds between two batches of late-read conversations added to the sidebar.
READ_BATCH_S = 0.5

#: Signals that stop the app like the quit key does (exit status 128 + signal).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class AppCrashed(Exception):
    """A bug stopped the app; shown as one line (the traceback is in the log file)."""

    def __rich__(self) -> Text:
        cause = self.__cause__
        name = type(cause).__name__ if cause is not None else "unknown"
        return Text(
            f"llmchat-tui stopped after an unexpected error ({name}). "
            f"Your conversations are saved. Details: {paths.log_file()}"
        )


class ChatApp(KeysInOrder, App[int]):
    """llmchat-tui: conversations on the left, the chat on the right."""

    CSS_PATH = "app.tcss"
    TITLE = "llmchat-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = APP_BINDINGS

    def __init__(
        self,
        session: ChatSession,
        *,
        skipped: list[Skipped] | None = None,
        warnings: list[str] | None = None,
        first_run: bool = False,
        probe_servers: list[tuple[str, int]] | None = None,
    ) -> None:
        terminal_keys.install()
        super().__init__()
        self.session = session
        self.settings: Settings = session.settings
        self.keymap: Keymap = make_keymap(self.settings.keymap)
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.skipped = skipped or []
        self.warnings = warnings or []
        self.first_run = first_run
        self.probe_servers = probe_servers
        self._stopping_for: int | None = None
        self._chat = ChatScreen(
            session, self.keymap, first_run=first_run, probe_servers=probe_servers
        )

    @property
    def chat(self) -> ChatScreen:
        """The chat screen (always open, under any dialog)."""
        return self._chat

    async def on_mount(self) -> None:
        state = self.session.ui_state
        theme = starting_theme(self.settings, state.get("theme"), state.get("theme_at"))
        if theme in self.available_themes:
            self.theme = theme
        use_dark_code(self.current_theme.dark)  # before the first reply is drawn
        await self.push_screen(self._chat)
        if not self.is_headless:
            self._handle_signals()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        for unknown in self.keymap.unknown_ids():
            self.warnings.append(f"[keymap] names no binding “{unknown}” (see the key table, F1).")
        # Everything built so far lives as long as the app: keep the cyclic
        # garbage collector from rescanning it during fast streams (profiled:
        # gc pauses were a quarter of the time at 3,000 tokens/s). Then, with
        # the first frame on screen, load what it did not need in threads.
        self.call_after_refresh(gc.freeze)
        self.call_after_refresh(self._load_encodings)
        self.call_after_refresh(self._warm_client)
        if self.session.store.pending:
            self.chat.sidebar.set_busy(READING)
            self.call_after_refresh(self._read_pending)
        self._report_skipped(self.skipped)
        for warning in self.warnings:
            self.notify(warning, severity="warning", timeout=12, markup=False)

    def _report_skipped(self, skipped: list[Skipped]) -> None:
        if skipped:
            names = ", ".join(s.path.name for s in skipped[:3])
            more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
            self.notify(
                f"Skipped {len(skipped)} unreadable conversation file(s): {names}{more}. "
                "They were left untouched; details are in the log file.",
                title="Some conversations could not be read",
                severity="warning",
                timeout=12,
                markup=False,
            )

    @dataclass
    class ConversationsRead(Message):
        """A batch of conversations read after the first frame (see _read_pending)."""

        rows: list[Row]
        order: list[str]  # every id the store knows, newest first
        left: int  # files still to read
        total: int

    @work(thread=True, group="store", exit_on_error=False)
    def _read_pending(self) -> None:
        """Read the conversation files index.json did not vouch for (all of them when
        it was missing) after the first frame, adding them to the sidebar about twice
        a second, then report the unreadable ones (benchmark B11).

        Batches are posted, not waited for, and sorted here: a busy UI thread
        made this thread wait for the GIL after every file it read."""
        store = self.session.store
        total = store.pending
        found: list[Summary] = []
        shown = time.monotonic()
        try:
            while store.pending:
                found += store.read_pending(200)
                if time.monotonic() - shown >= READ_BATCH_S or not store.pending:
                    rows = [row_of(summary) for summary in found]
                    order = [summary.id for summary in store.summaries()]
                    self.post_message(self.ConversationsRead(rows, order, store.pending, total))
                    found = []
                    shown = time.monotonic()
        except Exception:
            log.exception("reading the conversations failed")
            self.post_message(self.ConversationsRead([], [], 0, total))
            return
        before = {item.path for item in self.skipped}
        late = [item for item in store.skipped if item.path not in before]
        for item in late:
            log.warning("skipped %s: %s", item.path, item.reason)
        self.skipped = store.skipped
        self.call_from_thread(self._report_skipped, late)

    def on_chat_app_conversations_read(self, event: ConversationsRead) -> None:
        sidebar = self.chat.sidebar
        if event.order:
            sidebar.add_rows(event.rows, event.order)
        done = event.total - event.left
        sidebar.set_busy(f"{READING}\n{done:,} of {event.total:,}" if event.left else None)
        if not event.left:
            # A filter typed while the files were read searched only those read by then.
            self.chat.search_again()

    @work(thread=True, group="warm", exit_on_error=False)
    def _warm_client(self) -> None:
        """Import the openai SDK and build the client off the UI thread, so the first
        request does not wait for them (the first frame does not: benchmark B11)."""
        warm = getattr(self.session.client, "warm", None)
        if warm is None:
            return
        try:
            warm()
        except Exception:
            log.exception("preparing the API client failed")
            return
        # What the import built lives as long as the app, like the rest.
        self.call_from_thread(gc.freeze)

    @work(thread=True, group="tokens", exit_on_error=False)
    def _load_encodings(self) -> None:
        """Load tiktoken encodings off the UI thread, then show the estimate."""
        try:
            tokens.get_encoding(tokens.encoding_for_model(self.settings.model).name)
            tokens.get_encoding("o200k_base")
        except Exception:
            log.exception("loading token encodings failed")
            return
        self.call_from_thread(self.chat.update_estimate)

    def _handle_exception(self, error: Exception) -> None:
        """A bug: log the traceback, save what we can, and leave with one line.

        No traceback ever reaches the screen; it is in the log file.
        """
        log.error("unexpected error", exc_info=error)
        for conversation in list(self.session.conversations.values()):
            try:
                self.session.save_now(conversation)
            except Exception:
                log.exception("saving after an unexpected error failed")
        if isinstance(error, AppCrashed):
            super()._handle_exception(error)
            return
        crashed = AppCrashed(str(error))
        crashed.__cause__ = error
        super()._handle_exception(crashed)

    # -- app-wide actions ------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, ChatScreen):
            return
        for title, help_text, action, binding_id in screen.PALETTE:
            key = f" ({self.keymap.label(binding_id)})" if binding_id else ""
            yield SystemCommand(title, help_text + key, partial(screen.run_action, action))

    def _theme_changed(self, theme: object) -> None:
        """Remember a theme picked in the app (and when), and give code blocks the
        light or dark colours that go with it."""
        name = getattr(theme, "name", None)
        if isinstance(name, str) and self.session.ui_state.get("theme") != name:
            self.session.remember("theme", name)
            self.session.remember("theme_at", time.time())
        if use_dark_code(bool(getattr(theme, "dark", True))):
            self.call_later(self._chat.redraw)

    def action_help(self) -> None:
        """Every key and what it does."""
        if not isinstance(self.screen, HelpScreen):
            palette = self.keymap.label("command_palette")
            close = self.keymap.label("help_close", every=True)
            footnote = (
                f"{palette} opens the command palette, where every action is listed too. "
                f"{close} closes this screen."
            )
            self.push_screen(HelpScreen(key_table(self.keymap), footnote))

    async def action_quit(self) -> None:
        """Save every draft, stop and save every reply, then leave."""
        await self.shutdown()
        self.exit(0)

    async def shutdown(self, *, interrupted: bool = False) -> None:
        """Stop replies and save everything (drafts and queued messages included)."""
        await self.chat.shutdown(interrupted=interrupted)

    # -- signals -----------------------------------------------------------------

    def _handle_signals(self) -> None:
        """SIGTERM, SIGHUP (the terminal closed) and SIGINT from outside end the
        app as cleanly as the quit key: the reply streaming is saved as
        interrupted, drafts are kept, and the terminal is restored."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        if signum == signal.SIGHUP and _terminal_gone():
            # The terminal closed: nothing can be drawn or restored, and Textual's
            # output thread dies on the first failed write (its exit would then wait
            # forever). Save everything now, synchronously, and end the process.
            log.warning("the terminal hung up: saving and leaving")
            try:
                self.chat.shutdown_now()
            finally:
                logging.shutdown()
                os._exit(128 + signum)
        if self._stopping_for is not None:
            # A second signal while saving: stop waiting, leave now.
            self.exit(return_code=128 + signum)
            return
        self._stopping_for = signum
        log.warning("stopping on signal %s", signal.Signals(signum).name)
        self.call_later(self._stop_for_signal, signum)

    async def _stop_for_signal(self, signum: int) -> None:
        try:
            await self.shutdown(interrupted=True)
        finally:
            self.exit(return_code=128 + signum)


def _terminal_gone() -> bool:
    """Whether the terminal hung up: a write of nothing to it fails with EIO once it
    has (standard output and error are checked: Textual draws on one of them)."""
    for fd in (1, 2):
        try:
            os.write(fd, b"")
        except OSError as error:
            if error.errno == errno.EIO:
                return True
    return False
