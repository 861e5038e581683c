"""Keys run in the order they were typed, in the widgets people type into.

Textual hands a key to the focused widget, which inserts a character at once, but it
runs a *binding* (the widget's own, its screen's or the app's) only when the key has
bubbled up to the app. In a burst (a fast typist, ``tmux send-keys``, a terminal
flushing its buffer) the characters typed after a bound key overtake it: "Ctrl+N then
words" put the words in the old chat, "ab, Left, c" gave "abc". The text widgets call
:func:`run_binding_now` from their key handler, so a bound key runs in its place
between the characters around it.
"""

from __future__ import annotations

import weakref

from textual import events
from textual.widget import Widget
from textual.widgets import Input

#: Widgets that ran a binding and must hand the keys already queued for them back to
#: the app, which routes them once the binding's effects (a focus change) are done.
_handing_back: weakref.WeakSet[Widget] = weakref.WeakSet()
#: How many bindings each widget ran (a key handed back before the latest one may
#: have come back ahead of that binding's focus change: it goes round again).
_bindings_run: weakref.WeakKeyDictionary[Widget, int] = weakref.WeakKeyDictionary()
#: How many keys each widget handed back that have not come back yet: until they
#: have, newer keys go the same way, so none can overtake them.
_in_flight: weakref.WeakKeyDictionary[Widget, int] = weakref.WeakKeyDictionary()
#: The keys handed back: the widget that sent them, and its count of bindings run
#: when they left (a subclass would not reach ``_on_key``: Textual picks the handler
#: by the message's class name).
_handed_back: weakref.WeakKeyDictionary[events.Key, tuple[weakref.ref[Widget], int]] = (
    weakref.WeakKeyDictionary()
)


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
    back = _handed_back.pop(event, None)
    left_after: int | None = None
    if back is not None:
        # Back from its round: the widget that sent it has one fewer out (the app may
        # have routed it elsewhere, where the focus went; there it is a new key).
        origin = back[0]()
        if origin is not None:
            _in_flight[origin] = max(0, _in_flight.get(origin, 1) - 1)
        if origin is widget:
            left_after = back[1]
    returned = left_after is not None
    focused = widget.app.focused
    if focused is not None and focused is not widget:
        # The focus moved: this key and the ones behind it follow it directly.
        _handing_back.discard(widget)
        event.stop()
        event.prevent_default()
        focused.post_message(events.Key(event.key, event.character))
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


class OrderedInput(Input):
    """A one-line input whose bound keys (Tab to the next field, Ctrl+S to save) run
    where they were typed: "0.9, Tab, 256" in a burst fills two fields, not one."""

    async def _on_key(self, event: events.Key) -> None:
        if forward_if_focus_moved(self, event):
            return
        await run_binding_now(self, event)  # Input's own handler runs after (text)
