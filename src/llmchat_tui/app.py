"""The Textual app: wiring between the session (core) and the widgets."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from llmchat_tui import tokens
from llmchat_tui.config import Settings
from llmchat_tui.generation import Generation, State
from llmchat_tui.models import Conversation
from llmchat_tui.sanitize import clean_line
from llmchat_tui.screens.dialogs import ConfirmDialog, RenameDialog
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Skipped, StoreError, Summary
from llmchat_tui.widgets.messages import MessagePane
from llmchat_tui.widgets.prompt import PromptInput
from llmchat_tui.widgets.sidebar import Row, Sidebar
from llmchat_tui.widgets.status_bar import StatusBar

log = logging.getLogger(__name__)

LARGE_DRAFT = 20_000  # characters; longer drafts are counted in a thread


def row_of(conversation: Conversation | Summary, generating: bool = False) -> Row:
    return Row(
        id=conversation.id,
        title=conversation.title,
        updated_at=conversation.updated_at,
        model=conversation.model,
        generating=generating,
    )


class ChatApp(App[int]):
    """llmchat-tui: conversations on the left, the chat on the right."""

    CSS_PATH = "app.tcss"
    TITLE = "llmchat-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("ctrl+n", "new_conversation", "New chat", id="new_conversation"),
        Binding("escape", "stop", "Stop reply", id="stop"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate"),
        Binding("ctrl+g", "continue_reply", "Continue", id="continue_reply"),
        Binding("ctrl+f", "filter", "Filter", id="filter"),
        Binding("ctrl+b", "toggle_focus", "Sidebar ⇄ prompt", id="toggle_focus"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    @dataclass
    class GenerationChanged(TextualMessage):
        """A reply changed state (waiting, streaming, finished, ...)."""

        conversation_id: str
        generation: Generation

    @dataclass
    class SearchResults(TextualMessage):
        query: str
        ids: list[str]

    def __init__(
        self,
        session: ChatSession,
        *,
        skipped: list[Skipped] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.settings: Settings = session.settings
        self.skipped = skipped or []
        self.warnings = warnings or []
        self.conversation: Conversation = session.new_conversation()
        self._draft_timer: Timer | None = None
        self._estimate_timer: Timer | None = None
        self._shutting_down = False
        session.on_generation_state.append(
            lambda cid, gen: self.post_message(self.GenerationChanged(cid, gen))
        )

    # -- layout ------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(id="sidebar")
            with Vertical(id="chat"):
                yield MessagePane(id="messages")
                yield PromptInput(id="prompt")
                yield StatusBar(id="status")
        yield Footer()

    @property
    def pane(self) -> MessagePane:
        return self.query_one(MessagePane)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one(Sidebar)

    async def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.sidebar.set_rows([row_of(s) for s in self.session.summaries()])
        await self._show(self.conversation)
        self.prompt.focus()
        self._load_encodings()
        if self.skipped:
            names = ", ".join(s.path.name for s in self.skipped[:3])
            more = f" and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
            self.notify(
                f"Skipped {len(self.skipped)} unreadable conversation file(s): {names}{more}. "
                "They were left untouched; details are in the log file.",
                title="Some conversations could not be read",
                severity="warning",
                timeout=12,
            )
        for warning in self.warnings:
            self.notify(warning, severity="warning", timeout=12)

    @work(thread=True, group="tokens", exit_on_error=False)
    def _load_encodings(self) -> None:
        """Load tiktoken encodings off the UI thread, then show the estimate."""
        try:
            tokens.get_encoding(tokens.encoding_for_model(self.settings.model).name)
            tokens.get_encoding("o200k_base")
        except Exception:
            log.exception("loading token encodings failed")
            return
        self.call_from_thread(self._update_estimate)

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
        self._return_code = 1
        if self._exception is None:
            self._exception = error
            self._exception_event.set()
        from rich.text import Text

        from llmchat_tui import paths

        self._exit_renderables.append(
            Text(
                f"llmchat-tui stopped after an unexpected error ({type(error).__name__}). "
                f"Your conversations are saved. Details: {paths.log_file()}"
            )
        )
        self._close_messages_no_wait()

    # -- showing a conversation ---------------------------------------------

    async def _show(self, conversation: Conversation) -> None:
        self.conversation = conversation
        generation = self.session.generation(conversation.id)
        await self.pane.show(conversation, generation)
        if not conversation.messages:
            await self.pane.mount(Static(self._empty_hint(), classes="empty-hint"))
        self.prompt.load(conversation.draft)
        self.status.show(model=conversation.model or self.settings.model, generation=generation)
        self.sidebar.select(conversation.id)
        self._update_estimate()
        self.refresh_bindings()

    def _empty_hint(self) -> Content:
        model = clean_line(self.conversation.model or self.settings.model, 60)
        url = clean_line(self.settings.base_url, 80)
        return Content.assemble(
            ("New conversation", "bold"),
            f"\nModel {model} at {url}.\n",
            (
                "Enter sends · Ctrl+J adds a line · Esc stops a reply · Ctrl+N starts another",
                "$text-muted",
            ),
        )

    def _update_estimate(self) -> None:
        if self._shutting_down or not self.query(PromptInput):
            return  # a late timer or thread callback while the app closes
        model = self.conversation.model or self.settings.model
        if not tokens.is_loaded(tokens.encoding_for_model(model).name):
            self.status.set_prompt_estimate(None, True)
            return
        draft = self.prompt.full_text
        if len(draft) > LARGE_DRAFT:
            # A big paste: count it off the UI thread so typing stays instant.
            self._estimate_in_thread(self.conversation, draft)
            return
        count, exact = self.session.prompt_estimate(self.conversation, draft)
        self.status.set_prompt_estimate(count, exact)

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False)
    def _estimate_in_thread(self, conversation: Conversation, draft: str) -> None:
        worker = get_current_worker()
        count, exact = self.session.prompt_estimate(conversation, draft)
        if not worker.is_cancelled:
            self.call_from_thread(self.status.set_prompt_estimate, count, exact)

    # -- sending -------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def send(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if not text.strip():
            self.notify("Type a message first: empty messages are not sent.", timeout=3)
            return
        conversation = self.conversation
        if self.session.is_generating(conversation.id):
            self.notify("A reply is still streaming here: Esc stops it.", severity="warning")
            return
        for hint in self.pane.query(".empty-hint"):
            await hint.remove()
        try:
            generation = await self.session.send(conversation, text)
        except (OSError, StoreError) as error:
            log.exception("could not save the message")
            # Nothing was sent; the text stays in the prompt.
            del conversation.messages[-2:]
            self.notify(
                f"Could not save the message, so it was not sent: {error}",
                severity="error",
                timeout=10,
            )
            return
        self.prompt.load("")
        user_message = conversation.messages[-2]
        await self.pane.add_message(user_message)
        await self._start(conversation, generation)

    async def action_regenerate(self) -> None:
        """Replace the last reply with a new one, or resend a failed message (Ctrl+R)."""
        await self._again(self.session.regenerate, rerender=True)

    async def action_continue_reply(self) -> None:
        """Ask the model to go on from a cut, stopped or failed reply (Ctrl+G)."""
        await self._again(self.session.continue_reply, rerender=False)

    async def _again(
        self, make: Callable[[Conversation], Awaitable[Generation]], *, rerender: bool
    ) -> None:
        conversation = self.conversation
        try:
            generation = await make(conversation)
        except (ValueError, RuntimeError) as error:
            self.notify(str(error).capitalize(), timeout=4)
            return
        except (OSError, StoreError) as error:
            log.exception("could not save before resending")
            self.notify(f"Could not save the conversation: {error}", severity="error")
            return
        if rerender:
            await self.pane.show(conversation, None)
        await self._start(conversation, generation)

    async def _start(self, conversation: Conversation, generation: Generation) -> None:
        """Show a new reply and run it in its own worker."""
        await self.pane.add_message(generation.message, generation)
        self.sidebar.upsert(row_of(conversation, generating=True))
        self.sidebar.select(conversation.id)
        self.status.show(model=generation.model, generation=generation)
        self.run_worker(
            generation.run(),
            name=f"reply {conversation.id}",
            group=f"reply-{conversation.id}",
            exit_on_error=False,
        )
        self.refresh_bindings()

    @on(GenerationChanged)
    def generation_changed(self, event: GenerationChanged) -> None:
        generation = event.generation
        conversation_id = event.conversation_id
        self.sidebar.set_generating(conversation_id, generation.active)
        conversation = self.session.conversations.get(conversation_id)
        if not generation.active and conversation is not None:
            self.sidebar.upsert(row_of(conversation), to_top=False)
        if conversation_id == self.conversation.id:
            self.status.update_running()
            self.refresh_bindings()
            if not generation.active:
                self._update_estimate()
                if generation.state is State.ERROR and generation.cause is not None:
                    self.notify(
                        generation.cause.text, title="The reply failed", severity="error", timeout=8
                    )
        elif not generation.active and conversation is not None:
            title = clean_line(conversation.title, 40)
            self.notify(f"Reply {generation.state} in “{title}”", timeout=4)

    # -- actions ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        generating = self.session.is_generating(self.conversation.id)
        if action == "stop":
            return True if generating else None
        if action in ("regenerate", "continue_reply"):
            # Hidden from the footer where they do not apply.
            if generating or not self.conversation.messages:
                return False
            last = self.conversation.messages[-1]
            if action == "continue_reply":
                ended = last.status.value in ("cancelled", "error", "interrupted")
                return last.role == "assistant" and bool(last.content) and ended
            return True
        return True

    def action_stop(self) -> None:
        """Stop the open conversation's reply (Esc)."""
        if self.session.cancel(self.conversation.id):
            self.status.update_running()
        elif self.focused is self.sidebar.filter_input and self.sidebar.filter_input.value:
            self.sidebar.filter_input.value = ""

    async def action_new_conversation(self) -> None:
        """Start a new conversation (Ctrl+N)."""
        self._stash_draft()
        if not self.conversation.messages and not self.conversation.draft:
            self.prompt.focus()
            return
        await self._show(self.session.new_conversation())
        self.prompt.focus()

    def action_filter(self) -> None:
        self.sidebar.filter_input.focus()

    def action_toggle_focus(self) -> None:
        if self.prompt.has_focus:
            self.sidebar.option_list.focus()
        else:
            self.prompt.focus()

    async def action_quit(self) -> None:
        await self.shutdown()
        self.exit(0)

    async def shutdown(self) -> None:
        """Stop replies and save everything (drafts included)."""
        if self._shutting_down:
            return
        self._shutting_down = True
        self._stash_draft()
        await self.session.close()

    # -- drafts ----------------------------------------------------------------

    def _stash_draft(self) -> None:
        if not self.query(PromptInput):
            return
        conversation = self.conversation
        text = self.prompt.full_text
        if conversation.draft != text:
            conversation.draft = text
            if conversation.messages:
                try:
                    self.session.save_now(conversation)
                except (OSError, StoreError):
                    log.exception("saving the draft failed")

    @on(PromptInput.Changed)
    def prompt_changed(self) -> None:
        if self._estimate_timer is not None:
            self._estimate_timer.stop()
        self._estimate_timer = self.set_timer(0.15, self._update_estimate)
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(1.0, self._stash_draft)

    # -- sidebar ---------------------------------------------------------------

    @on(Sidebar.ConversationSelected)
    async def open_conversation(self, event: Sidebar.ConversationSelected) -> None:
        if event.conversation_id == self.conversation.id:
            self.prompt.focus()
            return
        self._stash_draft()
        try:
            conversation = self.session.open(event.conversation_id)
        except (OSError, StoreError) as error:
            self.notify(f"Cannot open this conversation: {error}", severity="error")
            return
        await self._show(conversation)
        self.prompt.focus()

    @on(Sidebar.RenameRequested)
    def rename(self, event: Sidebar.RenameRequested) -> None:
        conversation_id = event.conversation_id
        if conversation_id is None:
            return
        row = self.sidebar.rows.get(conversation_id)

        async def done(title: str | None) -> None:
            if not title:
                return
            try:
                conversation = self.session.open(conversation_id)
                conversation.rename(title)
                await self.session.save(conversation)
            except (OSError, StoreError) as error:
                self.notify(f"Could not rename: {error}", severity="error")
                return
            self.sidebar.upsert(
                row_of(conversation, self.session.is_generating(conversation_id)), to_top=False
            )

        self.push_screen(RenameDialog(row.title if row else ""), done)

    @on(Sidebar.DeleteRequested)
    def delete(self, event: Sidebar.DeleteRequested) -> None:
        conversation_id = event.conversation_id
        if conversation_id is None:
            return
        row = self.sidebar.rows.get(conversation_id)
        title = clean_line(row.title if row else "this conversation", 50)

        async def done(confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                self.session.delete(conversation_id)
            except (OSError, StoreError) as error:
                self.notify(f"Could not delete: {error}", severity="error")
                return
            self.sidebar.remove(conversation_id)
            if conversation_id == self.conversation.id:
                await self._show(self.session.new_conversation())
            self.notify(f"Deleted “{title}”", timeout=3)

        self.push_screen(ConfirmDialog(f"Delete “{title}”? This cannot be undone."), done)

    @on(Sidebar.FilterChanged)
    def filter_changed(self, event: Sidebar.FilterChanged) -> None:
        query = event.query.strip()
        if not query:
            self.workers.cancel_group(self, "search")
            self.sidebar.show_only(None)
            return
        self._search(query)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(self, query: str) -> None:
        worker = get_current_worker()
        ids: list[str] = []
        try:
            for found in self.session.store.search(query, cancelled=lambda: worker.is_cancelled):
                ids.append(found)
        except Exception:
            log.exception("search failed")
        if not worker.is_cancelled:
            self.post_message(self.SearchResults(query, ids))

    @on(SearchResults)
    def search_results(self, event: SearchResults) -> None:
        if event.query == self.sidebar.filter_input.value.strip():
            self.sidebar.show_only(event.ids)


def data_dir_of(settings: Settings) -> Path:
    from llmchat_tui import paths

    return Path(settings.data_dir).expanduser() if settings.data_dir else paths.data_dir()
