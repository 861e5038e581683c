"""Building the app: the one place that wires settings, the store, clients and the
session into a :class:`~llmchat_tui.app.ChatApp`.

The command line, the tests, the benchmarks and the screenshot script all build
the app here, so what they run is what users run.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from llmchat_tui.config import OPENAI_BASE_URL, ConfigError, Settings
from llmchat_tui.config_target import Target, resolve_target
from llmchat_tui.llm import ChatClient
from llmchat_tui.logs import REDACT
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Skipped, Store

if TYPE_CHECKING:
    from llmchat_tui.app import ChatApp

ClientFactory = Callable[[Settings], ChatClient]


def make_client(settings: Settings) -> ChatClient:
    """The client for ``settings``' target: its base URL and only the key paired with it.

    The one factory for the start-up client and every profile the app moves
    a conversation to (``ChatSession(client_factory=make_client)``). A failing
    ``api_key_command`` leaves the client without a key and its 401 hint says
    why (the command's output is never shown).
    """
    try:
        target = resolve_target(settings)
    except ConfigError as error:
        logging.getLogger("llmchat_tui").warning("profile key: %s", error)
        target = replace(resolve_target(settings, run_command=False), key_hint=str(error))
    return client_for_target(target, settings)


def client_for_target(target: Target, settings: Settings) -> ChatClient:
    """A client for a resolved target (its key is added to the log's redaction)."""
    if target.api_key:
        REDACT.secrets.add(target.api_key)
    return ChatClient(
        base_url=target.base_url,
        api_key=target.api_key,
        stream_usage=target.stream_usage,
        connect_timeout=settings.connect_timeout,
        stall_timeout=settings.stall_timeout,
        key_hint=target.key_hint,
    )


def build_session(
    settings: Settings,
    store: Store,
    *,
    target: Target | None = None,
    clock: Callable[[], float] | None = None,
    client_factory: ClientFactory = make_client,
) -> ChatSession:
    """The session for ``settings`` on an opened ``store``: the start-up client talks
    to the settings' target with only its paired key (ConfigError when the key
    command fails); other profiles get theirs from ``client_factory``.

    Used by the app and by ``llmchat-tui ask``, so both send the same requests.
    ``target``: the settings' target when already resolved.
    """
    if target is None:
        target = resolve_target(settings)
    return ChatSession(
        settings,
        store,
        client_for_target(target, settings),
        client_factory=client_factory,
        clock=clock,
    )


def build_app(
    settings: Settings,
    store: Store,
    *,
    skipped: list[Skipped] | None = None,
    warnings: list[str] | None = None,
    first_run: bool | None = None,
    probe_servers: list[tuple[str, int]] | None = None,
    clock: Callable[[], float] | None = None,
    client_factory: ClientFactory = make_client,
    compare: list[str] | None = None,
) -> ChatApp:
    """The app for ``settings`` on an opened ``store``.

    The start-up client talks to the settings' target with only its paired key;
    other profiles get theirs from ``client_factory`` when a conversation moves
    there. ``first_run`` defaults to "nothing configured": no key and the
    default OpenAI URL. The target's warnings (a key withheld, a key in the
    clear) are shown at start with ``warnings``. Raises ConfigError when the
    key command fails. ``compare``: the new chat on screen sends each message to
    these models (``[profile:]model`` labels, already checked).
    """
    from llmchat_tui.app import ChatApp

    # The opened store's summaries live as long as the app: out of the cyclic
    # garbage collector's reach, so building the sidebar's rows does not set
    # off full collections that walk all of them (100,000: benchmark B11).
    gc.freeze()
    target = resolve_target(settings)
    session = build_session(
        settings, store, target=target, clock=clock, client_factory=client_factory
    )
    if first_run is None:
        first_run = not target.key_source and target.base_url == OPENAI_BASE_URL
    app = ChatApp(
        session,
        skipped=skipped,
        warnings=[*(warnings or []), *target.warnings],
        first_run=first_run,
        probe_servers=probe_servers,
    )
    if compare:
        app.warnings += session.set_compare(app.chat.conversation, compare)
    return app
