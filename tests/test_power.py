"""Everyday power features through the real app and the real SDK."""

from __future__ import annotations

import json

import helpers
from conftest import wait_until
from helpers import Toasts, finished, screen_text, type_text
from llmchat_tui.screens.help import HelpScreen
from llmchat_tui.screens.pickers import PickerDialog, SystemPromptDialog
from openai_server import OpenAIServer, Reply


async def send(pilot, text):
    """Send ``text`` and wait for the whole reply."""
    await helpers.send(pilot, text)
    return await helpers.finished(pilot)


def on_screen(app, kind):
    return isinstance(app.screen, kind)


async def test_model_picker_lists_server_models_and_the_choice_is_used(make_app, server, data_dir):
    server.models = ["llama3.2", "qwen2.5:7b", "gpt-4o-mini"]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "hi")
        await pilot.press("f3")
        await wait_until(pilot, lambda: on_screen(app, PickerDialog))
        await wait_until(pilot, lambda: "3 available" in screen_text(app), what="list loaded")
        await pilot.press(*"qwen", "enter")
        await wait_until(pilot, lambda: app.chat.conversation.model == "qwen2.5:7b")
        await send(pilot, "again")
    assert server.chat_requests[-1].body["model"] == "qwen2.5:7b"
    (path,) = (data_dir / "conversations").glob("*.json")
    assert json.loads(path.read_text())["model"] == "qwen2.5:7b"


async def test_the_model_picker_draws_a_few_hundred_of_fifty_thousand(make_app, server):
    server.models = [f"vendor-{n // 100}/model-{n:05d}" for n in range(50_000)]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        await wait_until(pilot, lambda: on_screen(app, PickerDialog))
        await wait_until(
            pilot,
            lambda: "Showing 300 of 50,000: type to narrow" in screen_text(app),
            what="the list loaded, capped",
        )
        assert app.screen.query_one("#choices").option_count == 300
        await pilot.press(*"model-4999")
        await wait_until(pilot, lambda: app.screen.query_one("#choices").option_count == 10)
        assert "50,000 available" in screen_text(app)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.chat.conversation.model == "vendor-499/model-49991")


async def test_model_picker_takes_free_text_when_listing_fails(make_app, server):
    server.models_status = 500
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        await wait_until(pilot, lambda: "Could not list them" in screen_text(app))
        await pilot.press(*"my-model", "enter")
        await wait_until(pilot, lambda: app.chat.conversation.model == "my-model")


async def test_switching_provider_profile_sends_to_the_other_server(make_app, server):
    with OpenAIServer() as other:
        other.queue(Reply.text("From the other server."))
        profiles = {"local": {"base_url": other.base_url, "model": "llama3.2"}}
        app = make_app(profiles=profiles)

        from llmchat_tui.llm import ChatClient

        app.session.client_factory = lambda s: ChatClient(base_url=s.base_url, api_key="k")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("f4")
            await wait_until(pilot, lambda: on_screen(app, PickerDialog))
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.chat.conversation.profile == "local")
            assert app.chat.conversation.model == "llama3.2"
            await send(pilot, "hello")
            assert "From the other server." in screen_text(app)
        assert other.chat_requests[0].body["model"] == "llama3.2"
        assert server.chat_requests == []


async def test_system_prompt_editor_with_named_prompts(make_app, server):
    app = make_app(prompts={"pirate": "Talk like a pirate."})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_until(pilot, lambda: on_screen(app, SystemPromptDialog))
        app.screen.query_one("#named-prompts").focus()
        await pilot.press("enter")
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: app.chat.conversation.system_prompt == "Talk like a pirate."
        )
        await send(pilot, "hi")
    assert server.chat_requests[0].body["messages"][0] == {
        "role": "system",
        "content": "Talk like a pirate.",
    }


async def test_copy_message_and_code_blocks(make_app, server):
    server.queue(
        Reply.text("Two blocks:\n\n```py\nprint(1)\n```\n\n```sh\necho \x1b]52;c;QQ==\x07\n```\n")
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "code please")
        await pilot.press("ctrl+up")
        assert app.chat.pane.has_focus and app.chat.pane.selected_message.role == "assistant"
        await pilot.press("c")
        assert app.clipboard.startswith("Two blocks:")
        await pilot.press("b")
        assert app.clipboard == "print(1)"
        await pilot.press("b")
        assert app.clipboard == "echo ␛]52;c;QQ==␇"  # sanitized: no raw escape copied
        await pilot.press("up", "c")
        assert app.clipboard == "code please"
        await pilot.press("escape")
        assert app.chat.prompt.has_focus


async def test_edit_an_earlier_message_makes_a_new_branch(make_app, server, data_dir):
    server.queue(Reply.text("A1"), Reply.text("A2"), Reply.text("A1 again"), Reply.text("A3"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "first")
        await send(pilot, "second")
        await pilot.press("ctrl+up", "up", "up", "up", "e")
        assert app.chat.prompt.text == "first"
        prompt = app.chat.prompt
        assert "Editing your message" in str(prompt.border_title)
        assert "its 3 later message(s) stay" in str(prompt.border_subtitle)
        assert "editing" in app.chat.status.build().plain
        app.chat.prompt.load("first, edited")
        await pilot.press("enter")
        generation = app.session.generation(app.chat.conversation.id)
        await wait_until(pilot, lambda: not generation.active)
        conversation = app.chat.conversation
        assert [m.content for m in conversation.messages] == ["first, edited", "A1 again"]
        assert "‹2/2›" in screen_text(app)
        # The old version is a sibling: Left on it in the message list shows that branch.
        await pilot.press("ctrl+up", "up", "left")
        await wait_until(pilot, lambda: len(conversation.messages) == 4, what="old branch")
        assert [m.content for m in conversation.messages] == ["first", "A1", "second", "A2"]
        assert "‹1/2›" in screen_text(app)
        await pilot.press("escape")
        await send(pilot, "third")
        await wait_until(pilot, lambda: not app.session.generation(conversation.id).active)
    assert server.chat_requests[2].body["messages"] == [
        {"role": "user", "content": "first, edited"}
    ]
    # The request after switching back sends the branch on screen only.
    assert [m["content"] for m in server.chat_requests[3].body["messages"]] == [
        "first",
        "A1",
        "second",
        "A2",
        "third",
    ]
    (path,) = (data_dir / "conversations").glob("*.json")
    saved = json.loads(path.read_text())
    contents = [m["content"] for m in saved["messages"]]
    assert contents == ["first", "A1", "second", "A2", "first, edited", "A1 again", "third", "A3"]
    assert saved["current_id"] == saved["messages"][-1]["id"]


async def test_delete_a_message(make_app, server, data_dir):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "keep me")
        await send(pilot, "delete me")
        await pilot.press("ctrl+up", "up", "delete")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmDialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: len(app.chat.conversation.messages) == 3)
    (path,) = (data_dir / "conversations").glob("*.json")
    contents = [m["content"] for m in json.loads(path.read_text())["messages"]]
    assert "delete me" not in contents and "keep me" in contents


async def test_export_from_the_app_shows_the_path(make_app, server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    toasts = Toasts()
    async with app.run_test(size=(120, 40), message_hook=toasts) as pilot:
        await send(pilot, "export me")
        await pilot.press("f8")
        await pilot.pause()
        await pilot.press("shift+f8")
        await pilot.pause()
        shown = " ".join(screen_text(app).split())
    (markdown,) = tmp_path.glob("*.md")
    (as_json,) = tmp_path.glob("*.json")
    assert "export me" in markdown.read_text() and "## You" in markdown.read_text()
    assert json.loads(as_json.read_text())["messages"][0]["content"] == "export me"
    assert shown
    told = toasts.messages
    assert any(m.startswith(f"Exported to {tmp_path}") for m in told), told
    assert oct(markdown.stat().st_mode & 0o777) == "0o600"


async def test_oldest_messages_are_left_out_when_the_context_is_full(make_app, server):
    app = make_app(context_windows={"gpt-4o-mini": 120})
    toasts = Toasts()
    async with app.run_test(size=(120, 40), message_hook=toasts) as pilot:
        for index in range(4):
            await send(pilot, f"message number {index} " + "word " * 12)
        await wait_until(
            pilot,
            lambda: "oldest left out" in app.chat.status.build().plain,
            what="warning before sending",
        )
        assert app.chat.pane.query(".-left-out")
        await send(pilot, "last")
        assert any(
            "oldest message(s) were left out to fit the 120-token context" in m
            for m in toasts.messages
        ), toasts.messages
    request = server.chat_requests[-1].body["messages"]
    assert request[-1] == {"role": "user", "content": "last"}
    assert not any("message number 0" in m["content"] for m in request)
    assert request[0]["role"] == "user"  # a pair is never split at the front


async def test_cost_is_shown_when_a_price_is_known(make_app, server):
    server.queue(
        Reply.text(
            "ok",
            usage={
                "prompt_tokens": 1_000_000,
                "completion_tokens": 1_000_000,
                "total_tokens": 2_000_000,
            },
        )
    )
    app = make_app(prices={"gpt-4o-mini": {"input": 0.15, "output": 0.6}})
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "how much")
        assert "$0.7500" in app.chat.status.build().plain
        assert "$0.7500" in screen_text(app)


async def test_help_screen_lists_every_action(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: on_screen(app, HelpScreen))
        await pilot.pause()
        text = screen_text(app)
        assert "Stop reply" in text and "Regenerate" in text
        for words in ("Export Markdown", "Copy code", "Model", "System prompt", "Provider"):
            assert words in app.screen.key_table, words
        await pilot.press("escape")
        await wait_until(pilot, lambda: not on_screen(app, HelpScreen))


async def test_palette_lists_the_apps_actions(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)):
        titles = [command.title for command in app.get_system_commands(app.screen)]
    for title in (
        "New chat",
        "Pick model",
        "Switch provider",
        "Edit system prompt",
        "Export as Markdown",
        "Export as JSON",
        "Select messages",
        "Keys",
    ):
        assert title in titles


async def test_keymap_from_config_and_theme_is_remembered(make_app, data_dir):
    app = make_app(keymap={"new_conversation": "alt+n"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "alt+n New chat" in screen_text(app)
        app.theme = "nord"
        await pilot.pause()
    assert json.loads((data_dir / "ui-state.json").read_text())["theme"] == "nord"
    app = make_app()
    async with app.run_test(size=(120, 40)):
        assert app.theme == "nord"


async def test_shift_tab_from_the_prompt_reaches_the_messages(make_app, server):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "hello")
        assert app.chat.prompt.has_focus
        await pilot.press("shift+tab")
        assert app.chat.pane.has_focus
        assert app.chat.pane.selected is not None


async def test_replies_are_written_to_the_tee_file_as_they_stream(make_app, server, tmp_path):
    tee = tmp_path / "replies.md"
    server.queue(Reply.tokens(400, delay=0.01), Reply(content=["cut ", "short"], cut_after=1))
    app = make_app(tee_file=str(tee))
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "long one")
        await pilot.press("enter")
        generation = app.session.generation(app.chat.conversation.id)
        # Written while the reply is still streaming (flushed on the 1 s timer).
        await wait_until(
            pilot,
            lambda: tee.exists() and len(tee.read_text()) > 60 and generation.active,
            what="text in the tee file mid-stream",
        )
        await wait_until(pilot, lambda: not generation.active)
        await send(pilot, "again")
    text = tee.read_text()
    assert text.count("## long one · gpt-4o-mini · ") == 2
    assert generation.text() in text
    assert "cut \n\n*(reply error)*" in text
    assert oct(tee.stat().st_mode & 0o777) == "0o600"


async def test_code_blocks_follow_a_light_or_dark_theme(make_app, server):
    server.queue(Reply.text("Code:\n\n```python\nprint('hi')\n```\n"))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "code please")
        await finished(pilot)
        monokai = "#272822"  # the dark code background
        await wait_until(pilot, lambda: monokai in app.export_screenshot())
        app.theme = "textual-light"
        await wait_until(pilot, lambda: monokai not in app.export_screenshot(), what="light code")
        assert "#f8f8f8" in app.export_screenshot()
        app.theme = "textual-dark"
        await wait_until(pilot, lambda: monokai in app.export_screenshot(), what="dark again")
