"""The files an ``@`` word in the prompt can name, shown above the prompt as it is typed.

It only shows: the prompt's Tab completes the word (and descends into a folder),
so the list is what Tab would choose from.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from llmchat_tui.sanitize import clean_line

#: The most names listed (the rest are counted).
SHOWN = 12


class PathHints(Static):
    """What ``@word`` can complete to: the matching files and folders, or that none does."""

    DEFAULT_CSS = """
    PathHints {
        height: auto;
        max-height: 3;
        padding: 0 2;
        display: none;
        color: $text-muted;
    }
    PathHints.-shown {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.word: str | None = None
        self.names: list[str] = []

    def show_for(self, word: str | None, names: list[str], complete_key: str = "Tab") -> None:
        """List ``names`` for ``@word`` (None: the cursor is not in an @ word: hide)."""
        if word == self.word and names == self.names:
            return
        self.word, self.names = word, list(names)
        if word is None:
            self.remove_class("-shown")
            return
        self.add_class("-shown")
        if not names:
            text = f"@{clean_line(word, 60)}: no file or folder of that name here"
            self.update(Content.styled(text, "$text-muted"))
            return
        listed = "  ".join(clean_line(name, 40) for name in names[:SHOWN])
        more = f"  … {len(names) - SHOWN} more" if len(names) > SHOWN else ""
        hint = f"  ({complete_key} completes)" if len(names) > 1 or names[0] != word else ""
        self.update(Content.assemble(("@ ", "bold $accent"), listed, more, (hint, "$text-muted")))
