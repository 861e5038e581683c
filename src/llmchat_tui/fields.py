"""Turning untrusted JSON values into typed field values.

A saved file may have been edited by hand, so loading trusts none of it: each
field goes through a *converter* that returns the value to keep, wraps it in
:class:`Converted` when it had to be changed to fit (a numeric string for a
count), or raises :class:`Unusable` when it cannot stand for the field (a word
for a number), in which case the field keeps its default. Converters never
raise anything else, whatever the input.

A class lists its fields as ``(json key, converter)`` pairs and calls
:func:`read_fields`; adding a field is adding a pair.

No Textual import here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

__all__ = [
    "Converted",
    "Converter",
    "Note",
    "Unusable",
    "count",
    "flag",
    "identifier",
    "member",
    "one_of",
    "optional",
    "read_fields",
    "seconds",
    "show",
    "text",
]

E = TypeVar("E", bound=Enum)


class Unusable(ValueError):
    """A value that cannot stand for its field; the message says what it is not."""


@dataclass(frozen=True)
class Converted:
    """A value that was turned into its field's type (loading reports the change)."""

    value: Any


#: Returns the value to keep (or a :class:`Converted`); raises :class:`Unusable`.
Converter = Callable[[Any], Any]

#: Told about each field that was converted or ignored: (key, value found, what was done).
Note = Callable[[str, Any, str], None]

_SHOWN = 40


def show(value: Any) -> str:
    """``value`` as a short line of JSON: ASCII only, so inert in a terminal."""
    try:
        shown = json.dumps(value, ensure_ascii=True, default=repr)
    except (ValueError, TypeError, RecursionError):
        shown = ascii(value)
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"


def _is_number(raw: Any) -> bool:
    return isinstance(raw, int | float) and not isinstance(raw, bool)


def text(raw: Any) -> Any:
    """A string; a number becomes its digits."""
    if isinstance(raw, str):
        return raw
    if _is_number(raw):
        try:
            return Converted(str(raw))
        except ValueError:  # an int too long to print
            pass
    raise Unusable("not text")


def identifier(raw: Any) -> Any:
    """A non-empty string; an integer becomes its digits."""
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return Converted(str(raw))
    raise Unusable("not an id")


def flag(raw: Any) -> Any:
    """A boolean; 0/1 and the strings true/false/yes/no are read as one."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return Converted(bool(raw))
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "yes", "no"):
        return Converted(raw.strip().lower() in ("true", "yes"))
    raise Unusable("not true or false")


def seconds(raw: Any) -> Any:
    """A finite number >= 0 as a float (JSON ``1`` is ``1.0``); a numeric string is read."""
    converted = False
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise Unusable("not a number") from None
        converted = True
    elif _is_number(raw):
        try:
            value = float(raw)
        except OverflowError:
            raise Unusable("too large") from None
    else:
        raise Unusable("not a number")
    if not math.isfinite(value) or value < 0:
        raise Unusable("not a finite number >= 0")
    return Converted(value) if converted else value


def count(raw: Any) -> Any:
    """An integer >= 0; a whole float or a numeric string is read as one."""
    if isinstance(raw, bool):
        raise Unusable("not a whole number")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float):
        value = _whole(raw)
    elif isinstance(raw, str):
        try:
            value = int(raw)
        except ValueError:
            try:
                value = _whole(float(raw))
            except ValueError:
                raise Unusable("not a whole number") from None
    else:
        raise Unusable("not a whole number")
    if value < 0:
        raise Unusable("negative")
    return value if type(raw) is int else Converted(value)


def _whole(number: float) -> int:
    if not (math.isfinite(number) and number.is_integer()):
        raise Unusable("not a whole number")
    return int(number)


def one_of(*choices: str) -> Converter:
    """A converter accepting exactly the strings ``choices``."""

    def convert(raw: Any) -> Any:
        if isinstance(raw, str) and raw in choices:
            return raw
        raise Unusable("not one of " + ", ".join(choices))

    return convert


def member(kind: type[E]) -> Converter:
    """A converter from an enum's string value to its member."""
    by_value = {str(item.value): item for item in kind}

    def convert(raw: Any) -> Any:
        if isinstance(raw, str) and raw in by_value:
            return by_value[raw]
        raise Unusable("not one of " + ", ".join(by_value))

    return convert


def optional(convert: Converter) -> Converter:
    """``convert``, but JSON ``null`` is a valid value (None)."""

    def convert_optional(raw: Any) -> Any:
        return None if raw is None else convert(raw)

    return convert_optional


def read_fields(
    data: Mapping[str, Any], rules: Sequence[tuple[str, Converter]], note: Note
) -> dict[str, Any]:
    """The value of each field named in ``rules`` that ``data`` holds in usable form.

    A missing key is left out silently (older files lack newer fields); so is
    an unusable value, after ``note(key, value, "…; ignored")``. A converted
    value is kept after ``note(key, value, "read as …")``. The caller's
    defaults fill what is left out.
    """
    values: dict[str, Any] = {}
    for key, convert in rules:
        if key not in data:
            continue
        raw = data[key]
        try:
            value = convert(raw)
        except Unusable as why:
            note(key, raw, f"{why}; ignored")
            continue
        if isinstance(value, Converted):
            value = value.value
            note(key, raw, f"read as {show(value)}")
        values[key] = value
    return values
