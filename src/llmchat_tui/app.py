"""The Textual app: wiring between the session (core) and the widgets."""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from llmchat_tui import budget, paths, tokens
from llmchat_tui.config import Settings
from llmchat_tui.generation import Generation, State
from llmchat_tui.models import Conversation, Message
from llmchat_tui.sanitize import clean_line
from llmchat_tui.screens.dialogs import ConfirmDialog, RenameDialog
from llmchat_tui.screens.pickers import HelpScreen, PickerDialog, SystemPromptDialog
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Skipped, StoreError, Summary
from llmchat_tui.widgets.messages import MessagePane
from llmchat_tui.widgets.prompt import PromptInput
from llmchat_tui.widgets.sidebar import Row, Sidebar
from llmchat_tui.widgets.status_bar import StatusBar
from llmchat_tui.widgets.welcome import Welcome

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

    #: Where first run looks for local servers (tests point it at their own).
    probe_servers: list[tuple[str, int]] | None = None
    TITLE = "llmchat-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("ctrl+n", "new_conversation", "New chat", id="new_conversation"),
        Binding("escape", "stop", "Stop reply", id="stop"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate"),
        Binding("ctrl+g", "continue_reply", "Continue", id="continue_reply"),
        Binding("ctrl+f", "filter", "Filter", id="filter"),
        Binding("ctrl+b", "toggle_focus", "Sidebar ⇄ prompt", id="toggle_focus"),
        Binding("ctrl+up", "select_messages", "Select messages", id="select_messages", show=False),
        Binding("f1", "help", "Help", id="help"),
        Binding("f3", "pick_model", "Model", id="pick_model", show=False),
        Binding("f4", "pick_profile", "Provider", id="pick_profile", show=False),
        Binding("f5", "edit_system_prompt", "System prompt", id="edit_system_prompt", show=False),
        Binding("f8", "export('md')", "Export Markdown", id="export_markdown", show=False),
        Binding("shift+f8", "export('json')", "Export JSON", id="export_json", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    # Palette entries: (title, help, action) for every action of the app.
    PALETTE = [
        ("New chat", "Start a new conversation (Ctrl+N)", "new_conversation"),
        ("Stop reply", "Stop the reply that is streaming (Esc)", "stop"),
        (
            "Regenerate reply",
            "Replace the last reply, or resend a failed message (Ctrl+R)",
            "regenerate",
        ),
        (
            "Continue reply",
            "Ask the model to go on from a cut or stopped reply (Ctrl+G)",
            "continue_reply",
        ),
        (
            "Pick model",
            "Choose the model of this conversation from the server's list (F3)",
            "pick_model",
        ),
        (
            "Switch provider",
            "Move this conversation to another provider profile (F4)",
            "pick_profile",
        ),
        ("Edit system prompt", "This conversation's system prompt (F5)", "edit_system_prompt"),
        ("Select messages", "Copy, edit or delete messages (Ctrl+Up)", "select_messages"),
        ("Export as Markdown", "Write this conversation to a .md file (F8)", "export('md')"),
        ("Export as JSON", "Write this conversation to a .json file (Shift+F8)", "export('json')"),
        ("Filter conversations", "Search titles and messages (Ctrl+F)", "filter"),
        ("Rename conversation", "Give the open conversation a title", "rename_current"),
        ("Delete conversation", "Delete the open conversation", "delete_current"),
        ("Keys", "Every key and action (F1)", "help"),
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
        first_run: bool = False,
    ) -> None:
        super().__init__()
        self.first_run = first_run
        self.session = session
        self.settings: Settings = session.settings
        self.skipped = skipped or []
        self.warnings = warnings or []
        self.conversation: Conversation = session.new_conversation()
        self._draft_timer: Timer | None = None
        self._editing: Message | None = None
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
        self.pane.price_lookup = self.session.price
        remembered = self.session.ui_state.get("theme")
        theme = remembered if isinstance(remembered, str) else self.settings.theme
        if theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.sidebar.set_rows([row_of(s) for s in self.session.summaries()])
        await self._show(self.conversation)
        self.prompt.focus()
        self._load_encodings()
        # Everything built so far lives as long as the app: keep the cyclic
        # garbage collector from rescanning it during fast streams (profiled:
        # gc pauses were a quarter of the time at 3,000 tokens/s).
        self.call_after_refresh(gc.freeze)
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
            if self.first_run:
                welcome = Welcome(str(self.settings.config_file or paths.default_config_file()))
                await self.pane.mount(welcome)
                self._probe_local_servers()
            else:
                await self.pane.mount(Static(self._empty_hint(), classes="empty-hint"))
        self.prompt.load(conversation.draft)
        model = conversation.model or self.settings.model
        self.status.show(model=model, generation=generation, price=self.session.price(model))
        self.sidebar.select(conversation.id)
        self._update_estimate()
        self.refresh_bindings()

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def _probe_local_servers(self) -> None:
        from llmchat_tui.discovery import probe

        found = await probe(self.probe_servers)
        for welcome in self.query(Welcome):
            welcome.show_found(found)

    @on(Welcome.ServerChosen)
    async def _server_chosen(self, event: Welcome.ServerChosen) -> None:
        from llmchat_tui.config import ConfigError, remember_server

        server = event.server
        model = server.models[0] if server.models else self.settings.model
        path = self.settings.config_file or paths.default_config_file()
        try:
            remember_server(path, server.base_url, model)
        except (ConfigError, OSError) as error:
            self.notify(f"Not saved: {error}", severity="warning", timeout=8)
        else:
            self.notify(f"Saved {server.base_url} and model {model} to {path}", timeout=8)
        self.session.use_server(server.base_url, model)
        self.first_run = False
        conversation = self.conversation
        if not conversation.messages:
            conversation.base_url, conversation.model = server.base_url, model
        await self._show(conversation)
        self.prompt.focus()

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
        self._show_plan(self.conversation, self.session.plan(self.conversation, draft))

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False)
    def _estimate_in_thread(self, conversation: Conversation, draft: str) -> None:
        worker = get_current_worker()
        plan = self.session.plan(conversation, draft)
        if not worker.is_cancelled:
            self.call_from_thread(self._show_plan, conversation, plan)

    def _show_plan(self, conversation: Conversation, plan: budget.Plan) -> None:
        """Show the next request's size against the context, and what it leaves out."""
        if conversation is not self.conversation:
            return
        exact = tokens.encoding_for_model(conversation.model or self.settings.model).exact
        self.status.set_prompt_estimate(plan.prompt_tokens, exact, plan.limit, plan.dropped)
        self.pane.mark_left_out(self.session.left_out(conversation, plan.dropped))

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
        if self._editing is not None:
            await self._resend_edited(conversation, self._editing, text)
            return
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
        self.status.show(
            model=generation.model,
            generation=generation,
            price=self.session.price(generation.model),
        )
        if generation.dropped:
            limit = self.session.context_limit(conversation)
            self.notify(
                f"The {generation.dropped} oldest message(s) were left out to fit the "
                f"{limit:,}-token context of {clean_line(generation.model, 40)}.",
                severity="warning",
                timeout=8,
            )
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
        elif self._editing is not None and self.prompt.has_focus:
            self._editing = None
            self.prompt.load(self.conversation.draft)
            self.status.set_note("")
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

    def _take_draft(self) -> Conversation | None:
        """Copy the prompt into the open conversation's draft; the conversation
        when that changed something worth saving, else None."""
        if not self.query(PromptInput):
            return None
        conversation = self.conversation
        text = self.prompt.full_text
        if conversation.draft == text:
            return None
        conversation.draft = text
        return conversation if conversation.messages else None

    def _stash_draft(self) -> None:
        """Keep the unsent text now (switching conversation, quitting)."""
        conversation = self._take_draft()
        if conversation is not None:
            try:
                self.session.save_now(conversation)
            except (OSError, StoreError):
                log.exception("saving the draft failed")

    def _autosave_draft(self) -> None:
        """Keep the unsent text a second after typing stops, saved off the UI thread."""
        if self._shutting_down or self._editing is not None:
            return
        conversation = self._take_draft()
        if conversation is not None:
            self.run_worker(self._save_quietly(conversation), group="draft", exit_on_error=False)

    async def _save_quietly(self, conversation: Conversation) -> None:
        try:
            await self.session.save(conversation)
        except (OSError, StoreError):
            log.exception("saving the draft failed")

    @on(PromptInput.Changed)
    def prompt_changed(self) -> None:
        if self._estimate_timer is not None:
            self._estimate_timer.stop()
        self._estimate_timer = self.set_timer(0.15, self._update_estimate)
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(1.0, self._autosave_draft)

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

    # -- power features ------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is not self.screen_stack[0]:
            return
        for title, help_text, action in self.PALETTE:
            yield SystemCommand(title, help_text, partial(self.run_action, action))

    def _remember_theme(self, theme: object) -> None:
        name = getattr(theme, "name", None)
        if isinstance(name, str) and self.session.ui_state.get("theme") != name:
            self.session.remember("theme", name)

    def action_help(self) -> None:
        """Every key and what it does (F1)."""
        from llmchat_tui.docs import key_table

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_table()))

    def action_select_messages(self) -> None:
        """Move the focus to the messages to copy, edit or delete them (Ctrl+Up)."""
        if self.pane.views():
            self.pane.focus()
        else:
            self.notify("No messages yet.", timeout=3)

    @on(MessagePane.Left)
    def _left_messages(self) -> None:
        self.prompt.focus()

    @on(MessagePane.EditRequested)
    def _edit_message(self, event: MessagePane.EditRequested) -> None:
        conversation = self.conversation
        if self.session.is_generating(conversation.id):
            self.notify("Stop the reply first (Esc).", severity="warning")
            return
        later = len(conversation.messages) - conversation.messages.index(event.message) - 1
        self._stash_draft()
        self._editing = event.message
        self.prompt.load(event.message.content)
        self.prompt.focus()
        self.status.set_note(
            f"editing: Enter resends and drops the {later} later message(s) · Esc cancels"
        )

    async def _resend_edited(self, conversation: Conversation, message: Message, text: str) -> None:
        self._editing = None
        self.status.set_note("")
        try:
            generation = await self.session.edit_and_resend(conversation, message, text)
        except (ValueError, RuntimeError, OSError, StoreError) as error:
            self.notify(f"Could not resend: {error}", severity="error")
            return
        self.prompt.load(conversation.draft)
        await self.pane.show(conversation, None)
        await self._start(conversation, generation)

    @on(MessagePane.DeleteRequested)
    def _delete_message(self, event: MessagePane.DeleteRequested) -> None:
        conversation = self.conversation
        message = event.message
        if self.session.is_generating(conversation.id):
            self.notify("Stop the reply first (Esc).", severity="warning")
            return
        who = "your message" if message.role == "user" else "this reply"

        async def done(confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                await self.session.delete_message(conversation, message)
            except (ValueError, OSError, StoreError) as error:
                self.notify(f"Could not delete: {error}", severity="error")
                return
            await self.pane.show(conversation, None)
            self._update_estimate()
            self.notify(f"Deleted {who}.", timeout=3)

        self.push_screen(ConfirmDialog(f"Delete {who}? This cannot be undone."), done)

    def action_pick_model(self) -> None:
        """Choose this conversation's model from the server's list (F3)."""
        conversation = self.conversation
        client = self.session.client_for(conversation)

        async def done(model: str | None) -> None:
            if not model or model == conversation.model:
                return
            self.session.set_model(conversation, model)
            await self._after_settings_change(conversation, f"Model: {model}")

        self.push_screen(
            PickerDialog(
                "Model for this conversation",
                current=conversation.model or self.settings.model,
                load=client.list_models,
                placeholder="Type to filter, or any model name",
            ),
            done,
        )

    def action_pick_profile(self) -> None:
        """Move this conversation to another provider profile (F4)."""
        profiles = sorted(self.settings.profiles)
        if not profiles:
            self.notify(
                "No provider profiles yet: add [profiles.NAME] tables to the config file "
                "(see the README).",
                timeout=6,
            )
            return
        conversation = self.conversation

        async def done(profile: str | None) -> None:
            if profile is None or profile == conversation.profile:
                return
            self.session.set_profile(conversation, profile)
            await self._after_settings_change(
                conversation, f"Provider: {profile} ({conversation.model})"
            )

        self.push_screen(
            PickerDialog(
                "Provider profile",
                current=conversation.profile,
                choices=profiles,
                allow_free_text=False,
            ),
            done,
        )

    def action_edit_system_prompt(self) -> None:
        """Edit this conversation's system prompt (F5)."""
        conversation = self.conversation

        async def done(text: str | None) -> None:
            if text is None or text == conversation.system_prompt:
                return
            conversation.system_prompt = text
            await self._after_settings_change(
                conversation, "System prompt saved" if text else "System prompt cleared"
            )

        self.push_screen(
            SystemPromptDialog(conversation.system_prompt, self.settings.prompts), done
        )

    async def _after_settings_change(self, conversation: Conversation, note: str) -> None:
        try:
            await self.session.save(conversation)
        except (OSError, StoreError) as error:
            self.notify(f"Could not save: {error}", severity="error")
        if conversation.messages:
            self.sidebar.upsert(
                row_of(conversation, self.session.is_generating(conversation.id)), to_top=False
            )
        generation = self.session.generation(conversation.id)
        self.status.show(
            model=conversation.model,
            generation=generation,
            price=self.session.price(conversation.model),
        )
        self._update_estimate()
        self.notify(note, timeout=3)

    def action_export(self, kind: str) -> None:
        """Write the open conversation to a Markdown or JSON file (F8, Shift+F8)."""
        from llmchat_tui import exporting
        from llmchat_tui.store import atomic_write_bytes

        conversation = self.conversation
        if not conversation.messages:
            self.notify("Nothing to export yet.", timeout=3)
            return
        text = (
            exporting.to_json(conversation)
            if kind == "json"
            else exporting.to_markdown(conversation)
        )
        name = f"{_slug(conversation.title)}-{conversation.id[-6:].lower()}.{kind}"
        for folder in (Path.cwd(), data_dir_of(self.settings) / "exports"):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / name
                atomic_write_bytes(path, text.encode("utf-8"))
            except OSError:
                continue
            self.notify(f"Exported to {path}", title="Export", timeout=8)
            return
        self.notify("Could not write the export anywhere.", severity="error")

    def action_rename_current(self) -> None:
        if self.conversation.messages:
            self.post_message(Sidebar.RenameRequested(self.conversation.id))

    def action_delete_current(self) -> None:
        if self.conversation.messages:
            self.post_message(Sidebar.DeleteRequested(self.conversation.id))


def _slug(title: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:40] or "conversation"


def data_dir_of(settings: Settings) -> Path:
    return Path(settings.data_dir).expanduser() if settings.data_dir else paths.data_dir()
