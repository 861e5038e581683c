"""The chat screen: conversations on the left, the open one on the right.

It owns the chat layout and turns what the user does into calls on the session
(the core), and what the session reports into updates of the widgets. Widgets post
messages up; this screen calls down. Drafts and edit mode are kept by a
:class:`~llmchat_tui.screens.composer.Composer`, messages written while a reply
streams by an :class:`~llmchat_tui.outbox.Outbox`; commands that open dialogs
(rename, delete, pickers, export) are in :mod:`llmchat_tui.screens.commands`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import Worker, get_current_worker

from llmchat_tui import attachments, budget, paths, tokens
from llmchat_tui.attachments import AttachmentError
from llmchat_tui.compare import CompareError
from llmchat_tui.find import Match, find, position
from llmchat_tui.generation import Generation, State
from llmchat_tui.keymap import Keymap
from llmchat_tui.models import Conversation
from llmchat_tui.outbox import Next, Outbox, Queued, joined
from llmchat_tui.sanitize import clean_line
from llmchat_tui.screens import commands, compare_commands
from llmchat_tui.screens.composer import Composer
from llmchat_tui.session import ChatSession, Turn
from llmchat_tui.store import StoreError
from llmchat_tui.widgets.find_bar import FindBar
from llmchat_tui.widgets.messages import MessagePane
from llmchat_tui.widgets.path_hints import PathHints
from llmchat_tui.widgets.prompt import PromptInput
from llmchat_tui.widgets.sidebar import Sidebar, row_of
from llmchat_tui.widgets.status_bar import StatusBar
from llmchat_tui.widgets.welcome import Welcome

log = logging.getLogger(__name__)

LARGE_DRAFT = 20_000  # characters; longer drafts are counted in a thread
NARROW = 100  # columns; below this the sidebar hides unless the user shows it
UNDO_SECONDS = 10.0  # how long a delete can be undone with the undo key
SAVE_RETRY_S = 5.0  # seconds between tries to save a chat whose save failed


class ChatScreen(Screen[None]):
    """The main screen: sidebar, messages, prompt and status bar."""

    AUTO_FOCUS = "#prompt"

    BINDINGS = [
        Binding("ctrl+n", "new_conversation", "New chat", id="new_conversation"),
        Binding("escape", "stop", "Stop", id="stop", tooltip="Stop reply"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate"),
        Binding("ctrl+g", "continue_reply", "Continue", id="continue_reply"),
        Binding("ctrl+f", "filter", "Filter", id="filter"),
        Binding("ctrl+b", "toggle_focus", "Sidebar ⇄ prompt", id="toggle_focus"),
        Binding(
            "f9", "toggle_sidebar", "Sidebar", id="toggle_sidebar", tooltip="Hide/show sidebar"
        ),
        Binding("ctrl+up", "select_messages", "Select messages", id="select_messages", show=False),
        Binding("f3", "pick_model", "Model", id="pick_model", show=False),
        Binding("f4", "pick_profile", "Provider", id="pick_profile", show=False),
        Binding("f5", "edit_system_prompt", "System prompt", id="edit_system_prompt", show=False),
        Binding(
            "ctrl+s",
            "find_in_conversation",
            "Find",
            id="find_in_conversation",
            show=False,
            tooltip="Find in this conversation",
        ),
        Binding(
            "ctrl+l",
            "attach_file",
            "Attach file",
            id="attach_file",
            show=False,
            tooltip="Pick a file to attach (adds @path to the message)",
        ),
        Binding(
            "ctrl+t",
            "edit_request_options",
            "Request options",
            id="edit_request_options",
            show=False,
            tooltip="Temperature, top_p, max_tokens, seed, reasoning effort",
        ),
        Binding(
            "f12",
            "compare_models",
            "Compare",
            id="compare_models",
            show=False,
            tooltip="Send each message to 2-4 models side by side",
        ),
        Binding("f8", "export('md')", "Export Markdown", id="export_markdown", show=False),
        Binding("shift+f8", "export('json')", "Export JSON", id="export_json", show=False),
        Binding("ctrl+z", "undo", "Undo", id="undo", priority=True, tooltip="Undo a delete"),
    ]

    #: Palette entries: (title, help, action, binding id of its key or "").
    PALETTE = [
        ("New chat", "Start a new conversation", "new_conversation", "new_conversation"),
        ("Stop reply", "Stop the reply that is streaming", "stop", "stop"),
        (
            "Compose in editor",
            "Write the message in $VISUAL or $EDITOR",
            "compose_in_editor",
            "compose_in_editor",
        ),
        (
            "Regenerate reply",
            "A new version of the last reply (the old one is kept), or resend a failed one",
            "regenerate",
            "regenerate",
        ),
        (
            "Continue reply",
            "Ask the model to go on from a cut or stopped reply",
            "continue_reply",
            "continue_reply",
        ),
        (
            "Pick model",
            "Choose the model of this conversation from the server's list",
            "pick_model",
            "pick_model",
        ),
        (
            "Switch provider",
            "Move this conversation to another provider profile",
            "pick_profile",
            "pick_profile",
        ),
        (
            "Edit system prompt",
            "This conversation's system prompt",
            "edit_system_prompt",
            "edit_system_prompt",
        ),
        (
            "Find in conversation",
            "Find text in the open conversation (Enter: next match)",
            "find_in_conversation",
            "find_in_conversation",
        ),
        (
            "Attach file",
            "Pick a file from the working folder to send with the message (@path)",
            "attach_file",
            "attach_file",
        ),
        (
            "Request options",
            "Temperature, top_p, max_tokens, seed and reasoning effort for this conversation",
            "edit_request_options",
            "edit_request_options",
        ),
        (
            "Compare models",
            "Send each message to 2-4 models at once and see the replies side by side",
            "compare_models",
            "compare_models",
        ),
        (
            "Keep a compared reply",
            "Go on with one model's reply; the others stay as versions",
            "pick_kept_reply",
            "",
        ),
        (
            "Stop comparing",
            "Send messages to the conversation's own model again",
            "stop_comparing",
            "",
        ),
        (
            "Select messages",
            "Copy, edit or delete messages (or queued ones)",
            "select_messages",
            "select_messages",
        ),
        (
            "Export as Markdown",
            "Write this conversation to a .md file",
            "export('md')",
            "export_markdown",
        ),
        (
            "Export as JSON",
            "Write this conversation to a .json file",
            "export('json')",
            "export_json",
        ),
        ("Filter conversations", "Search titles and messages", "filter", "filter"),
        (
            "Hide or show the sidebar",
            "Give the chat the whole width",
            "toggle_sidebar",
            "toggle_sidebar",
        ),
        ("Rename conversation", "Give the open conversation a title", "rename_current", ""),
        ("Delete conversation", "Delete the open conversation", "delete_current", ""),
    ]

    @dataclass
    class GenerationChanged(TextualMessage):
        """A reply changed state (waiting, streaming, finished, ...)."""

        conversation_id: str
        generation: Generation

    @dataclass
    class SaveStateChanged(TextualMessage):
        """A conversation could not be saved (``error``), or was saved again (None)."""

        conversation_id: str
        error: str | None

    @dataclass
    class SearchResults(TextualMessage):
        """The conversations that match a filter query (found in a thread)."""

        query: str
        ids: list[str]

    def __init__(
        self,
        session: ChatSession,
        keymap: Keymap,
        *,
        first_run: bool = False,
        probe_servers: list[tuple[str, int]] | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.settings = session.settings
        self.keymap = keymap
        self.first_run = first_run
        self.probe_servers = probe_servers
        self.composer = Composer(session.set_draft)
        self.outbox = Outbox()
        self.conversation: Conversation = session.new_conversation()
        self.sidebar_choice: bool | None = None  # None: by the terminal's width
        self._wide: bool | None = None
        self._peeking = False
        self._draft_timer: Timer | None = None
        self._estimate_timer: Timer | None = None
        self._shutting_down = False
        self._undo: tuple[str, Callable[[], Awaitable[None]]] | None = None
        self._undo_timer: Timer | None = None
        self._warned: set[str] = set(self.settings.warnings)  # shown at start by the app
        self._warned_profiles: set[str] = set()
        self._make_widgets()
        session.on_generation_state.append(self._relay_generation_state)
        session.on_save_state.append(self._relay_save_state)
        self._retry_timer: Timer | None = None

    def _relay_generation_state(self, conversation_id: str, generation: Generation) -> None:
        """The session's callback: one Textual message per state change of a reply."""
        self.post_message(self.GenerationChanged(conversation_id, generation))

    def _relay_save_state(self, conversation_id: str, error: str | None) -> None:
        """The session's callback: a save failed (``error``) or worked again (None)."""
        self.post_message(self.SaveStateChanged(conversation_id, error))

    # -- layout ------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield self.sidebar
            with Vertical(id="chat"):
                yield self.pane
                yield self.find_bar
                yield self.path_hints
                yield self.prompt
                yield self.status
        yield Footer()

    def _make_widgets(self) -> None:
        """The screen's parts, made once (so they can be asked before they are drawn)."""
        self.sidebar = Sidebar(self.keymap, id="sidebar")
        self.pane = MessagePane(self.keymap, price_lookup=self.session.price, id="messages")
        self.prompt = PromptInput(self.keymap, id="prompt")
        self.find_bar = FindBar(id="find")
        self.path_hints = PathHints(id="path-hints")
        self.status = StatusBar(id="status")
        #: The find bar's matches in the open conversation, and which one is shown.
        self.matches: list[Match] = []
        self.match_index: int | None = None

    async def on_mount(self) -> None:
        self.sidebar.set_rows([row_of(s) for s in self.session.summaries()])
        await self.show(self.conversation)
        self.prompt.focus()

    def tell(
        self,
        message: str,
        *,
        severity: SeverityLevel = "information",
        timeout: float = 4,
        title: str = "",
    ) -> None:
        """Notify the user (never as markup: texts may come from a server or a file)."""
        self.notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- the sidebar's place -------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= NARROW
        if wide != self._wide:
            # Crossing the threshold hands the choice back to the width.
            self._wide = wide
            self.sidebar_choice = None
        if self.sidebar.is_mounted:
            self._place_sidebar()

    def _sidebar_wanted(self) -> bool:
        if self.sidebar_choice is not None:
            return self.sidebar_choice
        return self.size.width >= NARROW

    def _place_sidebar(self) -> None:
        self.sidebar.display = self._peeking or self._sidebar_wanted()

    def _reveal_sidebar(self) -> None:
        """Show a hidden sidebar for one visit (it hides again when the prompt gets focus)."""
        if not self._sidebar_wanted():
            self._peeking = True
            self._place_sidebar()

    def action_toggle_sidebar(self) -> None:
        """Hide or show the sidebar (at any width)."""
        shown = bool(self.sidebar.display)
        self._peeking = False
        self.sidebar_choice = not shown
        self._place_sidebar()
        if shown and self.sidebar.has_focus_within:
            self.prompt.focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if self._peeking and not self.sidebar.has_focus_within:
            self._peeking = False
            self._place_sidebar()

    # -- showing a conversation ---------------------------------------------

    async def show(self, conversation: Conversation) -> None:
        """Open ``conversation``: its messages, draft, status and sidebar row."""
        if self.composer.editing:
            self.prompt.set_editing(None)
            self.composer.end_edit()
        if self.find_bar.is_open and conversation is not self.conversation:
            self.find_bar.close()  # its matches were in the other conversation
            self.matches, self.match_index = [], None
            self.pane.mark(None)
        self.conversation = conversation
        generation = self.session.generation(conversation.id)
        await self._draw(conversation)
        if not conversation.messages:
            if self.first_run:
                welcome = Welcome(
                    str(self.settings.config_file or paths.default_config_file()), self.keymap
                )
                await self.pane.mount(welcome)
                self._probe_local_servers()
            else:
                await self.pane.mount(Static(self._empty_hint(), classes="empty-hint"))
        self.prompt.load(conversation.draft)
        self.show_status(conversation, generation)
        self._show_notice()
        self.sidebar.select(conversation.id)
        self.update_estimate()
        self.refresh_bindings()

    def _show_notice(self) -> None:
        """The status bar's notice: an unsaved chat, edit mode, messages waiting, or nothing."""
        if self.session.unsaved:
            unsaved = self.session.unsaved
            what = "this chat" if self.conversation.id in unsaved else f"{len(unsaved)} chat(s)"
            self.status.set_note(f"NOT SAVED: {what} · retrying", "error")
            return
        if self.composer.editing:
            self.status.set_note(f"editing · {self.keymap.label('cancel_edit')} cancels", "edit")
            return
        waiting = len(self.outbox.waiting(self.conversation.id))
        if waiting:
            self.status.set_note(f"{waiting} queued: sent when the reply ends", "warning")
        elif self.conversation.compare:
            select = self.keymap.label("select_messages")
            keep = self.keymap.label("keep_reply")
            self.status.set_note(f"comparing · {select}, {keep} keeps one", "edit")
        else:
            self.status.set_note("")

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def _probe_local_servers(self) -> None:
        from llmchat_tui.discovery import probe

        found = await probe(self.probe_servers)
        for welcome in self.query(Welcome):
            welcome.show_found(found)

    @on(Welcome.ServerChosen)
    async def _server_chosen(self, event: Welcome.ServerChosen) -> None:
        from llmchat_tui.config import ConfigError
        from llmchat_tui.config_file import remember_server

        server = event.server
        model = server.models[0] if server.models else self.settings.model
        path = self.settings.config_file or paths.default_config_file()
        try:
            remember_server(path, server.base_url, model)
        except (ConfigError, OSError) as error:
            self.tell(f"Not saved: {error}", severity="warning", timeout=8)
        else:
            self.tell(f"Saved {server.base_url} and model {model} to {path}", timeout=8)
        self.warn_once(self.session.use_server(server.base_url, model))
        self.first_run = False
        conversation = self.conversation
        if not conversation.messages:
            conversation.base_url, conversation.model = server.base_url, model
        await self.show(conversation)
        self.prompt.focus()

    def _empty_hint(self) -> Content:
        model = clean_line(self.conversation.model or self.settings.model, 60)
        url = clean_line(self.settings.base_url, 80)
        keys = self.keymap
        return Content.assemble(
            ("New conversation", "bold"),
            f"\nModel {model} at {url}.\n",
            (
                f"{keys.label('send')} sends · {keys.label('newline')} adds a line · "
                f"{keys.label('stop')} stops a reply · {keys.label('new_conversation')} starts "
                f"another · {keys.label('help')} lists every key",
                "$text-muted",
            ),
        )

    # -- the estimate of the next request -------------------------------------

    def update_estimate(self) -> None:
        """Show what the next request would send, against the context window."""
        if self._shutting_down or not self.is_mounted:
            return  # a late timer or thread callback while the app closes
        if not self.first_run and not self.session.server_asked(self.conversation):
            self.run_worker(
                self._ask_server(self.conversation), group="server-info", exit_on_error=False
            )
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

    async def _ask_server(self, conversation: Conversation) -> None:
        """Learn the context window the server runs the model with (shown as
        ``next …/N``) and warn once if it does not list the model."""
        self.warn_once(await self.session.ask_server(conversation))
        if conversation is self.conversation:
            self.update_estimate()

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False)
    def _estimate_in_thread(self, conversation: Conversation, draft: str) -> None:
        worker = get_current_worker()
        plan = self.session.plan(conversation, draft)
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_plan, conversation, plan)

    def _show_plan(self, conversation: Conversation, plan: budget.Plan) -> None:
        """Show the next request's size against the context, and what it leaves out."""
        if conversation is not self.conversation:
            return
        exact = tokens.encoding_for_model(conversation.model or self.settings.model).exact
        self.status.set_prompt_estimate(plan.prompt_tokens, exact, plan.limit, plan.dropped)
        self.pane.mark_left_out(self.session.left_out(conversation, plan.dropped))

    # -- sending -------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if not text.strip():
            self.tell("Type a message first: empty messages are not sent.", timeout=3)
            return
        conversation = self.conversation
        if self.composer.editing:
            await self._resend_edited(conversation, text)
            return
        if self.session.is_generating(conversation.id) or self.outbox.waiting(conversation.id):
            await self._queue(conversation, text)
            return
        if not await self._send(conversation, text):
            self._restore(text)

    def _restore(self, text: str) -> None:
        """Put text that could not be sent back in the prompt, ahead of anything typed since."""
        parts = [part for part in (text, self.prompt.full_text) if part.strip()]
        self.prompt.load("\n\n".join(parts))

    async def _queue(self, conversation: Conversation, text: str) -> None:
        """Keep ``text`` until the running reply ends, shown in the pane as queued."""
        queued = self.outbox.add(conversation.id, text)
        self._take_draft()
        await self.pane.add_queued(queued)
        self._show_notice()

    async def _send(self, conversation: Conversation, text: str) -> bool:
        """Send ``text`` in ``conversation``; False (and the user told) if it could not be."""
        for hint in self.pane.query(".empty-hint, #welcome"):
            await hint.remove()
        if self.session.is_generating(conversation.id):
            await self._queue(conversation, text)
            return True
        try:
            turn = await self.session.send(conversation, text)
        except (AttachmentError, CompareError) as error:
            self.tell(f"Not sent: {error}.", severity="warning", timeout=10)
            return False
        except (OSError, StoreError) as error:
            log.exception("could not save the message")
            self.tell(
                f"Could not save the message, so it was not sent: {error}",
                severity="error",
                timeout=10,
            )
            return False
        if conversation is self.conversation and turn.user is not None:
            await self.pane.add_message(turn.user)
        await self._start(conversation, turn)
        return True

    async def action_regenerate(self) -> None:
        """Replace the last reply with a new one, or resend a failed message."""
        await self._again(self.session.regenerate)

    async def action_continue_reply(self) -> None:
        """Ask the model to go on from a cut, stopped or failed reply."""
        await self._again(self.session.continue_reply)

    async def _again(self, make: commands.TurnMaker) -> None:
        """Regenerate or continue: draw the branch again with the reply live."""
        conversation = self.conversation
        try:
            turn = await make(conversation)
        except (ValueError, RuntimeError) as error:
            self.tell(str(error).capitalize(), timeout=4)
            return
        except (OSError, StoreError) as error:
            log.exception("could not save before resending")
            self.tell(f"Could not save the conversation: {error}", severity="error")
            return
        # The branch on screen changed (a new version, or a reply growing):
        # drawing it again with the reply live leaves no stale view behind.
        await self._draw(conversation)
        await self._start(conversation, turn, drawn=True)

    async def _draw(self, conversation: Conversation) -> None:
        """Draw ``conversation``'s branch in the pane, with its replies in flight."""
        await self.pane.show(
            conversation,
            self.session.generations_of(conversation.id),
            self.outbox.waiting(conversation.id),
        )

    def show_status(self, conversation: Conversation, generation: Generation | None) -> None:
        """Point the status bar at ``conversation``: its model, price, options, reply."""
        model = generation.model if generation is not None else ""
        model = model or conversation.model or self.settings.model
        replies = self.session.generations_of(conversation.id)
        together = (
            [(g, self.session.price(g.model)) for g in replies]
            if len(replies) > 1 and generation in replies
            else []
        )
        self.status.show(
            model=model,
            generation=generation,
            price=self.session.price(model),
            options=self.session.request_options(conversation).summary(),
            together=together,
        )

    async def _start(self, conversation: Conversation, turn: Turn, *, drawn: bool = False) -> None:
        """Show a new reply and run it in its own worker."""
        generation = turn.generation
        replies = self.session.generations_of(conversation.id)
        if turn.generation not in replies:
            replies = [turn.generation]
        if conversation is self.conversation:
            if len(replies) > 1 and not drawn:
                await self._draw(conversation)  # the replies side by side
            elif not drawn:
                await self.pane.add_message(turn.reply, generation)
            self.show_status(conversation, generation)
            self.sidebar.select(conversation.id)
        self.sidebar.upsert(row_of(conversation, generating=True))
        if generation.dropped:
            limit = self.session.context_limit(conversation) or 0
            self.tell(
                f"The {generation.dropped} oldest message(s) were left out to fit the "
                f"{limit:,}-token context of {clean_line(generation.model, 40)}.",
                severity="warning",
                timeout=8,
            )
        for reply in replies:
            self.run_worker(
                reply.run(),
                name=f"reply {conversation.id} {reply.model}",
                group=f"reply-{conversation.id}",
                exit_on_error=False,
            )
        self.refresh_bindings()

    @on(SaveStateChanged)
    def _save_state_changed(self, event: SaveStateChanged) -> None:
        conversation = self.session.conversations.get(event.conversation_id)
        title = conversation.title if conversation is not None else event.conversation_id
        if event.error is not None:
            self.tell(
                f"“{title}” could not be saved in {self.session.store.data_dir}: {event.error}. "
                "It is kept in memory and saved as soon as the disk takes it again; "
                "quitting now would lose what is not saved.",
                title="Not saved",
                severity="error",
                timeout=30,
            )
            if self._retry_timer is None:
                self._retry_timer = self.set_interval(SAVE_RETRY_S, self._retry_saves)
        else:
            if not self.session.unsaved:
                self.app.clear_notifications()  # the "Not saved" ones are no longer true
            self.tell(f"“{title}” is saved again.", title="Saved")
            if not self.session.unsaved and self._retry_timer is not None:
                self._retry_timer.stop()
                self._retry_timer = None
        self._show_notice()

    async def _retry_saves(self) -> None:
        await self.session.retry_unsaved()

    @on(GenerationChanged)
    async def _generation_changed(self, event: GenerationChanged) -> None:
        generation = event.generation
        conversation_id = event.conversation_id
        replies = self.session.generations_of(conversation_id)
        together = len(replies) > 1
        # The conversation's round is over when its last reply ends (all of a compare).
        ended = not generation.active and generation in replies
        ended = ended and not self.session.is_generating(conversation_id)
        self.sidebar.set_generating(conversation_id, self.session.is_generating(conversation_id))
        conversation = self.session.conversations.get(conversation_id)
        is_open = conversation_id == self.conversation.id
        if ended and conversation is not None:
            self.sidebar.upsert(row_of(conversation), to_top=False)
        if is_open:
            self.status.update_running()
            self.refresh_bindings()
            if ended:
                self.update_estimate()
            if not generation.active:
                if generation.state is State.ERROR and generation.cause is not None:
                    self.tell(
                        generation.cause.text,
                        title=f"{clean_line(generation.model, 40)} failed"
                        if together
                        else "The reply failed",
                        severity="error",
                        timeout=8,
                    )
        elif ended and conversation is not None:
            title = clean_line(conversation.title, 40)
            state = generation.state
            if together:
                state = self._round_state(replies)
            self.tell(f"Reply {state} in “{title}”", timeout=4)
        if ended and conversation is not None:
            generation = self._round_state_holder(replies, generation)
            if generation.state is State.COMPLETE:
                titled = conversation

                async def write_title() -> None:
                    # A function, not a coroutine: a worker cancelled before it
                    # starts (the app quitting) leaves no coroutine never awaited.
                    await self._write_title(titled)

                _title_worker: Worker[None] = self.run_worker(
                    write_title,
                    group=f"title-{conversation_id}",
                    exclusive=True,
                    exit_on_error=False,
                )
            await self._after_reply(conversation, generation)

    @staticmethod
    def _round_state(replies: list[Generation]) -> State:
        """The state of a round of replies: complete if any completed."""
        return ChatScreen._round_state_holder(replies, replies[0]).state

    @staticmethod
    def _round_state_holder(replies: list[Generation], fallback: Generation) -> Generation:
        """The reply that speaks for a finished round: the first complete one
        (a queued message is then sent), else ``fallback``."""
        return next((g for g in replies if g.state is State.COMPLETE), fallback)

    async def _write_title(self, conversation: Conversation) -> None:
        """Let the model title the conversation (after its first reply), then show it."""
        if await self.session.write_title(conversation):
            generating = self.session.is_generating(conversation.id)
            self.sidebar.upsert(row_of(conversation, generating), to_top=False)

    async def _after_reply(self, conversation: Conversation, generation: Generation) -> None:
        """A reply ended: send the next queued message, or give them all back."""
        action, items = self.outbox.after_reply(conversation.id, generation.state is State.COMPLETE)
        if action is Next.NOTHING:
            return
        is_open = conversation is self.conversation
        if is_open:
            for queued in items:
                await self.pane.remove_queued(queued)
        if action is Next.SEND:
            if not await self._send(conversation, items[0].text):
                self._give_back(conversation, items + self.outbox.take_all(conversation.id))
        else:
            self._give_back(conversation, items)
            why = "stopped" if generation.state is State.CANCELLED else "did not complete"
            title = clean_line(conversation.title, 40)
            where = "the prompt" if is_open else f"the draft of “{title}”"
            self.tell(
                f"The reply {why}, so your queued message was not sent: it is back in {where}.",
                severity="warning",
                timeout=8,
            )
        if is_open:
            self._show_notice()

    def _give_back(self, conversation: Conversation, items: list[Queued]) -> None:
        """Put queued texts back where the user writes, ahead of what is there now."""
        if not items:
            return
        if conversation is self.conversation and not self.composer.editing:
            self.prompt.load(joined(items, self.prompt.full_text))
            self.prompt.focus()
            self._take_draft()
        else:
            self.session.set_draft(conversation, joined(items, conversation.draft))
            self._save_draft_later(conversation)

    # -- actions ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        generating = self.session.is_generating(self.conversation.id)
        if action == "stop":
            return True if generating else None
        if action == "undo":
            return self._undo is not None  # in the footer only while there is one
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

    def offer_undo(self, what: str, undo: Callable[[], Awaitable[None]]) -> None:
        """Let the undo key bring back ``what`` for a few seconds (the latest delete)."""
        self._undo = (what, undo)
        if self._undo_timer is not None:
            self._undo_timer.stop()
        self._undo_timer = self.set_timer(UNDO_SECONDS, self._forget_undo)
        self.refresh_bindings()

    def _forget_undo(self) -> None:
        self._undo = None
        self.refresh_bindings()

    async def action_undo(self) -> None:
        """Undo the latest delete (within a few seconds of it)."""
        if self._undo is None:
            raise SkipAction()  # the key goes on to the prompt (undo typing)
        (what, undo), self._undo = self._undo, None
        self.refresh_bindings()
        try:
            await undo()
        except (OSError, StoreError, ValueError, RuntimeError) as error:
            self.tell(f"Could not bring back {what}: {error}", severity="error", timeout=8)
            return
        self.tell(f"Restored {what}.", timeout=3)

    def action_stop(self) -> None:
        """Stop the open conversation's reply."""
        if self.session.cancel(self.conversation.id):
            self.status.update_running()

    @on(PromptInput.EditCancelled)
    def action_cancel_edit(self) -> None:
        """Leave edit mode; the draft that was in the prompt comes back."""
        if not self.composer.editing:
            return
        self.prompt.set_editing(None)
        self.prompt.load(self.composer.end_edit())
        self._show_notice()
        self.update_estimate()

    async def action_compose_in_editor(self) -> None:
        """Write the message in the user's editor (the prompt owns it)."""
        await self.prompt.action_compose_in_editor()

    async def action_new_conversation(self) -> None:
        """Start a new conversation."""
        self._stash_draft()
        if not self.conversation.messages and not self.conversation.draft.strip():
            self.prompt.focus()
            return
        await self.show(self.session.new_conversation())
        self.prompt.focus()

    def action_filter(self) -> None:
        """Filter the conversations by title and text."""
        self._reveal_sidebar()
        self.sidebar.filter_input.focus()

    def action_toggle_focus(self) -> None:
        """Move between the sidebar and the prompt."""
        if self.sidebar.has_focus_within:
            self.prompt.focus()
        else:
            self._reveal_sidebar()
            self.sidebar.option_list.focus()

    @on(Sidebar.Left)
    def _left_sidebar(self) -> None:
        self.prompt.focus()

    async def shutdown(self, *, interrupted: bool = False) -> None:
        """Keep every unsent text (queued ones too) and stop and save every reply
        (``interrupted``: told to stop by a signal; replies are saved as interrupted)."""
        if self._shutting_down:
            return
        self._shutting_down = True
        self._keep_unsent()
        await self.session.close(interrupted=interrupted)

    def shutdown_now(self) -> None:
        """:meth:`shutdown` without waiting (the process ends next, its terminal gone)."""
        self._shutting_down = True
        self._keep_unsent()
        self.session.close_now()

    def _keep_unsent(self) -> None:
        """Queued messages and an edit in progress go back into the drafts, which are
        kept (the open chat's prompt too)."""
        for conversation_id in self.outbox.conversations():
            conversation = self.session.conversations.get(conversation_id)
            items = self.outbox.take_all(conversation_id)
            if conversation is self.conversation:
                self.prompt.load(joined(items, self.prompt.full_text))
            elif conversation is not None:
                self.session.set_draft(conversation, joined(items, conversation.draft))
        if self.composer.editing:
            self.prompt.load(self.composer.end_edit())
        self._stash_draft()

    # -- drafts ----------------------------------------------------------------

    def _take_draft(self) -> bool:
        """Copy the prompt into the open conversation's draft; True if it changed."""
        if not self.is_mounted:
            return False
        return self.composer.take_draft(self.conversation, self.prompt.full_text)

    def _stash_draft(self) -> None:
        """Keep the unsent text now (switching conversation, quitting)."""
        if not self._take_draft():
            return
        conversation = self.conversation
        try:
            saved = self.session.persist_draft_now(conversation)
        except (OSError, StoreError):
            log.exception("saving the draft failed")  # told by _save_state_changed
            return
        self._list_draft(conversation, saved)

    def _list_draft(self, conversation: Conversation, saved: bool) -> None:
        """Keep the sidebar in step with a draft-only chat (listed while it has text)."""
        if conversation.messages:
            return
        if saved:
            self.sidebar.upsert(row_of(conversation, draft_only=True), to_top=False)
        else:
            self.sidebar.remove_row(conversation.id)

    def _autosave_draft(self) -> None:
        """Keep the unsent text a second after typing stops, saved off the UI thread."""
        if self._shutting_down or not self._take_draft():
            return
        self._save_draft_later(self.conversation)

    def _save_draft_later(self, conversation: Conversation) -> None:
        self.run_worker(self._save_draft(conversation), group="draft", exit_on_error=False)

    async def _save_draft(self, conversation: Conversation) -> None:
        try:
            saved = await self.session.persist_draft(conversation)
        except (OSError, StoreError):
            log.exception("saving the draft failed")  # told by _save_state_changed
            return
        self._list_draft(conversation, saved)

    @on(PromptInput.SelectionChanged)
    def _prompt_cursor_moved(self) -> None:
        self._show_path_hints()

    def _show_path_hints(self) -> None:
        """Under an ``@`` word, list the files it can name (what Tab completes to)."""
        word = self.prompt.at_word()
        names = attachments.complete_path(word, Path.cwd())[1] if word is not None else []
        self.path_hints.show_for(word, names, self.keymap.label("complete_path"))

    @on(PromptInput.Changed)
    def _prompt_changed(self) -> None:
        self._show_path_hints()
        if self._estimate_timer is not None:
            self._estimate_timer.stop()
        self._estimate_timer = self.set_timer(0.15, self.update_estimate)
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(1.0, self._autosave_draft)

    # -- the sidebar -----------------------------------------------------------

    @on(Sidebar.ConversationSelected)
    async def _open_conversation(self, event: Sidebar.ConversationSelected) -> None:
        # The words in the filter box, even if their search has not answered yet.
        searched = self.sidebar.filter_input.value.strip()
        if self.sidebar.filtering or searched:
            self.sidebar.clear_filter()
        if event.conversation_id == self.conversation.id:
            self.prompt.focus()
            return
        self._stash_draft()
        try:
            conversation = self.session.open(event.conversation_id)
        except (OSError, StoreError) as error:
            self.tell(f"Cannot open this conversation: {error}", severity="error")
            return
        await self.show(conversation)
        self.prompt.focus()
        if searched and find(conversation.messages, searched):
            # Opened from a full-text search: show where the words are.
            await self.show_hits(searched)
        issues = self.session.store.warnings_for(conversation.id)
        if issues:
            # Each issue starts with the file's path: the log has it; the notification
            # stays short enough to be read whole.
            first = clean_line(issues[0].split(".json: ", 1)[-1], 90)
            self.tell(
                f"Some fields of this conversation's file were wrong and were ignored or "
                f"converted ({len(issues)}, e.g. {first}); the file was not changed. "
                "Details are in the log.",
                severity="warning",
                timeout=10,
            )
        profile = conversation.profile
        if profile and profile != self.settings.profile and profile not in self._warned_profiles:
            self._warned_profiles.add(profile)
            self.warn_once(self.session.settings_for(profile).warnings)

    def warn_once(self, warnings: list[str]) -> None:
        """Show each warning (a key withheld, a key in the clear) once per session."""
        for warning in warnings:
            if warning not in self._warned:
                self._warned.add(warning)
                self.tell(warning, severity="warning", timeout=12)

    @on(Sidebar.RenameRequested)
    def _rename(self, event: Sidebar.RenameRequested) -> None:
        if event.conversation_id is not None:
            commands.rename(self, event.conversation_id)

    @on(Sidebar.DeleteRequested)
    def _delete(self, event: Sidebar.DeleteRequested) -> None:
        if event.conversation_id is not None:
            commands.delete_conversation(self, event.conversation_id)

    def action_rename_current(self) -> None:
        """Rename the open conversation."""
        if self.conversation.messages:
            commands.rename(self, self.conversation.id)

    def action_delete_current(self) -> None:
        """Delete the open conversation (after asking)."""
        if self.conversation.messages:
            commands.delete_conversation(self, self.conversation.id)

    async def open(self, conversation: Conversation) -> None:
        """Show ``conversation`` (keeping the open one's draft) and focus the prompt."""
        if conversation is not self.conversation:
            self._stash_draft()
            await self.show(conversation)
        self.prompt.focus()

    async def redraw(self) -> None:
        """Draw the open conversation again (its branch changed), keeping the draft."""
        conversation = self.conversation
        await self._draw(conversation)
        self.show_status(conversation, self.session.generation(conversation.id))
        self._show_notice()
        self.update_estimate()
        self.refresh_bindings()

    async def forget(self, conversation_id: str) -> None:
        """A conversation was deleted: drop its row, queue, and its view if open."""
        self.outbox.take_all(conversation_id)
        self.sidebar.remove_row(conversation_id)
        if conversation_id == self.conversation.id:
            await self.show(self.session.new_conversation())

    @on(Sidebar.FilterChanged)
    def _filter_changed(self, event: Sidebar.FilterChanged) -> None:
        query = event.query.strip()
        if not query:
            self.workers.cancel_group(self, "search")
            self.sidebar.show_only(None)
            return
        self._search(query)

    def search_again(self) -> None:
        """Run the sidebar filter's search again (conversations were added), if any."""
        query = self.sidebar.filter_input.value.strip()
        if query:
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
    def _search_results(self, event: SearchResults) -> None:
        if event.query == self.sidebar.filter_input.value.strip():
            self.sidebar.show_only(event.ids)

    # -- messages --------------------------------------------------------------

    def action_select_messages(self) -> None:
        """Move the focus to the messages to copy, edit or delete them."""
        if self.pane.views():
            self.pane.focus()
        else:
            self.tell("No messages yet.", timeout=3)

    @on(MessagePane.Left)
    def _left_messages(self) -> None:
        self.prompt.focus()

    @on(MessagePane.EditRequested)
    def _edit_message(self, event: MessagePane.EditRequested) -> None:
        conversation = self.conversation
        if self.session.is_generating(conversation.id):
            self.tell(f"Stop the reply first ({self.keymap.label('stop')}).", severity="warning")
            return
        if not self.composer.editing:
            self._stash_draft()
        text = self.composer.begin_edit(conversation, event.message, self.prompt.full_text)
        self.prompt.load(text)
        later = self.composer.later_count()
        send, cancel = self.keymap.label("send"), self.keymap.label("cancel_edit")
        older = self.keymap.label("version_previous")
        self.prompt.set_editing(
            f"Editing your message · {send} sends a new version · {cancel} cancels",
            f"the old version and its {later} later message(s) stay: {older} in the "
            "message list shows them"
            if later
            else "the old version stays",
        )
        self.prompt.focus()
        self._show_notice()

    async def _resend_edited(self, conversation: Conversation, text: str) -> None:
        edit = self.composer.edit
        assert edit is not None
        try:
            turn = await self.session.edit_and_resend(conversation, edit.message, text)
        except (ValueError, RuntimeError, OSError, StoreError) as error:
            self.tell(f"Could not resend: {error}", severity="error")
            self._restore(text)
            return
        self.prompt.set_editing(None)
        self.prompt.load(self.composer.end_edit())
        self._take_draft()
        self._show_notice()
        await self._draw(conversation)
        await self._start(conversation, turn, drawn=True)

    @on(MessagePane.SwitchRequested)
    async def _switch_version(self, event: MessagePane.SwitchRequested) -> None:
        conversation = self.conversation
        try:
            chosen = self.session.switch(conversation, event.message, event.step)
        except RuntimeError:
            self.tell(f"Stop the reply first ({self.keymap.label('stop')}).", severity="warning")
            return
        if chosen is None:
            return
        await self._draw(conversation)
        self.pane.select_message(chosen)
        self.update_estimate()
        self.refresh_bindings()
        self._save_later(conversation)  # the branch on screen is remembered

    def _save_later(self, conversation: Conversation) -> None:
        """Save off the UI thread; a failure is told, not raised."""

        async def save() -> None:
            try:
                await self.session.save(conversation)
            except (OSError, StoreError) as error:
                self.tell(f"Could not save: {error}", severity="error", timeout=8)

        self.run_worker(save(), group="save", exit_on_error=False)

    @on(MessagePane.DeleteRequested)
    def _delete_message(self, event: MessagePane.DeleteRequested) -> None:
        commands.delete_message(self, event.message)

    @on(MessagePane.QueuedEditRequested)
    async def _edit_queued(self, event: MessagePane.QueuedEditRequested) -> None:
        if not self.outbox.remove(event.queued):
            return
        await self.pane.remove_queued(event.queued)
        self.prompt.load(joined([event.queued], self.prompt.full_text))
        self.prompt.focus()
        self._show_notice()

    @on(MessagePane.QueuedCancelRequested)
    async def _cancel_queued(self, event: MessagePane.QueuedCancelRequested) -> None:
        if self.outbox.remove(event.queued):
            await self.pane.remove_queued(event.queued)
            self.tell("Queued message cancelled.", timeout=3)
            self._show_notice()

    # -- settings and export ---------------------------------------------------

    def action_pick_model(self) -> None:
        """Choose this conversation's model from the server's list."""
        commands.pick_model(self)

    def action_pick_profile(self) -> None:
        """Move this conversation to another provider profile."""
        commands.pick_profile(self)

    def action_edit_system_prompt(self) -> None:
        """Edit this conversation's system prompt."""
        commands.edit_system_prompt(self)

    # -- find in the conversation ----------------------------------------------

    async def action_find_in_conversation(self, query: str | None = None) -> None:
        """Open the find bar (with ``query``, if given) and show the first match."""
        self.find_bar.open(query)
        await self._find(self.find_bar.input.value)

    async def show_hits(self, query: str) -> None:
        """Show where ``query`` is (the first match marked, the bar with its count),
        leaving the focus in the prompt: Ctrl+S goes to the bar."""
        self.find_bar.open(query, focus=False)
        await self._find(query)

    async def _find(self, query: str, first: int = 0) -> None:
        self.matches = find(self.conversation.messages, query)
        self.match_index = min(first, len(self.matches) - 1) if self.matches else None
        await self._show_match()

    async def _show_match(self) -> None:
        query = self.find_bar.input.value.strip()
        if not query:
            self.find_bar.show_count("", True)
        elif not self.matches:
            self.find_bar.show_count("no match", False)
        else:
            self.find_bar.show_count(position(self.matches, self.match_index), True)
        match = self.matches[self.match_index] if self.match_index is not None else None
        self.pane.mark(query if self.matches else None)
        await self.pane.reveal(match.message if match is not None else None)

    @on(FindBar.Changed)
    async def _find_changed(self, event: FindBar.Changed) -> None:
        await self._find(event.query)

    @on(FindBar.Stepped)
    async def _find_stepped(self, event: FindBar.Stepped) -> None:
        if not self.matches:
            return
        index = 0 if self.match_index is None else self.match_index + event.step
        self.match_index = index % len(self.matches)
        await self._show_match()

    @on(FindBar.Closed)
    async def _find_closed(self, event: FindBar.Closed) -> None:
        await self.close_find()

    async def close_find(self) -> None:
        """Hide the find bar and its mark; the focus goes back to the prompt."""
        if not self.find_bar.is_open:
            return
        self.find_bar.close()
        self.matches, self.match_index = [], None
        self.pane.mark(None)
        await self.pane.reveal(None)
        self.prompt.focus()

    def action_attach_file(self) -> None:
        """Pick a file to attach: its @path goes into the prompt at the cursor."""
        commands.attach_file(self)

    def action_compare_models(self) -> None:
        """Choose 2-4 models that every message of this conversation goes to."""
        compare_commands.choose_models(self)

    def action_pick_kept_reply(self) -> None:
        """Keep one reply of the compare round (chosen from a list)."""
        compare_commands.pick_kept(self)

    def action_stop_comparing(self) -> None:
        """Send messages to the conversation's own model again."""
        compare_commands.stop_comparing(self)

    @on(MessagePane.KeepRequested)
    async def _keep_reply(self, event: MessagePane.KeepRequested) -> None:
        if await compare_commands.keep(self, event.message):
            self.prompt.focus()  # what comes next is the conversation going on

    def action_edit_request_options(self) -> None:
        """Edit this conversation's request options (temperature, max_tokens, ...)."""
        commands.edit_request_options(self)

    def action_export(self, kind: str) -> None:
        """Write the open conversation to a Markdown or JSON file."""
        commands.export(self, kind)
