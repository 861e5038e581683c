"""The key order (widgets/ordered_keys.py) as widget logic, made deterministic: a widget
is held in the middle of its keys, and the test looks at where the keys typed after a
focus move go. The pty tests (test_find_pty, test_keys_pty, test_input_pty) drive the
same rule through the installed app with real bursts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from textual import events
from textual.app import ComposeResult

from llmchat_tui.widgets import ordered_keys
from llmchat_tui.widgets.ordered_keys import KeysInOrder, OrderedInput


class SlowInput(OrderedInput):
    """Takes no key until ``go`` is set (a widget busy while keys queue up for it)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.go = asyncio.Event()

    async def _on_key(self, event: events.Key) -> None:
        await self.go.wait()


class TwoInputs(KeysInOrder):
    """Two boxes in an app that routes keys as ChatApp does (through KeysInOrder)."""

    def compose(self) -> ComposeResult:
        yield SlowInput(id="old")
        yield OrderedInput(id="new")


def type_(app: TwoInputs, text: str) -> None:
    for char in text:
        app.post_message(events.Key(char, char))


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def wal_queued_then_focus_moved(app: TwoInputs) -> tuple[SlowInput, OrderedInput]:
    """ "wal" queued for the busy old box, then the focus moved to the new one."""
    old, new = app.query_one("#old", SlowInput), app.query_one("#new", OrderedInput)
    old.focus()
    await until(lambda: app.focused is old, "the old box focused")
    type_(app, "wal")
    await until(lambda: ordered_keys._queued.get(old) == 3, "three keys queued")
    new.focus()
    await until(lambda: app.focused is new, "the focus moved")
    return old, new


async def test_keys_after_a_focus_move_wait_for_those_queued_for_the_old_widget() -> None:
    app = TwoInputs()
    async with app.run_test():
        try:
            old, new = await wal_queued_then_focus_moved(app)
            type_(app, "rus")  # typed later, while the focus is on the new one
            await until(
                lambda: bool(new.value) or len(ordered_keys._gates[app].waiting) == 3,
                "the new keys routed",
            )
            assert new.value == "", "newer keys went ahead of the ones still queued"
            old.go.set()  # the old box passes its keys on to the focus
            await until(lambda: new.value == "walrus", "the word in order")
            assert old.value == ""
        finally:
            app.query_one("#old", SlowInput).go.set()  # a failing test ends, not waits


async def test_a_widget_that_never_takes_its_keys_does_not_stop_the_keyboard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ordered_keys, "HOLD_LIMIT_S", 0.3)
    app = TwoInputs()
    async with app.run_test():
        try:
            _old, new = await wal_queued_then_focus_moved(app)
            type_(app, "x")
            # The old box never gets round to its keys: the new key goes on after the
            # hold limit, with no other key pressed to wake the app.
            await until(lambda: new.value == "x", "the waiting key let through")
            type_(app, "yz")  # and the keys after it go straight on
            await until(lambda: new.value == "xyz", "later keys")
        finally:
            app.query_one("#old", SlowInput).go.set()  # a failing test ends, not waits
