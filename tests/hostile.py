"""A corpus of hostile model outputs: terminal escapes, markup, controls."""

from __future__ import annotations

# Each entry: (name, text a server might send, what must be visible instead)
CORPUS: list[tuple[str, str, str]] = [
    ("csi-clear-screen", "before\x1b[2J\x1b[Hafter", "before␛[2J␛[Hafter"),
    ("osc52-clipboard", "copy\x1b]52;c;SE9TVElMRQ==\x07me", "copy␛]52;c;SE9TVElMRQ==␇me"),
    ("osc0-title", "t\x1b]0;PWNED-TITLE\x07x", "t␛]0;PWNED-TITLE␇x"),
    ("osc2-title-st", "t\x1b]2;PWNED2\x1b\\y", "t␛]2;PWNED2␛\\y"),
    (
        "osc8-link",
        "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
        "␛]8;;http://evil.example/␛\\click␛]8;;␛\\",
    ),
    ("dcs", "d\x1bP+q544e\x1b\\e", "d␛P+q544e␛\\e"),
    ("bare-esc-reset", "r\x1bcs", "r␛cs"),
    ("bel-backspace", "bell\x07back\x08\x08\x08space", "bell␇back␈␈␈space"),
    ("c1-csi", "c1\x9b2Jend", "c1\\x9b2Jend"),
    ("nul-del", "nul\x00del\x7fend", "nul␀del␡end"),
    ("bidi-override", "abc\u202edef", "abc⟨U+202E⟩def"),
    ("textual-action-markup", "[@click=app.quit]Click me[/]", "[@click=app.quit]Click me[/]"),
    ("textual-style-markup", "[bold red]not styled[/bold red]", "[bold red]not styled[/bold red]"),
]

ALL_TEXT = "\n\n".join(text for _name, text, _shown in CORPUS)
ALL_SHOWN = [shown for _name, _text, shown in CORPUS]
