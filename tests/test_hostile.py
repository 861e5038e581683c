"""Hostile model output is inert: shown visibly escaped, stored clean, never executed."""

from __future__ import annotations

import json

import pytest

from conftest import wait_until
from helpers import footer_text, screen_lines, screen_text, type_text
from hostile import ALL_SHOWN, ALL_TEXT, CORPUS
from llmchat_tui.sanitize import clean, clean_line, is_clean
from openai_server import Reply


@pytest.mark.parametrize(("name", "text", "shown"), CORPUS, ids=[c[0] for c in CORPUS])
def test_sanitizer_makes_each_sequence_visible(name, text, shown):
    assert clean(text) == shown
    assert is_clean(clean(text))
    assert not any(ord(ch) < 0x20 and ch not in "\n\t" for ch in clean(text))


def test_sanitizer_does_not_depend_on_chunking():
    whole = clean(ALL_TEXT)
    pieces = "".join(clean(ALL_TEXT[i : i + 3]) for i in range(0, len(ALL_TEXT), 3))
    assert pieces == whole


def test_clean_line_folds_to_one_line():
    assert clean_line("a\nb\tc\x1b[2J", 50) == "a b c␛[2J"
    assert clean_line("x" * 100, 10) == "x" * 9 + "…"


def no_raw_controls(app) -> None:
    for line in screen_lines(app):
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in line), repr(line)


async def test_hostile_reply_is_inert_in_the_app(make_app, server, data_dir):
    server.queue(
        Reply(
            content=[ALL_TEXT[i : i + 5] for i in range(0, len(ALL_TEXT), 5)],
            reasoning=["think\x1b]52;c;QUJD\x07ing"],
        )
    )
    server.queue(
        Reply(
            content=["partial\x1b[2J "],
            error_event_after=1,
            error_event={"error": {"message": "bad\x1b]0;TITLE\x07 thing"}},
        )
    )
    app = make_app()
    async with app.run_test(size=(160, 60)) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        generation = app.session.generation(app.chat.conversation.id)
        await wait_until(pilot, lambda: not generation.active, what="reply end")
        await pilot.pause()
        await pilot.click(".reasoning CollapsibleTitle")
        await pilot.pause()
        text = screen_text(app)
        for shown in (
            "before␛[2J␛[Hafter",
            "copy␛]52;c;SE9TVElMRQ==␇me",
            "[@click=app.quit]",
            "Click me[/]",
            "[bold red]not styled[/bold red]",
            "c1\\x9b2Jend",
            "think␛]52;c;QUJD␇ing",
        ):
            assert shown in text, shown
        no_raw_controls(app)
        # Clicking where the fake action markup is drawn fires nothing.
        view = app.chat.pane.views()[-1]
        await pilot.click(view, offset=(4, 2))
        await pilot.pause()
        assert app.is_running and app.screen is app.chat
        # An error message from the server is inert too.
        await type_text(pilot, "again")
        await pilot.press("enter")
        generation = app.session.generation(app.chat.conversation.id)
        await wait_until(pilot, lambda: not generation.active, what="second reply end")
        await pilot.pause()
        assert "bad␛]0;TITLE␇ thing" in footer_text(app)
        no_raw_controls(app)
        assert app.is_running
    (path,) = (data_dir / "conversations").glob("*.json")
    raw = path.read_text()
    assert "\\u001b" not in raw and "\x1b" not in raw
    saved = json.loads(raw)["messages"]
    for shown in ALL_SHOWN:
        assert shown in saved[1]["content"]
