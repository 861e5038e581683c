"""Keys run in the order they were typed, in the widgets people type into.

Textual hands a key to the focused widget, which inserts a character at once, but it
runs a *binding* (the widget's own, its screen's or the app's) only when the key has
bubbled up to the app. In a burst (a fast typist, ``tmux send-keys``, a terminal
flushing its buffer) the characters typed after a bound key overtake it: "Ctrl+N then
words" put the words in the old chat, "ab, Left, c" gave "abc". The text widgets call
:func:`run_binding_now` from their key handler, so a bound key runs in its place
between the characters around it.

A key that moves the focus leaves the keys typed after it queued for the old widget,
which passes them on; meanwhile the app would hand newer keys straight to the new one,
and they could arrive first ("walrus" in the find box as "ruswal"). So the app routes
every key through :func:`route_key`: a key waits while another widget still holds older
keys (queued for it, or handed back and on their way round), and goes on in order once
they have moved on.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from textual import events
from textual.app import App
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input

#: Seconds a key may wait behind older ones before it goes on regardless: a widget
#: taken away with keys still queued for it never passes them on, and the keyboard
#: must not stop for that.
HOLD_LIMIT_S = 2.0

#: Widgets that ran a binding and must hand the keys already queued for them back to
#: the app, which routes them once the binding's effects (a focus change) are done.
_handing_back: weakref.WeakSet[Widget] = weakref.WeakSet()
#: How many bindings each widget ran (a key handed back before the latest one may
#: have come back ahead of that binding's focus change: it goes round again).
_bindings_run: weakref.WeakKeyDictionary[Widget, int] = weakref.WeakKeyDictionary()
#: How many keys each widget handed back that have not been taken yet (where the app
#: routed them): until they have, newer keys go the same way, so none can overtake them.
_in_flight: weakref.WeakKeyDictionary[Widget, int] = weakref.WeakKeyDictionary()
#: The keys handed back: the widget that sent them, and its count of bindings run
#: when they left (a subclass would not reach ``_on_key``: Textual picks the handler
#: by the message's class name).
_handed_back: weakref.WeakKeyDictionary[events.Key, tuple[weakref.ref[Widget], int]] = (
    weakref.WeakKeyDictionary()
)
#: How many keys are queued for each ordered widget that it has not looked at yet.
_queued: weakref.WeakKeyDictionary[Widget, int] = weakref.WeakKeyDictionary()
#: The keys counted in ``_queued`` (only those are counted off again).
_counted: weakref.WeakSet[events.Key] = weakref.WeakSet()

Deliver = Callable[[events.Key], Awaitable[None]]


class TakesOrderedKeys:
    """Marks a widget whose ``_on_key`` starts with :func:`forward_if_focus_moved`
    (so the keys queued for it are counted, and counted off as it takes them)."""


class _Gate:
    """One app's keys that wait behind older keys another widget still holds."""

    def __init__(self, app: App[Any], deliver: Deliver) -> None:
        self.app = app
        self.deliver = deliver
        self.waiting: deque[tuple[events.Key, float]] = deque()
        self.timer: Timer | None = None
        self.draining = False

    async def send(self, event: events.Key) -> None:
        """Hand ``event`` to the app's usual routing (priority bindings, then the
        focused widget), counting it for the widget it was queued for."""
        await self.deliver(event)
        focused = self.app.focused
        if event.is_forwarded and isinstance(focused, TakesOrderedKeys):
            _count(focused, event)

    async def drain(self) -> None:
        """Send on the waiting keys, oldest first, while nothing older is held elsewhere."""
        if self.draining:  # an await below let another drain start: that one goes on
            return
        self.draining = True
        try:
            while self.waiting:
                since = self.waiting[0][1]
                if _held_elsewhere(self.app.focused):
                    if time.monotonic() - since < HOLD_LIMIT_S:
                        self._check_later(since)
                        return
                    _queued.clear()  # a widget that never took its keys: go on
                    _in_flight.clear()
                await self.send(self.waiting.popleft()[0])
        finally:
            self.draining = False

    def _check_later(self, since: float) -> None:
        if self.timer is None:
            delay = max(0.05, since + HOLD_LIMIT_S - time.monotonic())
            self.timer = self.app.set_timer(delay, self._time_up)

    async def _time_up(self) -> None:
        self.timer = None
        await self.drain()


_gates: weakref.WeakKeyDictionary[App[Any], _Gate] = weakref.WeakKeyDictionary()


async def route_key(app: App[Any], event: events.Key, deliver: Deliver) -> None:
    """Route a key from the terminal (or one handed back) in its place in the order.

    ``deliver`` is the app's usual routing (kept from the first call: waiting keys
    are also sent on later, from a timer or a widget's task). A key handed back goes
    on at once (it is older than any key waiting); a new one waits until no other
    widget holds older keys (the one it goes to may: they are queued in order there).
    """
    gate = _gates.get(app)
    if gate is None:
        gate = _gates[app] = _Gate(app, deliver)
    back = _handed_back.get(event)
    if back is not None:
        await gate.send(event)
        if event not in _counted:  # taken by a priority binding or a plain widget
            _came_back(back)
    else:
        gate.waiting.append((event, time.monotonic()))
    await gate.drain()


def _held_elsewhere(target: Widget | None) -> bool:
    """Whether a widget other than ``target`` still holds keys typed earlier."""
    for counts in (_queued, _in_flight):
        for widget, count in counts.items():
            if count > 0 and widget is not target and widget.is_attached:
                return True
    return False


def _came_back(back: tuple[weakref.ref[Widget], int]) -> None:
    """A key handed back has been taken: its sender has one fewer out."""
    origin = back[0]()
    if origin is not None:
        _in_flight[origin] = max(0, _in_flight.get(origin, 1) - 1)


def _count(widget: Widget, event: events.Key) -> None:
    _queued[widget] = _queued.get(widget, 0) + 1
    _counted.add(event)


def _post(widget: Widget, event: events.Key) -> None:
    """Queue ``event`` for ``widget`` directly (it is older than any key waiting)."""
    if widget.post_message(event) and isinstance(widget, TakesOrderedKeys):
        _count(widget, event)


def _taken(widget: Widget, event: events.Key) -> None:
    """``widget`` has taken ``event`` off its queue: when it holds no more, the keys
    waiting behind may go on."""
    if event not in _counted:
        return
    _counted.discard(event)
    left = _queued[widget] = max(0, _queued.get(widget, 1) - 1)
    gate = _gates.get(widget.app)
    if left == 0 and gate is not None and gate.waiting:
        widget.app.call_later(gate.drain)


async def run_binding_now(widget: Widget, event: events.Key) -> bool:
    """Run the binding ``event`` stands for right now, if any; True if one ran.

    Printable keys are left to the widget (they are text), and so are priority
    bindings: the app already offered the key to those before handing it on.
    """
    if event.is_printable:
        return False
    active = widget.screen.active_bindings.get(event.key)
    if active is None or active.binding.priority or not active.enabled:
        return False
    if not await widget.app.run_action(active.binding.action, active.node):
        return False
    event.stop()
    event.prevent_default()
    # Widget.focus() takes effect later (the app runs it from its own queue), after
    # the keys typed next were already queued here: they go back through the app.
    _handing_back.add(widget)
    _bindings_run[widget] = _bindings_run.get(widget, 0) + 1
    return True


def forward_if_focus_moved(widget: Widget, event: events.Key) -> bool:
    """Hand ``event`` to the widget that has the focus now, if that is another one;
    True if it did.

    A key typed right after one that moved the focus (Ctrl+F then a word, Tab then a
    value, a key that opens a dialog) was queued for the old widget before the move
    ran: it belongs where the focus went.
    """
    _taken(widget, event)
    back = _handed_back.pop(event, None)
    if back is not None:
        # Back from its round: the widget that sent it has one fewer out (the app may
        # have routed it elsewhere, where the focus went; there it is a new key).
        _came_back(back)
    left_after = back[1] if back is not None and back[0]() is widget else None
    returned = left_after is not None
    focused = widget.app.focused
    if focused is not None and focused is not widget and not _in_flight.get(widget, 0):
        # The focus moved: this key and the ones behind it follow it directly (unless
        # keys this widget handed back are still on their way round: it goes after).
        _handing_back.discard(widget)
        event.stop()
        event.prevent_default()
        _post(focused, events.Key(event.key, event.character))
        return True
    bindings = _bindings_run.get(widget, 0)
    if returned and left_after == bindings:
        # The app routed it here after everything the last binding queued (its
        # focus change): it and the keys behind it are in order again.
        _handing_back.discard(widget)
        return False
    if returned or widget in _handing_back or _in_flight.get(widget, 0):
        # Queued before a binding's effects are done (or behind keys that are): round
        # the app's queue, after them. A key back from before the latest binding (one
        # an earlier key ran on its return) goes round again.
        event.stop()
        event.prevent_default()
        again = events.Key(event.key, event.character)
        _handed_back[again] = (weakref.ref(widget), bindings)
        _in_flight[widget] = _in_flight.get(widget, 0) + 1
        widget.app.post_message(again)
        return True
    return False


class KeysInOrder(App[Any]):
    """The app side: every key from the terminal goes through :func:`route_key` (it
    waits while another widget still holds keys typed before it)."""

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            await route_key(self, event, self._route_key_now)
            return
        await super().on_event(event)

    async def _route_key_now(self, event: events.Key) -> None:
        await super().on_event(event)


class OrderedInput(TakesOrderedKeys, Input):
    """A one-line input whose bound keys (Tab to the next field, Ctrl+S to save) run
    where they were typed: "0.9, Tab, 256" in a burst fills two fields, not one."""

    async def _on_key(self, event: events.Key) -> None:
        if forward_if_focus_moved(self, event):
            return
        await run_binding_now(self, event)  # Input's own handler runs after (text)
