"""Every key of the key table, pressed through a real terminal, does what the table says.

One scenario in the installed ``llmchat-tui`` presses each (binding, key) pair of
``llmchat_tui.keytable`` (the table the README and F1 show) and checks its effect on the
screen, the disk or the server; a last assertion proves no pair was left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")

from app_pty import (
    EXECUTABLE,
    LONG_REPLY_START,
    conversation_files,
    footer,
    send_message,
    wait_for_state,
)
from llmchat_tui.keymap import split_keys
from llmchat_tui.keytable import default_keys
from openai_server import OpenAIServer, Reply
from terminal import Terminal

if EXECUTABLE is None:
    pytest.skip("the llmchat-tui command is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e


class Keys:
    """Presses keys by binding id and remembers which (id, key) pairs were pressed."""

    def __init__(self, term: Terminal) -> None:
        self.term = term
        self.pressed: set[tuple[str, str]] = set()

    def press(self, binding_id: str, key: str | None = None) -> None:
        keys = split_keys(default_keys()[binding_id])
        key = key or keys[0]
        assert key in keys, (binding_id, key, keys)
        self.pressed.add((binding_id, key))
        self.term.press(key)


def in_footer(text: str) -> Callable[[str], bool]:
    return lambda screen: text in footer(screen)


def test_every_key_in_the_table(
    launch: Callable[..., Terminal],
    server: OpenAIServer,
    data_dir: Path,
    tmp_path: Path,
    app_env: dict[str, str],
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.home]\nbase_url = "{server.base_url}"\nmodel = "home-model"\n'
        f'[profiles.work]\nbase_url = "{server.base_url}"\nmodel = "work-model"\n',
        encoding="utf-8",
    )
    server.models = ["gpt-4o-mini", "gpt-4o", "o3-mini"]
    server.queue(
        Reply.text("First answer with code:\n\n```python\nprint('hi')\n```\n"),
        Reply.text("Regenerated answer."),
        Reply.tokens(3000, delay=0.01),
        Reply.text(" and the rest."),
    )
    editor = tmp_path / "editor"
    editor.write_text('#!/bin/sh\nprintf "Written in the editor." > "$1"\n')
    editor.chmod(0o700)
    term = launch(
        "--config", str(config), "--profile", "home", env=dict(app_env, VISUAL=str(editor))
    )
    keys = Keys(term)
    wait = term.wait_until

    # -- the prompt and the chat ---------------------------------------------------
    term.send("line one")
    for key in ("ctrl+j", "alt+enter", "shift+enter"):
        keys.press("newline", key)
        term.send(f"after {key}")
    wait(lambda s: "after shift+enter" in s, what="three new lines")
    keys.press("send")
    wait(lambda s: "First answer with code:" in s, what="the first reply")
    wait_for_state(term, "complete")
    assert server.chat_requests[0].messages[-1]["content"] == (
        "line one\nafter ctrl+j\nafter alt+enter\nafter shift+enter"
    )
    keys.press("regenerate")
    wait(lambda s: "Regenerated answer." in s and "First answer" not in s, what="regenerated")
    wait_for_state(term, "complete")

    send_message(term, "now talk for long")
    wait(lambda s: LONG_REPLY_START in s, what="the long reply")
    keys.press("stop")
    wait_for_state(term, "cancelled")
    keys.press("continue_reply")
    # Words, not a line: where the stop fell decides where "and the rest." wraps.
    wait(lambda s: re.search(r"\band\W+the\W+rest\.", s), what="the continuation")
    wait_for_state(term, "complete")

    # -- help, palette ---------------------------------------------------------------
    for close in ("escape", "f1", "q"):
        keys.press("help")
        wait(lambda s: "llmchat-tui keys" in s, what="the help screen")
        keys.press("help_close", close)
        wait(lambda s: "llmchat-tui keys" not in s, what="the help screen closed")
    keys.press("command_palette")
    wait(lambda s: "Export as JSON" in s or "Search for commands" in s, what="the palette")
    term.press("escape")
    wait(in_footer("Send"), what="back to the prompt")

    # -- the message list --------------------------------------------------------------
    keys.press("select_messages")
    wait(in_footer("Copy"), what="the message list")
    keys.press("message_previous")
    keys.press("message_next")
    keys.press("copy_message")
    wait(lambda s: "Sent the reply" in s and "(OSC 52)" in s, what="copied")
    for _ in range(3):  # "now talk for long", the regenerated reply, the first message
        keys.press("message_previous")
    keys.press("edit_message")
    wait(lambda s: "Editing your message" in s, what="edit mode")
    keys.press("cancel_edit")
    wait(lambda s: "Editing your message" not in s, what="edit cancelled")
    keys.press("select_messages")
    wait(in_footer("Copy"), what="the message list")
    for _ in range(2):  # back to the regenerated reply
        keys.press("message_previous")
    keys.press("copy_code")
    wait(lambda s: "has no code block" in s, what="no code block in this one")
    keys.press("version_previous")  # the first answer, which regenerating kept
    wait(lambda s: "First answer with code:" in s and "‹1/2›" in s, what="the older version")
    keys.press("copy_code")
    wait(lambda s: "Sent code block 1 of 1" in s, what="its code copied")
    keys.press("version_next")
    wait(lambda s: "Regenerated answer." in s and "‹2/2›" in s, what="the newer version")
    for key in ("delete", "x"):
        keys.press("delete_message", key)
        wait(lambda s: "Delete this reply?" in s or "Delete your message?" in s, what="asked")
        keys.press("dialog_no", "n" if key == "delete" else "escape")
        wait(lambda s: "Delete this" not in s and "Delete your" not in s, what="not deleted")
    keys.press("message_first")  # from the newest reply to the first message, one of yours
    keys.press("edit_message")
    wait(lambda s: "Editing your message" in s, what="editing the first message")
    keys.press("cancel_edit")
    wait(lambda s: "Editing your message" not in s, what="edit cancelled")
    keys.press("select_messages")
    wait(in_footer("Copy"), what="the message list")
    keys.press("message_previous")  # "now talk for long", yours
    keys.press("message_last")  # the newest message, a reply
    keys.press("edit_message")
    wait(lambda s: "Only your own messages can be edited" in s, what="the last one is a reply")
    keys.press("leave_messages")
    wait(in_footer("Send"), what="back to the prompt")

    # -- settings, export --------------------------------------------------------------
    keys.press("pick_model")
    wait(lambda s: "3 available" in s, what="the model list")
    keys.press("picker_next")
    keys.press("picker_previous")
    keys.press("picker_cancel")
    wait(lambda s: "Model for this conversation" not in s, what="picker closed")
    keys.press("pick_profile")
    wait(lambda s: "Provider profile" in s, what="the profile picker")
    term.press("down", "enter")
    wait(lambda s: "Provider: work" in s, what="switched to work")
    keys.press("edit_system_prompt")
    wait(lambda s: "System prompt for this conversation" in s, what="the editor")
    term.send("Answer briefly.")
    keys.press("system_prompt_save")
    wait(lambda s: "System prompt saved" in s, what="saved")
    keys.press("edit_system_prompt")
    wait(lambda s: "System prompt for this conversation" in s, what="the editor")
    keys.press("system_prompt_cancel")
    wait(lambda s: "System prompt for this conversation" not in s, what="closed")
    keys.press("edit_request_options")
    wait(lambda s: "Request options for this conversation" in s, what="the options dialog")
    term.send("0.4\t\t512")  # temperature, Tab past top_p, max_tokens: in one burst
    keys.press("options_save")
    wait(lambda s: "(temp 0.4 · max 512)" in s, what="the options in the status bar")
    keys.press("edit_request_options")
    wait(lambda s: "Request options for this conversation" in s, what="the options dialog")
    keys.press("options_cancel")
    wait(lambda s: "Request options for this conversation" not in s, what="closed")
    keys.press("compose_in_editor")
    wait(lambda s: "Written in the editor." in s, what="the editor's text in the prompt")
    term.send(" @conf")
    keys.press("complete_path")
    wait(lambda s: "Written in the editor. @config.toml" in s, what="the @path completed")
    keys.press("find_in_conversation")
    wait(lambda s: "Find in this conversation" in s, what="the find bar")
    term.send("AFTER")  # three times in the first message: "after ctrl+j", ...
    wait(lambda s: "1/3" in s, what="the first of three matches")
    keys.press("find_next", "enter")
    wait(lambda s: "2/3" in s, what="the second match")
    keys.press("find_next", "down")
    wait(lambda s: "3/3" in s, what="the third")
    keys.press("find_previous", "up")
    wait(lambda s: "2/3" in s, what="back to the second")
    keys.press("find_previous", "shift+enter")
    wait(lambda s: "1/3" in s, what="the first again")
    keys.press("find_close")
    wait(lambda s: "Find in this conversation" not in s, what="the find bar closed")
    keys.press("attach_file")
    wait(lambda s: "Attach a file from" in s, what="the file picker")
    keys.press("picker_cancel")
    wait(lambda s: "Attach a file from" not in s, what="the picker closed")
    keys.press("export_markdown")
    wait(lambda s: "Exported to" in s, what="exported")
    keys.press("export_json")
    wait(lambda s: ".json" in s, what="exported as JSON")
    assert list(tmp_path.glob("*.md")) and list(tmp_path.glob("*.json"))

    # -- the sidebar -------------------------------------------------------------------
    keys.press("new_conversation")
    wait(lambda s: "New conversation" in s, what="a new chat")
    send_message(term, "second chat")
    wait(lambda s: "Echo: second chat" in s, what="its reply")
    wait_for_state(term, "complete")
    keys.press("toggle_sidebar")
    wait(lambda s: "Filter (" not in s, what="sidebar hidden")
    keys.press("toggle_sidebar")
    wait(lambda s: "Filter (" in s, what="sidebar shown")
    keys.press("filter")
    wait(in_footer("Clear filter"), what="the filter box")
    term.send("chat")
    keys.press("filter_next")
    keys.press("filter_previous")
    keys.press("filter_clear")
    keys.press("filter_clear")  # empty: back to the prompt
    wait(in_footer("Send"), what="the prompt")
    keys.press("toggle_focus")
    wait(in_footer("Rename"), what="the list")
    for key in ("f2", "r"):
        keys.press("rename_conversation", key)
        wait(lambda s: "Rename conversation" in s, what="the rename dialog")
        keys.press("dialog_cancel")
        wait(lambda s: "Rename conversation" not in s, what="closed")
    keys.press("delete_conversation", "delete")
    wait(lambda s: "Delete “" in s, what="asked")
    keys.press("dialog_no", "escape")
    wait(lambda s: "Delete “" not in s, what="kept")
    keys.press("delete_conversation", "d")
    wait(lambda s: "Delete “" in s, what="asked")
    keys.press("dialog_yes")
    wait(lambda s: "Deleted “second chat”" in s, what="deleted")
    assert len(conversation_files(data_dir)) == 1
    keys.press("undo")
    wait(lambda s: "Restored “second chat”" in s, what="undone")
    assert len(conversation_files(data_dir)) == 2
    term.press("ctrl+b")
    wait(in_footer("Rename"), what="the list")
    keys.press("leave_sidebar")
    wait(in_footer("Send"), what="back to the prompt")

    # -- comparing models ---------------------------------------------------------------
    keys.press("new_conversation")
    wait(lambda s: "New conversation" in s, what="a new chat")
    keys.press("compare_models")
    wait(lambda s: "Compare models: choose 2 to 4" in s, what="the compare picker")
    keys.press("compare_next")
    keys.press("compare_previous")
    keys.press("compare_cancel")
    wait(lambda s: "Compare models" not in s, what="the picker closed")
    keys.press("compare_models")
    wait(lambda s: "choose 1 more" in s, what="the picker, the chat's model chosen")
    wait(lambda s: "o3-mini" in s, what="the server's models listed")
    term.send("o3")
    term.press("enter")  # the highlighted match
    wait(lambda s: "2. o3-mini" in s, what="two chosen")
    term.press("enter")  # Enter on the empty box compares them
    wait(lambda s: "comparing ·" in s, what="comparing")
    send_message(term, "compare chat")
    wait(lambda s: "complete 2/2" in s and s.count("Echo: compare chat") == 2, what="both")
    keys.press("select_messages")
    wait(in_footer("Keep this reply"), what="the compare row selected")
    keys.press("column_next")
    keys.press("column_previous")
    keys.press("column_next")
    keys.press("keep_reply")
    wait(lambda s: "Kept the reply of o3-mini" in s, what="kept")

    keys.press("quit")
    assert term.wait_for_exit(15) == 0
    saved = json.loads(conversation_files(data_dir)[0].read_text())
    assert saved["profile"] == "work" and saved["system_prompt"] == "Answer briefly."
    assert saved["options"] == {"temperature": 0.4, "max_tokens": 512}

    every = {(bid, key) for bid, value in default_keys().items() for key in split_keys(value)}
    assert every - keys.pressed == set(), "keys of the table never pressed"
