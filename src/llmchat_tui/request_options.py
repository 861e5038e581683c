"""Per-conversation request options: temperature, top_p, max_tokens, seed, reasoning effort.

Each is unset unless the user set it, and an unset option is not sent (the
server's default applies). The config's ``temperature`` is the default for
conversations that do not set their own. Read from files through the same
untrusting converters as every saved field; typed into a dialog through
:func:`parse`, which words what is wrong.

No Textual import here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from llmchat_tui.fields import Converted, Unusable

#: The values OpenAI-compatible servers accept for ``reasoning_effort``.
REASONING_EFFORTS = ("minimal", "low", "medium", "high")


class OptionError(ValueError):
    """A typed value that cannot be used, worded for the user."""


def _number(low: float, high: float) -> Callable[[Any], float]:
    def convert(raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise Unusable("not a number")
        try:
            value = float(raw)
        except (ValueError, OverflowError):
            raise Unusable("not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise Unusable(f"not between {low:g} and {high:g}")
        return value

    return convert


def _whole(low: int, high: int) -> Callable[[Any], int]:
    def convert(raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise Unusable("not a whole number")
        try:
            number = float(raw) if not isinstance(raw, int) else raw
        except ValueError:
            raise Unusable("not a whole number") from None
        if isinstance(number, float) and not (math.isfinite(number) and number.is_integer()):
            raise Unusable("not a whole number")
        value = int(number)
        if not low <= value <= high:
            raise Unusable(f"not between {low:,} and {high:,}")
        return value

    return convert


def _effort(raw: Any) -> str:
    if isinstance(raw, str) and raw.strip().lower() in REASONING_EFFORTS:
        return raw.strip().lower()
    raise Unusable("not one of " + ", ".join(REASONING_EFFORTS))


#: How each option is read: (name, converter, label in the status bar).
RULES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "temperature": (_number(0.0, 2.0), "temp"),
    "top_p": (_number(0.0, 1.0), "top_p"),
    "max_tokens": (_whole(1, 10_000_000), "max"),
    "seed": (_whole(-(2**63), 2**63 - 1), "seed"),
    "reasoning_effort": (_effort, "effort"),
}


@dataclass(frozen=True)
class RequestOptions:
    """Options sent with each request of a conversation (None: not sent)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    reasoning_effort: str | None = None

    def is_empty(self) -> bool:
        """Whether no option is set."""
        return not self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """The set options, as saved and as sent."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    def over(self, base: RequestOptions) -> RequestOptions:
        """These options, with ``base``'s where these are unset."""
        return replace(base, **self.to_dict())

    def summary(self) -> str:
        """The set options in a few words: ``temp 0.7 · max 512 · effort low``."""
        words = []
        for name, value in self.to_dict().items():
            label = RULES[name][1]
            if isinstance(value, float):
                shown = f"{value:g}"
            elif name == "max_tokens":
                shown = f"{value:,}"
            else:
                shown = str(value)
            words.append(f"{label} {shown}")
        return " · ".join(words)

    def fitted(self, room: int | None) -> RequestOptions:
        """These options with ``max_tokens`` no larger than ``room`` (the tokens left in
        the context window after the prompt), when that is known: a server that
        reports its window rejects a request whose prompt plus ``max_tokens`` exceed it.
        """
        if self.max_tokens is None or room is None or room < 1 or self.max_tokens <= room:
            return self
        return replace(self, max_tokens=room)

    @classmethod
    def read(cls, raw: Any) -> Any:
        """A field converter for saved files: an object of options.

        Unknown keys and unusable values are dropped (the result is then a
        :class:`~llmchat_tui.fields.Converted`, so loading reports it).
        """
        if not isinstance(raw, Mapping):
            raise Unusable("not an object of options")
        values: dict[str, Any] = {}
        changed = False
        for key, value in raw.items():
            rule = RULES.get(key)
            if rule is None or value is None:
                changed = changed or rule is None
                continue
            try:
                values[key] = rule[0](value)
            except Unusable:
                changed = True
                continue
            changed = changed or values[key] != value
        options = cls(**values)
        return Converted(options) if changed else options


def parse(name: str, typed: str) -> Any:
    """The value of option ``name`` typed as ``typed`` (empty: unset, None).

    Raises :class:`OptionError` with a sentence for the user.
    """
    typed = typed.strip()
    if not typed:
        return None
    convert, _label = RULES[name]
    try:
        return convert(typed)
    except Unusable as why:
        raise OptionError(f"{name} {typed!r} is {why}") from None
