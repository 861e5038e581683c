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

from textual import events
from textual.widget import Widget
from textual.widgets import Input


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
    return True


class OrderedInput(Input):
    """A one-line input whose bound keys (Tab to the next field, Ctrl+S to save) run
    where they were typed: "0.9, Tab, 256" in a burst fills two fields, not one."""

    async def _on_key(self, event: events.Key) -> None:
        focused = self.screen.focused
        if focused is not None and focused is not self:
            # Typed after a key that moved the focus (Tab in a burst) but queued here
            # before it ran: it belongs to the field that has the focus now.
            event.stop()
            event.prevent_default()
            focused.post_message(events.Key(event.key, event.character))
            return
        await run_binding_now(self, event)  # Input's own handler runs after (text)
