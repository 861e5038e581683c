"""The chat screen's compare commands: choose the models, keep one reply, stop.

Each takes the chat screen (as a :class:`~llmchat_tui.screens.commands.ChatHost`),
opens its dialog where there is one, calls the session and redraws.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from llmchat_tui import compare
from llmchat_tui.compare import CompareError
from llmchat_tui.models import Message
from llmchat_tui.sanitize import clean_line
from llmchat_tui.screens.compare_picker import ComparePicker
from llmchat_tui.screens.pickers import PickerDialog
from llmchat_tui.store import StoreError
from llmchat_tui.widgets.message_views import model_label

if TYPE_CHECKING:
    from llmchat_tui.screens.commands import ChatHost

log = logging.getLogger(__name__)


def _busy(screen: ChatHost) -> bool:
    if screen.session.is_generating(screen.conversation.id):
        stop = screen.keymap.label("stop")
        screen.tell(f"Wait for the reply, or stop it first ({stop}).", severity="warning")
        return True
    return False


def choose_models(screen: ChatHost) -> None:
    """Pick 2-4 models; from then on every message of the open conversation goes
    to all of them (until one reply is kept)."""
    if _busy(screen):
        return
    conversation = screen.conversation
    settings = screen.settings
    own = conversation.model or settings.model
    here = conversation.profile or settings.profile
    choices = [own] + [
        f"{name}:{table['model']}"
        for name, table in sorted(settings.profiles.items())
        if isinstance(table.get("model"), str) and table["model"] and name != here
    ]
    chosen = list(conversation.compare) or [own]

    async def done(models: list[str] | None) -> None:
        if models is None:
            return
        await start(screen, models)

    screen.app.push_screen(
        ComparePicker(
            chosen=chosen,
            choices=choices,
            profiles=settings.profiles,
            load=screen.session.client_for(conversation).list_models,
        ),
        done,
    )


async def start(screen: ChatHost, models: list[str]) -> bool:
    """Compare ``models`` in the open conversation; False (and the user told) if
    they cannot be compared."""
    conversation = screen.conversation
    try:
        warnings = screen.session.set_compare(conversation, models)
    except (CompareError, RuntimeError) as error:
        screen.tell(f"Cannot compare: {error}.", severity="warning", timeout=8)
        return False
    screen.warn_once(warnings)
    names = ", ".join(clean_line(m, 40) for m in conversation.compare)
    select = screen.keymap.label("select_messages")
    keep = screen.keymap.label("keep_reply")
    screen.tell(
        f"Comparing {names}: each message goes to all of them. "
        f"{select} then ←/→ and {keep} keeps one reply.",
        timeout=8,
    )
    await screen.redraw()
    return True


def stop_comparing(screen: ChatHost) -> None:
    """Back to the conversation's own model; the reply on screen stays."""
    conversation = screen.conversation
    if not conversation.compare:
        screen.tell("This conversation is not comparing models.", timeout=3)
        return
    if _busy(screen):
        return
    screen.session.stop_comparing(conversation)
    screen.tell(f"Compare off: messages go to {conversation.model or screen.settings.model}.")
    screen.app.call_later(screen.redraw)


async def keep(screen: ChatHost, message: Message) -> bool:
    """Keep ``message`` of the compare round on screen; the others stay as versions.
    False (and the user told why) when it could not be kept."""
    if _busy(screen):
        return False
    conversation = screen.conversation
    try:
        warnings = await screen.session.keep(conversation, message)
    except ValueError as error:
        screen.tell(str(error).capitalize() + ".", severity="warning")
        return False
    except (OSError, StoreError) as error:
        log.exception("could not save the kept reply")
        screen.tell(f"Could not save the choice: {error}", severity="error", timeout=8)
        return False
    screen.warn_once(warnings)
    others = len(conversation.siblings(message)) - 1
    older = screen.keymap.label("version_previous")
    screen.tell(
        f"Kept the reply of {clean_line(model_label(message), 40)}; the conversation "
        f"goes on with it. The other {others} stay as versions ({older} in the "
        "message list).",
        timeout=8,
    )
    await screen.redraw()
    return True


def pick_kept(screen: ChatHost) -> None:
    """Choose the reply to keep from a list (the palette's way to keep one)."""
    replies = compare.round_of(screen.conversation)
    if not replies:
        screen.tell("There are no compared replies to keep here.", timeout=4)
        return
    labels = [f"{n}. {clean_line(model_label(m), 60)}" for n, m in enumerate(replies, 1)]

    async def done(label: str | None) -> None:
        if label in labels and await keep(screen, replies[labels.index(label)]):
            screen.prompt.focus()

    screen.app.push_screen(
        PickerDialog("Keep which reply?", choices=labels, allow_free_text=False), done
    )
