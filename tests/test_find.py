"""Finding text in a conversation (the core, without Textual)."""

from __future__ import annotations

from llmchat_tui.find import find, position
from llmchat_tui.models import Message


def test_every_occurrence_in_order_ignoring_case() -> None:
    first = Message(role="user", content="Otters? OTTERS! otters.")
    second = Message(role="assistant", content="No match here.")
    third = Message(role="assistant", content="An otter holds hands.")
    found = find([first, second, third], "  otter ")
    assert [(m.message, m.start) for m in found] == [
        (first, 0),
        (first, 8),
        (first, 16),
        (third, 3),
    ]
    assert position(found, 0) == "1/4" and position(found, 3) == "4/4"


def test_nothing_for_an_empty_query_or_no_match() -> None:
    messages = [Message(role="user", content="aaa")]
    assert find(messages, "   ") == []
    assert find(messages, "b") == []
    assert position([], None) == "0/0"
    assert [m.start for m in find(messages, "aa")] == [0], "matches do not overlap"


def test_text_whose_case_folding_changes_length() -> None:
    message = Message(role="user", content="Die Straße ist lang. STRASSE")
    assert [m.start for m in find([message], "straße")] == [4]
