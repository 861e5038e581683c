"""The one gate for text that came from outside (servers, files, users).

Every character that could drive a terminal is made visible instead of being
passed through: ESC becomes ``␛``, BEL ``␇``, backspace ``␈`` and so on (the
Unicode "control pictures"), C1 controls become ``\\x9b``-style text, DEL
becomes ``␡``. Carriage returns are dropped (``\\r\\n`` becomes ``\\n``).
Newline and tab are kept. Because each character is mapped on its own, the
result does not depend on how a stream was cut into chunks, and an escape
sequence split across two deltas is as inert as a whole one.

Bidirectional-override characters (the "Trojan Source" family) are shown as
``⟨U+202E⟩`` so text cannot visually reorder itself.

No Textual import here.
"""

from __future__ import annotations

_TABLE: dict[int, str | None] = {}
for _code in range(0x20):
    if _code not in (0x09, 0x0A, 0x0D):
        _TABLE[_code] = chr(0x2400 + _code)
_TABLE[0x0D] = None
_TABLE[0x7F] = "\u2421"
for _code in range(0x80, 0xA0):
    _TABLE[_code] = f"\\x{_code:02x}"
for _code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
    _TABLE[_code] = f"⟨U+{_code:04X}⟩"

_LINE_TABLE = dict(_TABLE)
_LINE_TABLE[0x09] = " "
_LINE_TABLE[0x0A] = " "


def clean(text: str) -> str:
    """Return ``text`` with every terminal control made visible and inert.

    Cost is one ``str.translate``: linear, and safe to call per stream delta.
    """
    return text.translate(_TABLE)


def clean_line(text: str, limit: int | None = None) -> str:
    """Like :func:`clean` for one-line places (titles, model names, status).

    Newlines and tabs become spaces, runs of spaces fold, and the result is
    cut to ``limit`` characters with an ellipsis.
    """
    line = " ".join(text.translate(_LINE_TABLE).split())
    if limit is not None and len(line) > limit:
        line = line[: max(limit - 1, 0)].rstrip() + "…"
    return line


def normalize_newlines(text: str) -> str:
    """``text`` with every CRLF and lone CR turned into LF.

    Terminals send pasted line breaks as CR (xterm, tmux) or CRLF; every way text
    enters the prompt goes through this once, so what is shown, saved and sent has
    the user's line breaks (:func:`clean` would otherwise drop the CRs and glue
    the lines together).
    """
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_clean(text: str) -> bool:
    """True when ``text`` holds nothing :func:`clean` would change."""
    return clean(text) == text


REDACTED = "[redacted API key]"


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (an API key) replaced."""
    if not secret or len(secret) < 6 or not text:
        return text
    return text.replace(secret, REDACTED)
