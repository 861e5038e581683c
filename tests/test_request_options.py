"""Per-conversation request options: read, saved, edited in a dialog, sent only when set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import wait_until
from helpers import finished, screen_text, send
from llmchat_tui.models import Conversation
from llmchat_tui.request_options import OptionError, RequestOptions, parse
from llmchat_tui.screens.options_dialog import RequestOptionsDialog
from llmchat_tui.store import Store, decode_conversation, encode_conversation
from openai_server import OpenAIServer, Reply


def test_typed_values_are_read_or_named() -> None:
    assert parse("temperature", " 0.7 ") == 0.7
    assert parse("max_tokens", "512") == 512
    assert parse("seed", "-3") == -3
    assert parse("reasoning_effort", "LOW") == "low"
    assert parse("top_p", "") is None
    with pytest.raises(OptionError, match=r"temperature '3' is not between 0 and 2"):
        parse("temperature", "3")
    with pytest.raises(OptionError, match=r"max_tokens '1\.5' is not a whole number"):
        parse("max_tokens", "1.5")
    with pytest.raises(OptionError, match="top_p 'nan' is not between"):
        parse("top_p", "nan")


def test_own_options_win_over_the_config_and_only_set_ones_are_sent() -> None:
    own = RequestOptions(max_tokens=100, reasoning_effort="high")
    merged = own.over(RequestOptions(temperature=0.2, max_tokens=9))
    assert merged.to_dict() == {"temperature": 0.2, "max_tokens": 100, "reasoning_effort": "high"}
    assert merged.summary() == "temp 0.2 · max 100 · effort high"
    assert RequestOptions().is_empty() and RequestOptions().summary() == ""


def test_max_tokens_never_asks_for_more_than_the_window_has_left() -> None:
    options = RequestOptions(max_tokens=8000)
    assert options.fitted(3000).max_tokens == 3000
    assert options.fitted(None).max_tokens == 8000
    assert options.fitted(9000).max_tokens == 8000
    assert RequestOptions().fitted(10).max_tokens is None


def test_options_round_trip_through_a_file_and_bad_ones_are_dropped() -> None:
    conversation = Conversation(options=RequestOptions(temperature=0.5, seed=7))
    raw = encode_conversation(conversation)
    assert json.loads(raw)["options"] == {"temperature": 0.5, "seed": 7}
    assert decode_conversation(raw, conversation.id).options == conversation.options

    data = json.loads(raw)
    data["options"] = {"temperature": "hot", "top_p": 0.9, "colour": "blue", "seed": "12"}
    issues: list = []
    loaded = decode_conversation(json.dumps(data).encode(), conversation.id, issues)
    assert loaded.options == RequestOptions(top_p=0.9, seed=12)
    assert [issue.field for issue in issues] == ["options"]


def test_a_conversation_without_options_is_written_as_before() -> None:
    assert b'"options"' not in encode_conversation(Conversation())


async def test_the_dialog_sets_options_that_are_saved_shown_and_sent(
    make_app, server: OpenAIServer, data_dir: Path
) -> None:
    server.queue(Reply.text("First."), Reply.text("Second."))
    app = make_app(temperature=0.3)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "before")
        await finished(pilot)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, RequestOptionsDialog))
        await pilot.press(*"0.9", "tab", "tab", *"lots")
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: "max_tokens 'lots' is not a whole number" in screen_text(app)
        )
        assert isinstance(app.screen, RequestOptionsDialog), "a wrong value keeps the dialog"
        assert app.focused is app.screen.query_one("#option-max_tokens")
        await pilot.press(*"256")  # the wrong value is selected: typing replaces it
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, RequestOptionsDialog))
        await wait_until(pilot, lambda: "(temp 0.9 · max 256)" in screen_text(app))
        await send(pilot, "after")
        await finished(pilot)
        conversation_id = app.chat.conversation.id
    first, second = (request.body for request in server.chat_requests)
    assert first["temperature"] == 0.3 and "max_tokens" not in first
    assert second["temperature"] == 0.9 and second["max_tokens"] == 256
    assert "top_p" not in second and "seed" not in second
    saved = json.loads((data_dir / "conversations" / f"{conversation_id}.json").read_text())
    assert saved["options"] == {"temperature": 0.9, "max_tokens": 256}
    reopened = Store(data_dir)
    reopened.open()
    assert reopened.load(conversation_id).options == RequestOptions(temperature=0.9, max_tokens=256)


async def test_clear_all_goes_back_to_the_servers_defaults(make_app, server: OpenAIServer) -> None:
    server.queue(Reply.text("ok"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.chat.conversation.options = RequestOptions(seed=4, reasoning_effort="low")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, RequestOptionsDialog))
        assert app.screen.query_one("#option-seed").value == "4"
        await pilot.click("#clear")
        await wait_until(pilot, lambda: app.chat.conversation.options.is_empty())
        await send(pilot, "hi")
        await finished(pilot)
    body = server.chat_requests[0].body
    assert "seed" not in body and "reasoning_effort" not in body and "temperature" not in body
