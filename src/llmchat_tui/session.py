"""The chat session: conversations in memory, their saving, and their replies.

The app holds one :class:`ChatSession`. It knows the store and the LLM
client, opens and creates conversations, builds each request (system prompt
plus the whole conversation so far), and keeps at most one running
:class:`~llmchat_tui.generation.Generation` per conversation, so several
conversations can generate at once. No Textual import.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llmchat_tui import attachments, budget, compare, titles, tokens
from llmchat_tui.attachments import Attachment
from llmchat_tui.config import Settings
from llmchat_tui.config_load import for_profile
from llmchat_tui.config_target import apply_target, layers_of
from llmchat_tui.generation import Generation, RetryPolicy
from llmchat_tui.llm import ChatClient
from llmchat_tui.llm.server_info import ServerInfoCache, unlisted_warning
from llmchat_tui.models import Conversation, Message, Status, title_from_text
from llmchat_tui.request_options import RequestOptions
from llmchat_tui.sanitize import clean
from llmchat_tui.store import (
    Store,
    StoreError,
    Summary,
    atomic_write_bytes,
    encode_conversation,
)
from llmchat_tui.tee import Tee
from llmchat_tui.trash import TrashEntry

log = logging.getLogger(__name__)

UI_STATE_FILE = "ui-state.json"


CONTINUE_INSTRUCTION = (
    "Your previous reply was cut off. Continue it exactly where it stopped, "
    "without repeating anything and without any preamble."
)


def request_messages(
    conversation: Conversation, read: attachments.Reader | None = None
) -> list[dict[str, Any]]:
    """The chat messages a request sends: the system prompt and the history.

    A user message's attachments (their bytes from ``read``, the store's) go with
    it: text files as fenced blocks after its text, images as ``image_url`` parts.

    Cancelled and failed replies keep what arrived, so the next turn is
    coherent; replies that produced nothing are left out. A continuation
    (an assistant message right after another) is joined to the one it
    continues, so the server sees one reply.
    """
    out: list[dict[str, Any]] = []
    if conversation.system_prompt:
        out.append({"role": "system", "content": conversation.system_prompt})
    for message in conversation.messages:
        if message.role == "assistant" and not message.content:
            continue
        if message.role == "assistant" and message.status is Status.STREAMING:
            continue
        if message.role == "assistant" and out and out[-1]["role"] == "assistant":
            out[-1] = {"role": "assistant", "content": out[-1]["content"] + message.content}
            continue
        if message.attachments and read is not None:
            content = attachments.request_content(message.content, message.attachments, read)
            out.append({"role": message.role, "content": content})
            continue
        out.append({"role": message.role, "content": message.content})
    return out


@dataclass(frozen=True)
class Turn:
    """What one send, regenerate, continue or edit added to a conversation."""

    user: Message | None  # the user's new message (None when only a reply was added)
    reply: Message
    generation: Generation


class ChatSession:
    """Conversations, their store, and the replies being generated."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: ChatClient,
        *,
        clock: Callable[[], float] | None = None,
        client_factory: Callable[[Settings], ChatClient] | None = None,
    ) -> None:
        self.settings = settings
        self.client_factory = client_factory
        self._clients: dict[str, ChatClient] = {settings.profile: client}
        self.clock = clock
        self.store = store
        self.conversations: dict[str, Conversation] = {}
        #: Per conversation, the replies of its latest round: one, or one per
        #: model of a compare (oldest first).
        self.rounds: dict[str, list[Generation]] = {}
        self._save_locks: dict[str, asyncio.Lock] = {}
        self._ui_state: dict[str, object] | None = None
        self._retired: list[ChatClient] = []
        #: Called with (conversation id, generation) whenever a reply changes state.
        self.on_generation_state: list[Callable[[str, Generation], None]] = []
        self._as_opened: dict[str, int] = {}
        #: Conversations whose latest save failed, with the error (the app retries).
        self.unsaved: dict[str, str] = {}
        #: Told ``(conversation id, error text or None once saved again)``.
        self.on_save_state: list[Callable[[str, str | None], None]] = []
        #: What each server said about each model (context window, model list).
        self.server_info = ServerInfoCache()

    # -- conversations -----------------------------------------------------

    def summaries(self) -> list[Summary]:
        return self.store.summaries()

    def new_conversation(self, profile: str | None = None) -> Conversation:
        """A new, empty conversation (saved once it has a message)."""
        settings = self.settings_for(self.settings.profile if profile is None else profile)
        conversation = Conversation(
            model=settings.model,
            base_url=settings.base_url,
            profile=settings.profile,
            system_prompt=self.settings.system_prompt,
        )
        self.conversations[conversation.id] = conversation
        return conversation

    def open(self, conversation_id: str) -> Conversation:
        """The conversation ``conversation_id``, loaded from disk once."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            conversation = self.store.load(conversation_id)
            for message in conversation.messages:
                message.content = clean(message.content)
                message.reasoning = clean(message.reasoning)
            self.conversations[conversation_id] = conversation
            # What it was when opened: quitting does not rewrite a file nobody changed
            # (a hand-edited one stays as the user wrote it).
            self._as_opened[conversation_id] = hash(encode_conversation(conversation))
        return conversation

    def is_saved(self, conversation: Conversation) -> bool:
        """Whether the conversation is worth a file: it has messages or unsent text."""
        return bool(conversation.messages) or bool(conversation.draft.strip())

    async def save(self, conversation: Conversation, *, force: bool = False) -> None:
        """Write ``conversation`` atomically, off the event loop, in order.

        A conversation with nothing in it is not written unless ``force``
        (its last message was deleted: the file must say so).
        """
        if not force and not self.is_saved(conversation):
            return
        lock = self._save_locks.setdefault(conversation.id, asyncio.Lock())
        async with lock:
            self._as_opened.pop(conversation.id, None)
            try:
                await asyncio.to_thread(self.store.save, conversation)
            except (OSError, StoreError) as error:
                self._saved(conversation.id, error)
                raise
            self._saved(conversation.id, None)

    async def checkpoint(self, conversation: Conversation, message: Message) -> None:
        """Make a reply's progress durable: while ``message`` streams, its new text is
        appended to the conversation's journal (:meth:`Store.checkpoint`), else the
        conversation is saved whole (which folds the journal). Failures are told
        like :meth:`save`'s (:attr:`unsaved`, ``on_save_state``)."""
        if message.status is not Status.STREAMING:
            await self.save(conversation)
            return
        lock = self._save_locks.setdefault(conversation.id, asyncio.Lock())
        async with lock:
            self._as_opened.pop(conversation.id, None)
            try:
                await asyncio.to_thread(self.store.checkpoint, conversation, message)
            except (OSError, StoreError) as error:
                self._saved(conversation.id, error)
                raise
            self._saved(conversation.id, None)

    def save_now(self, conversation: Conversation) -> None:
        """Write ``conversation`` synchronously (used at exit); not if it is exactly
        as it was read from its file."""
        opened = self._as_opened.pop(conversation.id, None)
        if opened is not None and opened == hash(encode_conversation(conversation)):
            self._as_opened[conversation.id] = opened
            return
        if self.is_saved(conversation):
            try:
                self.store.save(conversation)
            except (OSError, StoreError) as error:
                self._saved(conversation.id, error)
                raise
            self._saved(conversation.id, None)

    def _saved(self, conversation_id: str, error: BaseException | None) -> None:
        """Record whether the conversation's latest save worked, and tell the app
        when that changes (``on_save_state(id, None)`` means saved again)."""
        before = self.unsaved.get(conversation_id)
        if error is None:
            if before is None:
                return
            del self.unsaved[conversation_id]
            text = None
        else:
            text = save_error_text(error)
            self.unsaved[conversation_id] = text
            if before == text:
                return
        for callback in list(self.on_save_state):
            try:
                callback(conversation_id, text)
            except Exception:
                log.exception("save state callback failed")

    async def retry_unsaved(self) -> None:
        """Try again to save every conversation whose last save failed."""
        for conversation_id in list(self.unsaved):
            conversation = self.conversations.get(conversation_id)
            if conversation is None:
                self.unsaved.pop(conversation_id, None)
                continue
            with contextlib.suppress(OSError, StoreError):
                await self.save(conversation, force=True)

    # -- providers -----------------------------------------------------------

    def settings_for(self, profile: str) -> Settings:
        """The settings of a provider profile.

        "", an unknown profile or the start-up profile give the start-up
        settings (flags and environment as at start). Any other profile is
        built from the config file's top level and that profile only
        (:func:`~llmchat_tui.config_load.for_profile`): its base_url, model and key
        never come from the start-up profile. Its ``warnings`` say what the
        user should be told (a key withheld, a key sent over plain http).
        """
        if not profile or profile == self.settings.profile or profile not in self.settings.profiles:
            return self.settings
        return for_profile(self.settings, profile)

    def client_for(self, conversation: Conversation) -> ChatClient:
        """The client of the conversation's profile (made once, then reused).

        Built by the client factory from :meth:`settings_for`, so it talks to
        that profile's base_url with only the key paired with it.
        """
        return self.client_of(conversation.profile)

    def client_of(self, profile: str | None) -> ChatClient:
        """The client of ``profile`` (None, "" or unknown: the start-up profile's)."""
        if not profile or profile not in self.settings.profiles:
            profile = self.settings.profile
        client = self._clients.get(profile)
        if client is None:
            if self.client_factory is None:
                return self._clients[self.settings.profile]
            client = self.client_factory(self.settings_for(profile))
            self._clients[profile] = client
        return client

    @property
    def client(self) -> ChatClient:
        """The default profile's client."""
        return self._clients[self.settings.profile]

    def use_server(self, base_url: str, model: str) -> list[str]:
        """Make ``base_url``/``model`` the defaults from now on (first-run choice).

        The choice counts as given on the command line for this session; it
        pairs with no key it does not own (see :mod:`llmchat_tui.config_target`).
        Returns warnings to show (e.g. a key that was not sent there).
        """
        settings = self.settings
        layers = layers_of(settings)
        settings.layers = replace(
            layers, flags={**layers.flags, "base_url": base_url, "model": model}
        )
        apply_target(settings)
        old = self._clients.get(settings.profile)
        if self.client_factory is not None:
            client = self.client_factory(settings)
        else:
            client = ChatClient(
                base_url=settings.base_url,
                api_key="",
                stream_usage=settings.stream_usage,
                connect_timeout=settings.connect_timeout,
                stall_timeout=settings.stall_timeout,
            )
        self._clients[settings.profile] = client
        if old is not None:
            self._retired.append(old)
        return list(settings.warnings)

    def set_model(self, conversation: Conversation, model: str) -> None:
        conversation.model = model

    def set_profile(self, conversation: Conversation, profile: str) -> list[str]:
        """Move a conversation to another provider (and that provider's model).

        Returns what the user should be told about that provider's key (a key
        withheld, or sent over plain http); [] for the start-up profile, whose
        warnings were shown at start.
        """
        settings = self.settings_for(profile)
        conversation.profile = profile
        conversation.base_url = settings.base_url
        conversation.model = settings.model
        return [] if settings is self.settings else list(settings.warnings)

    # -- replies -----------------------------------------------------------

    def generation(self, conversation_id: str) -> Generation | None:
        """The running or last reply of a conversation in this session (the first
        one of a compare)."""
        replies = self.rounds.get(conversation_id)
        return replies[0] if replies else None

    def generations_of(self, conversation_id: str) -> list[Generation]:
        """The replies of the conversation's latest round: one, or one per model
        of a compare."""
        return list(self.rounds.get(conversation_id, ()))

    def is_generating(self, conversation_id: str) -> bool:
        """Whether any reply of the conversation is still running."""
        return any(g.active for g in self.rounds.get(conversation_id, ()))

    def prompt_estimate(self, conversation: Conversation, draft: str = "") -> tuple[int, bool]:
        """Tiktoken estimate of the next request, and whether it is exact."""
        plan = self.plan(conversation, draft)
        choice = tokens.encoding_for_model(conversation.model or self.settings.model)
        return plan.prompt_tokens, choice.exact and not tokens.has_images(plan.messages)

    def context_limit(self, conversation: Conversation) -> int | None:
        """The context window of the conversation's model, if known: the config's
        ``context_windows``, else what its server said (:meth:`ask_server`), else
        the built-in table."""
        return self.model_limit(conversation.profile, conversation.model or self.settings.model)

    def model_limit(self, profile: str | None, model: str) -> int | None:
        """The context window of ``model`` as served by ``profile``'s server."""
        client = self._existing_client(profile)
        info = self.server_info.get(client.base_url, model) if client is not None else None
        reported = info.context_window if info is not None else None
        return budget.context_window(model, self.settings.context_windows, reported)

    def _existing_client(self, profile: str | None) -> ChatClient | None:
        """:meth:`client_of` without making one (safe from a thread): None if the
        profile has no client yet (so its server was not asked)."""
        if not profile or profile not in self.settings.profiles:
            profile = self.settings.profile
        client = self._clients.get(profile)
        if client is None and self.client_factory is None:
            client = self._clients.get(self.settings.profile)
        return client

    def server_asked(self, conversation: Conversation) -> bool:
        """Whether the conversation's server was asked about its model in this session."""
        model = conversation.model or self.settings.model
        client = self._existing_client(conversation.profile)
        return client is not None and self.server_info.asked(client.base_url, model)

    def _forget_provisional(self, generation: Generation) -> None:
        """A reply ended: the server has loaded the model now, so a window it gave
        only as the model's maximum (Ollama) is asked again next time."""
        self.server_info.forget_provisional(generation.client.base_url, generation.model)

    async def ask_server(self, conversation: Conversation) -> list[str]:
        """Ask the conversation's server (once per server and model) for its context
        window and model list; returns what to tell the user (a model it does not list).

        Only the profile's own server is asked, with only its own key.
        """
        model = conversation.model or self.settings.model
        client = self.client_for(conversation)
        info = await client.server_info(model, self.server_info)
        if info.context_window is not None:
            log.info("%s: context %s (%s)", model, info.context_window, info.source)
        warning = unlisted_warning(info, model, client.base_url)
        return [warning] if warning else []

    def request_options(self, conversation: Conversation) -> RequestOptions:
        """The options the conversation's requests carry: its own, then the config's
        ``temperature`` where it sets none."""
        return conversation.options.over(RequestOptions(temperature=self.settings.temperature))

    async def set_options(self, conversation: Conversation, options: RequestOptions) -> None:
        """Give the conversation its own request options (saved with it)."""
        conversation.options = options
        conversation.touch()
        await self.save(conversation)

    async def write_title(self, conversation: Conversation) -> bool:
        """Ask the model for a title after the first reply; True when it was given.

        Only while :func:`titles.wants_title` holds, before and after the request
        (a rename meanwhile wins). Failures are logged and change nothing.
        """
        if not self.settings.auto_title or not titles.wants_title(conversation):
            return False
        before = conversation.title
        model = self.settings.title_model or conversation.model or self.settings.model
        try:
            answer = await self.client_for(conversation).complete(
                titles.title_request(conversation), model
            )
        except Exception as error:  # a title is a nicety: never an error for the user
            log.info("no title from %s: %s", model, error)
            return False
        title = titles.clean_title(answer)
        if title is None or conversation.title_is_custom or conversation.title != before:
            return False
        conversation.title = title
        await self.save(conversation)
        return True

    def plan(
        self,
        conversation: Conversation,
        draft: str = "",
        extra: list[dict[str, Any]] | None = None,
    ) -> budget.Plan:
        """What the next request would send: the oldest messages are left out
        (never the system prompt) when the whole history does not fit."""
        messages = request_messages(conversation, self.store.read_attachment) + list(extra or [])
        if draft.strip():
            messages.append({"role": "user", "content": draft})
        model = conversation.model or self.settings.model
        return budget.plan_request(messages, model, self.context_limit(conversation))

    def left_out(self, conversation: Conversation, dropped: int) -> list[Message]:
        """The conversation's messages behind the first ``dropped`` request entries."""
        if dropped <= 0:
            return []
        found: list[Message] = []
        for message in conversation.messages:
            if message.role == "system" or (message.role == "assistant" and not message.content):
                continue
            if len(found) >= dropped and not (
                message.role == "assistant" and found and found[-1].role == "assistant"
            ):
                break
            found.append(message)
        return found

    def price(self, model: str) -> budget.Price | None:
        return budget.price_for(model, self.settings.prices)

    async def _transaction(
        self, conversation: Conversation, change: Callable[[], Awaitable[Generation]]
    ) -> Turn:
        """Run ``change`` (which adds messages and saves); undo it all if it fails.

        On any failure the conversation is as it was (every branch, the branch
        on screen, the draft and the reply being continued) and the error
        propagates, so the caller can keep the user's text and say why.
        """
        self._check_idle(conversation)
        nodes = list(conversation.nodes)
        current, draft = conversation.current_id, conversation.draft
        title, updated_at = conversation.title, conversation.updated_at
        last = conversation.current
        last_status = last.status if last is not None else None
        try:
            generation = await change()
        except BaseException:
            conversation.nodes[:] = nodes
            conversation.current_id, conversation.draft = current, draft
            conversation.title, conversation.updated_at = title, updated_at
            if last is not None and last_status is not None:
                last.status = last_status
            conversation.changed()
            raise
        known = {id(m) for m in nodes}
        user = next(
            (m for m in conversation.nodes if id(m) not in known and m.role == "user"), None
        )
        return Turn(user=user, reply=generation.message, generation=generation)

    async def send(
        self, conversation: Conversation, text: str, *, files: Sequence[Path] | None = None
    ) -> Turn:
        """Add the user's message, save it, and return the turn whose reply to run.

        The user's message is on disk before this returns (and so before the
        request is sent); if it cannot be saved nothing is added.
        """

        attached = self.attach(conversation, text, files)

        async def change() -> Generation:
            conversation.add(Message(role="user", content=text, attachments=attached))
            conversation.draft = ""
            return await self._reply(conversation)

        return await self._transaction(conversation, change)

    def attach(
        self, conversation: Conversation, text: str, files: Sequence[Path] | None = None
    ) -> list[Attachment]:
        """The files to send with ``text``, read, checked and kept in the data folder:
        ``files`` when given (``ask --attach``), else the ones ``text`` names with
        ``@path`` (from the working directory).

        Raises :class:`~llmchat_tui.attachments.AttachmentError` (nothing kept
        that matters, nothing sent) for a file that cannot go: unreadable, not
        text or an image, too large, or a text longer than the model's window.
        """
        found: list[Attachment] = []
        limit = self.context_limit(conversation)
        model = conversation.model or self.settings.model
        chosen = attachments.mentioned_paths(text, Path.cwd()) if files is None else files
        for path in chosen:
            attachment, data = attachments.load(path)
            if limit is not None and not attachment.is_image:
                size = tokens.count_text(
                    data.decode("utf-8"), tokens.encoding_for_model(model).name
                )
                if size > limit:
                    raise attachments.AttachmentError(
                        f"{attachment.name} is about {size:,} tokens: more than the "
                        f"{limit:,}-token window of {model}"
                    )
            self.store.keep_attachment(attachment, data)
            found.append(attachment)
        return found

    def set_compare(self, conversation: Conversation, specs: str | Sequence[str]) -> list[str]:
        """Send every message of ``conversation`` to the models of ``specs``
        (``[profile:]model``, 2-4 of them) until one reply is kept; returns the
        warnings to show (a profile's key withheld or sent over plain http).

        Raises :class:`~llmchat_tui.compare.CompareError` for a list that cannot
        compare, and RuntimeError while a reply is running.
        """
        self._check_idle(conversation)
        refs = compare.parse_models(specs, self.settings.profiles)
        conversation.compare = [ref.label for ref in refs]
        conversation.touch()
        warnings: list[str] = []
        for profile in sorted({ref.profile for ref in refs if ref.profile}):
            if profile != self.settings.profile:
                warnings += self.settings_for(profile).warnings
        return warnings

    def stop_comparing(self, conversation: Conversation) -> None:
        """Back to one model (the conversation's own); the branch on screen stays."""
        conversation.compare = []
        conversation.touch()

    async def keep(self, conversation: Conversation, message: Message) -> list[str]:
        """Keep ``message``, a reply of the compare round on screen: it ends the
        branch on screen, the others stay as its siblings (‹n/m›), comparing
        stops and the conversation goes on with that reply's model (and profile).
        Saved; returns the warnings to show about a new profile's key.

        Raises ValueError when ``message`` is not in the round on screen, and
        RuntimeError while a reply of the conversation is running.
        """
        self._check_idle(conversation)
        if message not in compare.round_of(conversation):
            raise ValueError("that reply is not one of the replies being compared")
        if not message.content:
            raise ValueError(f"{message.model or 'that model'} gave no reply to keep")
        before = (
            conversation.current_id,
            list(conversation.compare),
            conversation.model,
            conversation.profile,
            conversation.base_url,
        )
        warnings: list[str] = []
        if message.profile and message.profile != conversation.profile:
            warnings = self.set_profile(conversation, message.profile)
        conversation.model = message.model or conversation.model
        conversation.show_branch(message)
        conversation.compare = []
        conversation.touch()
        replies = self.rounds.get(conversation.id, [])
        kept = [g for g in replies if g.message is message]
        if replies:
            self.rounds[conversation.id] = kept  # its figures are the status bar's now
        try:
            await self.save(conversation, force=True)
        except BaseException:
            (
                conversation.current_id,
                conversation.compare,
                conversation.model,
                conversation.profile,
                conversation.base_url,
            ) = before
            if replies:
                self.rounds[conversation.id] = replies
            raise
        return warnings

    def _answered(self, conversation: Conversation) -> Message:
        """The user message the last reply on screen answers (ValueError if none)."""
        for message in reversed(conversation.messages):
            if message.role == "user":
                return message
        raise ValueError("there is no message to answer yet")

    async def regenerate(self, conversation: Conversation) -> Turn:
        """Answer the last message on screen again: a new reply beside the old ones.

        Every earlier reply stays, reachable as a sibling (‹1/2›). Raises
        ``ValueError`` when the conversation has no user message to answer.
        """
        question = self._answered(conversation)

        async def change() -> Generation:
            conversation.current_id = question.id
            return await self._reply(conversation)

        return await self._transaction(conversation, change)

    async def continue_reply(self, conversation: Conversation) -> Turn:
        """Ask the model to go on from the last (partial) reply, extending that reply.

        An instruction to continue is sent (not stored); the text that comes
        back is appended to the same message, which keeps one set of figures.
        """
        last = conversation.messages[-1] if conversation.messages else None
        if last is None or last.role != "assistant" or not last.content:
            raise ValueError("there is no partial reply to continue")
        extra = [{"role": "user", "content": CONTINUE_INSTRUCTION}]
        return await self._transaction(
            conversation, lambda: self._reply(conversation, extra, continues=last)
        )

    async def edit_and_resend(
        self, conversation: Conversation, message: Message, text: str
    ) -> Turn:
        """Send a new version of one of the user's messages, with a new reply.

        The new version is a sibling of the old one: the old message and every
        reply after it stay in their branch (‹1/2› switches between them).
        """
        if message.role != "user" or message not in conversation.messages:
            raise ValueError("only your own messages in this conversation can be edited")

        attached = self.attach(conversation, text)

        async def change() -> Generation:
            parent = conversation.get(message.parent_id)
            new = Message(role="user", content=text, attachments=attached)
            conversation.add(new, parent=parent)
            return await self._reply(conversation)

        return await self._transaction(conversation, change)

    def switch(self, conversation: Conversation, message: Message, step: int) -> Message | None:
        """Show another version of ``message`` (-1: older, 1: newer); None if none.

        Refused while a reply is being written in this conversation.
        """
        self._check_idle(conversation)
        chosen = conversation.switch(message, step)
        if chosen is not None:
            conversation.changed()
        return chosen

    async def delete_message(self, conversation: Conversation, message: Message) -> TrashEntry:
        """Move one message to the trash (its replies move up) and save.

        Returns the trash entry, for undo (:meth:`restore_message`). Nothing
        changes if the trash entry or the save fails.
        """
        self._check_idle(conversation)
        if conversation.get(message.id) is not message:
            raise ValueError("that message is not in this conversation")
        entry = await asyncio.to_thread(self.store.trash_message, conversation, message)
        nodes, current = list(conversation.nodes), conversation.current_id
        parents = {m.id: m.parent_id for m in conversation.nodes}
        updated_at = conversation.updated_at
        conversation.remove(message)
        conversation.touch()
        try:
            await self.save(conversation, force=True)
        except BaseException:
            conversation.nodes[:] = nodes
            for m in conversation.nodes:
                m.parent_id = parents[m.id]
            conversation.current_id, conversation.updated_at = current, updated_at
            conversation.changed()
            raise
        kept = [g for g in self.rounds.get(conversation.id, ()) if g.message is not message]
        if kept:
            self.rounds[conversation.id] = kept
        else:
            self.rounds.pop(conversation.id, None)
        return entry

    async def restore_message(self, conversation: Conversation, entry: TrashEntry) -> None:
        """Undo :meth:`delete_message`: the message (and its replies) are back."""
        self._check_idle(conversation)
        lock = self._save_locks.setdefault(conversation.id, asyncio.Lock())
        async with lock:
            self.store.restore(entry, into=conversation)

    async def delete(self, conversation_id: str) -> TrashEntry | None:
        """Move a conversation to the trash (its reply stopped first); None if it was
        never saved. Undo with :meth:`restore`."""
        for generation in self.rounds.get(conversation_id, ()):
            if generation.active:
                generation.cancel()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(generation.done.wait(), 2)
        conversation = self.conversations.pop(conversation_id, None)
        lock = self._save_locks.setdefault(conversation_id, asyncio.Lock())
        async with lock:
            if not self.store.path_for(conversation_id).exists():
                return None
            try:
                return await asyncio.to_thread(self.store.trash, conversation_id)
            except BaseException:
                if conversation is not None:
                    self.conversations[conversation_id] = conversation
                raise

    async def restore(self, entry: TrashEntry) -> Conversation:
        """Undo :meth:`delete`: the conversation is back (and listed)."""
        await asyncio.to_thread(self.store.restore, entry)
        return self.open(entry.conversation_id)

    # -- drafts ----------------------------------------------------------------

    def set_draft(self, conversation: Conversation, text: str) -> bool:
        """Keep ``text`` as the conversation's unsent draft; True if that changed it.

        A new chat that holds only a draft is named after it (until its first
        message names it), so it can be listed and found again.
        """
        if conversation.draft == text:
            return False
        conversation.draft = text
        if not conversation.messages and not conversation.title_is_custom:
            conversation.title = title_from_text(text) if text.strip() else "New chat"
        return True

    def is_draft_only(self, conversation: Conversation) -> bool:
        """A chat with no messages yet, only unsent text."""
        return not conversation.messages and bool(conversation.draft.strip())

    async def persist_draft(self, conversation: Conversation) -> bool:
        """Save the conversation's draft; a new chat whose draft was emptied is removed
        from disk again. Returns whether the conversation is saved now."""
        if self.is_saved(conversation):
            await self.save(conversation)
            return True
        await asyncio.to_thread(self._discard_empty, conversation)
        return False

    def persist_draft_now(self, conversation: Conversation) -> bool:
        """:meth:`persist_draft`, synchronously (switching conversation, quitting)."""
        if self.is_saved(conversation):
            self.save_now(conversation)
            return True
        self._discard_empty(conversation)
        return False

    def _discard_empty(self, conversation: Conversation) -> None:
        if not conversation.messages and self.store.path_for(conversation.id).exists():
            self.store.delete(conversation.id)

    def _open_tee(self, conversation: Conversation, model: str) -> Tee | None:
        """The ``tee_file`` copy of this reply (appended, 0600), if one is set."""
        if not self.settings.tee_file:
            return None
        return Tee.open(self.settings.tee_file, title=conversation.title, model=model)

    # -- remembered UI state ---------------------------------------------------

    @property
    def ui_state(self) -> dict[str, object]:
        """Small UI choices remembered across runs (the theme)."""
        if self._ui_state is None:
            try:
                data = json.loads((self.store.data_dir / UI_STATE_FILE).read_text("utf-8"))
                self._ui_state = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._ui_state = {}
        return self._ui_state

    def remember(self, key: str, value: object) -> None:
        """Store one UI choice (written atomically, 0600)."""
        state = self.ui_state
        state[key] = value
        try:
            atomic_write_bytes(
                self.store.data_dir / UI_STATE_FILE, json.dumps(state, indent=1).encode()
            )
        except OSError:
            log.exception("could not remember %s", key)

    def _check_idle(self, conversation: Conversation) -> None:
        if self.is_generating(conversation.id):
            raise RuntimeError("a reply is already being generated in this conversation")

    async def _reply(
        self,
        conversation: Conversation,
        extra: list[dict[str, Any]] | None = None,
        continues: Message | None = None,
    ) -> Generation:
        """Start the reply to the branch on screen: a new message below its end, or
        ``continues`` (a partial reply) extended. Saved before it is returned."""
        if conversation.compare and continues is None:
            return (await self._compare_replies(conversation))[0]
        generation = self._start_reply(conversation, extra, continues)
        await self.save(conversation)
        self.rounds[conversation.id] = [generation]
        return generation

    async def _compare_replies(self, conversation: Conversation) -> list[Generation]:
        """One reply per model of the compare to the branch on screen, as siblings
        (the first one on screen). Saved before they are returned."""
        question = conversation.current
        refs = compare.parse_models(conversation.compare, self.settings.profiles)
        replies = []
        for number, ref in enumerate(refs):
            replies.append(
                self._start_reply(conversation, parent=question, ref=ref, tee=number == 0)
            )
        conversation.current_id = replies[0].message.id
        await self.save(conversation)
        self.rounds[conversation.id] = replies
        return replies

    def _start_reply(
        self,
        conversation: Conversation,
        extra: list[dict[str, Any]] | None = None,
        continues: Message | None = None,
        *,
        parent: Message | None = None,
        ref: compare.ModelRef | None = None,
        tee: bool = True,
    ) -> Generation:
        """A new reply (below ``parent``, or the end of the branch on screen) or
        ``continues`` extended, from ``ref``'s model and profile (default: the
        conversation's), not started and not saved yet. ``tee``: copy it to the
        ``tee_file`` (only the first reply of a compare is, so the copies of
        replies streaming at once do not interleave)."""
        profile = ref.profile if ref is not None and ref.profile else conversation.profile
        model = ref.model if ref is not None else conversation.model or self.settings.model
        request = request_messages(conversation, self.store.read_attachment) + list(extra or [])
        estimate = None
        dropped = 0
        limit = self.model_limit(profile, model)
        if tokens.is_loaded(tokens.encoding_for_model(model).name):
            plan = budget.plan_request(request, model, limit)
            request, estimate, dropped = plan.messages, plan.prompt_tokens, plan.dropped
        if continues is None:
            new = Message(role="assistant", status=Status.STREAMING, model=model)
            if ref is not None and ref.profile:
                new.profile = ref.profile
            if parent is None:
                reply = conversation.add(new)
            else:
                reply = conversation.add(new, parent)
                conversation.current_id = parent.id  # the next model is asked the same
        else:
            reply = continues
            reply.status = Status.STREAMING
            reply.error = None

        async def checkpoint() -> None:
            conversation.touch()
            await self.checkpoint(conversation, reply)

        conversation_id = conversation.id

        def state_changed(generation: Generation) -> None:
            self._state_changed(conversation_id, generation)

        generation = Generation(
            message=reply,
            client=self.client_of(profile),
            request=request,
            model=model,
            save=checkpoint,
            prompt_estimate=estimate,
            retry=RetryPolicy(
                attempts=self.settings.retry_attempts,
                base=self.settings.retry_base,
                cap=self.settings.retry_cap,
            ),
            options=self.request_options(conversation)
            .fitted(limit - estimate if limit is not None and estimate is not None else None)
            .to_dict(),
            dropped=dropped,
            tee=self._open_tee(conversation, model) if tee else None,
            on_state=state_changed,
            continues=continues is not None,
            clock=self.clock if self.clock is not None else time.monotonic,
        )
        return generation

    def _state_changed(self, conversation_id: str, generation: Generation) -> None:
        """Tell each ``on_generation_state`` callback (the app) that a reply changed state."""
        if not generation.active:
            self._forget_provisional(generation)
        for callback in list(self.on_generation_state):
            try:
                callback(conversation_id, generation)
            except Exception:
                log.exception("generation state callback failed")

    def cancel(self, conversation_id: str) -> bool:
        """Stop the replies of one conversation (every model of a compare); True if
        one was running."""
        stopped = [g.cancel() for g in self.rounds.get(conversation_id, ())]
        return any(stopped)

    def _all_generations(self) -> list[Generation]:
        return [g for replies in self.rounds.values() for g in replies]

    async def close(self, *, interrupted: bool = False) -> None:
        """Stop every reply, save everything, close the client.

        ``interrupted`` (the app was told to stop by a signal): replies still
        streaming are saved as *interrupted*, with all the text that arrived.
        A conversation that cannot be saved stays in :attr:`unsaved`.
        """
        running = [g for g in self._all_generations() if g.active]
        for generation in running:
            generation.cancel(interrupted=interrupted)
        for generation in running:
            try:
                await asyncio.wait_for(generation.done.wait(), 2)
            except TimeoutError:
                log.warning("a reply did not stop in time")
        self._save_all_now()
        for client in [*self._clients.values(), *self._retired]:
            await client.close()

    def close_now(self) -> None:
        """:meth:`close` without waiting for anything (the process ends next): every
        streaming reply is ended as *interrupted* with its text, everything saved."""
        for generation in self._all_generations():
            generation.interrupt_now()
        self._save_all_now()

    def _save_all_now(self) -> None:
        for conversation in list(self.conversations.values()):
            try:
                self.save_now(conversation)
            except (OSError, StoreError):
                log.exception("saving at exit failed")


def save_error_text(error: BaseException) -> str:
    """A failed save in words a user can act on ("No space left on device"): the
    operating system's reason when there is one under the error, else its text."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__
    return str(error) or type(error).__name__
