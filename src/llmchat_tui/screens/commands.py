"""Commands of the chat screen that go through a dialog: rename, delete, pickers, export.

Each function takes the chat screen (as a :class:`ChatHost`), opens its
dialog, and on the user's answer calls the session and updates the screen. They
live here so the screen's module keeps to the chat itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llmchat_tui import attachments, paths
from llmchat_tui.models import Conversation, Message
from llmchat_tui.request_options import RequestOptions
from llmchat_tui.sanitize import clean_line
from llmchat_tui.screens.dialogs import ConfirmDialog, RenameDialog
from llmchat_tui.screens.options_dialog import RequestOptionsDialog
from llmchat_tui.screens.pickers import PickerDialog, SystemPromptDialog
from llmchat_tui.store import StoreError
from llmchat_tui.widgets.sidebar import row_of

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import SeverityLevel

    from llmchat_tui.config import Settings
    from llmchat_tui.generation import Generation
    from llmchat_tui.keymap import Keymap
    from llmchat_tui.session import ChatSession, Turn
    from llmchat_tui.widgets.prompt import PromptInput
    from llmchat_tui.widgets.sidebar import Sidebar


class ChatHost(Protocol):
    """What these commands use of the chat screen (the screen passes itself), so this
    module needs no import of the screen's."""

    app: App[None]
    conversation: Conversation
    keymap: Keymap
    session: ChatSession
    settings: Settings
    sidebar: Sidebar
    prompt: PromptInput

    def tell(
        self,
        message: str,
        *,
        severity: SeverityLevel = "information",
        timeout: float = 4,
        title: str = "",
    ) -> None: ...
    def offer_undo(self, what: str, undo: Callable[[], Awaitable[None]]) -> None: ...
    async def open(self, conversation: Conversation) -> None: ...
    async def forget(self, conversation_id: str) -> None: ...
    async def redraw(self) -> None: ...
    def show_status(self, conversation: Conversation, generation: Generation | None) -> None: ...
    def update_estimate(self) -> None: ...
    def warn_once(self, warnings: list[str]) -> None: ...


log = logging.getLogger(__name__)

TurnMaker = Callable[[Conversation], Awaitable["Turn"]]


def rename(screen: ChatHost, conversation_id: str) -> None:
    """Ask for a new title and save it."""
    session = screen.session
    row = screen.sidebar.rows.get(conversation_id)

    async def done(title: str | None) -> None:
        if not title:
            return
        try:
            conversation = session.open(conversation_id)
            conversation.rename(title)
            await session.save(conversation)
        except (OSError, StoreError) as error:
            screen.tell(f"Could not rename: {error}", severity="error")
            return

        screen.sidebar.upsert(
            row_of(conversation, session.is_generating(conversation_id)), to_top=False
        )

    screen.app.push_screen(RenameDialog(row.title if row else ""), done)


def delete_conversation(screen: ChatHost, conversation_id: str) -> None:
    """Ask, then move a conversation to the trash (its reply is stopped first)."""
    row = screen.sidebar.rows.get(conversation_id)
    title = clean_line(row.title if row else "this conversation", 50)
    undo = screen.keymap.label("undo")

    async def done(confirmed: bool | None) -> None:
        if not confirmed:
            return
        session = screen.session
        try:
            entry = await session.delete(conversation_id)
        except (OSError, StoreError) as error:
            screen.tell(f"Could not delete: {error}", severity="error")
            return
        await screen.forget(conversation_id)
        if entry is None:  # never saved: nothing to keep
            screen.tell(f"Deleted “{title}”", timeout=3)
            return

        async def restore() -> None:
            conversation = await session.restore(entry)
            screen.sidebar.upsert(row_of(conversation), to_top=False)
            await screen.open(conversation)

        screen.offer_undo(f"“{title}”", restore)
        screen.tell(
            f"Deleted “{title}” · {undo} undoes (llmchat-tui trash lists what was deleted)",
            timeout=8,
        )

    question = f"Delete “{title}”? It goes to the trash for 30 days ({undo} undoes)."
    screen.app.push_screen(ConfirmDialog(question, screen.keymap), done)


def delete_message(screen: ChatHost, message: Message) -> None:
    """Ask, then move one message of the open conversation to the trash."""
    conversation = screen.conversation
    session = screen.session
    if session.is_generating(conversation.id):
        screen.tell(f"Stop the reply first ({screen.keymap.label('stop')}).", severity="warning")
        return
    who = "your message" if message.role == "user" else "this reply"
    undo = screen.keymap.label("undo")

    async def redraw() -> None:
        if conversation is screen.conversation:
            await screen.redraw()

    async def done(confirmed: bool | None) -> None:
        if not confirmed:
            return
        try:
            entry = await session.delete_message(conversation, message)
        except (ValueError, RuntimeError, OSError, StoreError) as error:
            screen.tell(f"Could not delete: {error}", severity="error")
            return
        await redraw()

        async def restore() -> None:
            await session.restore_message(conversation, entry)
            await redraw()

        screen.offer_undo(who, restore)
        screen.tell(f"Deleted {who} · {undo} undoes.", timeout=8)

    question = f"Delete {who}? Its replies stay; {undo} undoes."
    screen.app.push_screen(ConfirmDialog(question, screen.keymap), done)


def pick_model(screen: ChatHost) -> None:
    """Choose the open conversation's model from the server's list."""
    conversation = screen.conversation
    session = screen.session
    client = session.client_for(conversation)

    async def done(model: str | None) -> None:
        if not model or model == conversation.model:
            return
        session.set_model(conversation, model)
        await after_settings_change(screen, conversation, f"Model: {model}")

    screen.app.push_screen(
        PickerDialog(
            "Model for this conversation",
            current=conversation.model or screen.settings.model,
            load=client.list_models,
            placeholder="Type to filter, or any model name",
        ),
        done,
    )


def pick_profile(screen: ChatHost) -> None:
    """Move the open conversation to another provider profile."""
    settings = screen.settings
    profiles = sorted(settings.profiles)
    if not profiles:
        config = settings.config_file or paths.default_config_file()
        screen.tell(
            f"No provider profiles yet: add [profiles.NAME] tables to {config} "
            "(the README has examples for seven providers).",
            timeout=8,
        )
        return
    conversation = screen.conversation

    async def done(profile: str | None) -> None:
        if profile is None or profile == conversation.profile:
            return
        warnings = screen.session.set_profile(conversation, profile)
        await after_settings_change(
            screen, conversation, f"Provider: {profile} ({conversation.model})"
        )
        screen.warn_once(warnings)

    screen.app.push_screen(
        PickerDialog(
            "Provider profile",
            current=conversation.profile,
            choices=profiles,
            allow_free_text=False,
        ),
        done,
    )


def edit_system_prompt(screen: ChatHost) -> None:
    """Edit the open conversation's system prompt."""
    conversation = screen.conversation

    async def done(text: str | None) -> None:
        if text is None or text == conversation.system_prompt:
            return
        conversation.system_prompt = text
        await after_settings_change(
            screen, conversation, "System prompt saved" if text else "System prompt cleared"
        )

    screen.app.push_screen(
        SystemPromptDialog(conversation.system_prompt, screen.settings.prompts, screen.keymap),
        done,
    )


def attach_file(screen: ChatHost) -> None:
    """Pick a file under the working folder; ``@path`` goes into the prompt."""
    folder = Path.cwd()

    async def files() -> list[str]:
        return await asyncio.to_thread(attachments.list_files, folder)

    def done(picked: str | None) -> None:
        if not picked:
            return
        if any(character.isspace() for character in picked):
            screen.tell("A path with spaces cannot be attached with @: rename or link it.")
            return
        prompt = screen.prompt
        row, column = prompt.cursor_location
        before = prompt.document.get_line(row)[:column]
        space = "" if not before or before[-1].isspace() else " "
        prompt.insert(f"{space}@{picked} ")
        prompt.focus()

    screen.app.push_screen(
        PickerDialog(
            f"Attach a file from {clean_line(str(folder), 60)}",
            load=files,
            placeholder="Type to filter, or any path",
        ),
        done,
    )


def edit_request_options(screen: ChatHost) -> None:
    """Edit the open conversation's request options."""
    conversation = screen.conversation

    async def done(options: RequestOptions | None) -> None:
        if options is None or options == conversation.options:
            return
        conversation.options = options
        summary = options.summary()
        await after_settings_change(
            screen,
            conversation,
            f"Request options saved: {summary}" if summary else "Request options cleared",
        )

    screen.app.push_screen(
        RequestOptionsDialog(conversation.options, screen.settings.temperature, screen.keymap),
        done,
    )


async def after_settings_change(screen: ChatHost, conversation: Conversation, note: str) -> None:
    """Save a conversation whose settings changed and show the change."""

    session = screen.session
    try:
        await session.save(conversation)
    except (OSError, StoreError) as error:
        screen.tell(f"Could not save: {error}", severity="error")
    if conversation.messages:
        screen.sidebar.upsert(
            row_of(conversation, session.is_generating(conversation.id)), to_top=False
        )
    if conversation is screen.conversation:
        screen.show_status(conversation, session.generation(conversation.id))
        screen.update_estimate()
    screen.tell(note, timeout=3)


def export(screen: ChatHost, kind: str) -> None:
    """Write the open conversation to a Markdown or JSON file and say where."""
    from llmchat_tui import exporting
    from llmchat_tui.store import atomic_write_bytes

    conversation = screen.conversation
    if not conversation.messages:
        screen.tell("Nothing to export yet.", timeout=3)
        return
    text = (
        exporting.to_json(conversation) if kind == "json" else exporting.to_markdown(conversation)
    )
    name = f"{slug(conversation.title)}-{conversation.id[-6:].lower()}.{kind}"
    settings = screen.settings
    data_dir = Path(settings.data_dir).expanduser() if settings.data_dir else paths.data_dir()
    for folder, ours in ((Path.cwd(), False), (data_dir / "exports", True)):
        try:
            if ours:
                paths.ensure_private_dir(folder)
            path = folder / name
            atomic_write_bytes(path, text.encode("utf-8"))
        except OSError:
            continue
        screen.tell(f"Exported to {path}", title="Export", timeout=8)
        return
    screen.tell("Could not write the export anywhere.", severity="error")


def slug(title: str) -> str:
    """A file-name-safe form of a title."""
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:40] or "conversation"
