"""``llmchat-tui list``, ``export`` and ``import``, driven through ``cli.main`` on real files."""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from llmchat_tui import cli
from llmchat_tui.exporting import to_json, to_markdown
from llmchat_tui.importing import chatgpt_store_id, conversation_from_chatgpt
from llmchat_tui.models import Conversation, Message, Status
from llmchat_tui.store import Store

FIXTURE = Path(__file__).parent / "fixtures" / "chatgpt_conversations.json"
HOSTILE = "copy this: \x1b]52;c;cm0gLXJmIH4K\x07 done \x9b2J"


def save(folder: Path, *conversations: Conversation) -> None:
    with Store(folder) as store:
        for conversation in conversations:
            store.save(conversation)


def conv(conv_id: str, title: str, updated: str, *messages: Message, **fields) -> Conversation:
    conversation = Conversation(
        id=conv_id,
        title=title,
        created_at="2024-06-01T08:00:00.000000Z",
        updated_at=updated,
        **fields,
    )
    conversation.extend(messages)
    return conversation


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------


def test_list_prints_id_updated_title_newest_first(data_dir, capsys):
    save(
        data_dir,
        conv("old", "Oldest", "2024-01-02T03:04:05.678901Z", Message("user", "a")),
        conv("new", "Newest", "2024-06-01T10:00:00.000001Z", Message("user", "b")),
        conv("mid", "evil\x1b]0;pwned\x07\ttitle\nline", "2024-03-01T00:00:00.000000Z"),
    )
    code, out, err = run(capsys, "--data-dir", data_dir, "list")
    assert (code, err) == (0, "")
    assert out == (
        "new\t2024-06-01T10:00:00Z\tNewest\n"
        "mid\t2024-03-01T00:00:00Z\tevil␛]0;pwned␇ title line\n"
        "old\t2024-01-02T03:04:05Z\tOldest\n"
    )
    # The global options work after the subcommand too, and with "=".
    assert run(capsys, "list", "--data-dir", data_dir) == (0, out, "")
    assert run(capsys, f"--data-dir={data_dir}", "list") == (0, out, "")


def test_list_follows_the_environment_and_the_config_file(data_dir, tmp_path, capsys, monkeypatch):
    save(data_dir, conv("only", "Only one", "2024-06-01T10:00:00.000000Z"))
    monkeypatch.setenv("LLMCHAT_DATA_DIR", str(data_dir))
    assert run(capsys, "list") == (0, "only\t2024-06-01T10:00:00Z\tOnly one\n", "")
    monkeypatch.delenv("LLMCHAT_DATA_DIR")
    config = tmp_path / "my.toml"
    config.write_text(f'data_dir = "{data_dir}"\n')
    assert run(capsys, "--config", config, "list")[1] == "only\t2024-06-01T10:00:00Z\tOnly one\n"
    assert run(capsys, "list", "--config", config)[1] == "only\t2024-06-01T10:00:00Z\tOnly one\n"


def test_list_of_an_empty_or_missing_folder_prints_nothing(data_dir, capsys):
    assert run(capsys, "list", "--data-dir", data_dir) == (0, "", "")
    assert not data_dir.exists()  # listing does not create the folder
    Store(data_dir).open()
    assert run(capsys, "list", "--data-dir", data_dir) == (0, "", "")


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for text in ("list", "export ID|--last", "import FILE", "llmchat-tui export --last -o"):
        assert text in out
    with pytest.raises(SystemExit) as done:
        cli.main(["export", "--help"])
    assert done.value.code == 0
    assert "--format" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------


def sample() -> Conversation:
    return conv(
        "01HX0000000000000000000001",
        "Plan a *trip*",
        "2024-06-01T09:30:15.123456Z",
        Message("user", "Plan a weekend in Lyon."),
        Message(
            "assistant",
            "Day 1: old town.\nDay 2: museums.",
            reasoning="The user wants two days.",
            model="llama3.2:3b",
            finish_reason="stop",
        ),
        Message("user", "And food?"),
        Message("assistant", "Try a *bouchon*", status=Status.CANCELLED),
        Message("user", "Thanks"),
        Message("assistant", "", status=Status.ERROR, error="HTTP 500: server *exploded*"),
        Message("assistant", "Here is the code:\n```python\nprint(1)", status=Status.INTERRUPTED),
        model="llama3.2",
        base_url="http://localhost:11434/v1",
        system_prompt="Be brief.\nUse metric units.",
    )


EXPECTED_MARKDOWN = """\
# Plan a \\*trip\\*

Model: llama3.2 · Server: http://localhost:11434/v1 · Created: 2024-06-01T08:00:00Z · \
Updated: 2024-06-01T09:30:15Z

**System prompt:**

> Be brief.
> Use metric units.

## You

Plan a weekend in Lyon.

## Assistant (llama3.2:3b)

<details><summary>Reasoning</summary>

The user wants two days.

</details>

Day 1: old town.
Day 2: museums.

## You

And food?

## Assistant (llama3.2)

Try a *bouchon*

*(reply cancelled)*

## You

Thanks

## Assistant (llama3.2)

*(error: HTTP 500: server \\*exploded\\*)*

## Assistant (llama3.2)

Here is the code:
```python
print(1)
```

*(reply interrupted: the app stopped mid-reply)*
"""


def test_export_markdown_to_stdout(data_dir, capsys):
    save(data_dir, sample())
    code, out, err = run(capsys, "--data-dir", data_dir, "export", "01HX0000000000000000000001")
    assert (code, err) == (0, "")
    assert out == EXPECTED_MARKDOWN
    assert to_markdown(sample()) == EXPECTED_MARKDOWN


def test_export_json_is_the_saved_conversation(data_dir, capsys):
    save(data_dir, sample())
    code, out, err = run(
        capsys, "export", "01HX0000000000000000000001", "--format", "json", "--data-dir", data_dir
    )
    assert (code, err) == (0, "")
    on_disk = json.loads(
        (data_dir / "conversations" / "01HX0000000000000000000001.json").read_text()
    )
    assert json.loads(out) == on_disk
    assert on_disk["schema_version"] == 2
    assert out.startswith('{\n  "schema_version": 2,\n  "id": "01HX0000000000000000000001",')


def test_export_makes_hostile_text_visible_and_inert(data_dir, capsys):
    hostile = conv(
        "hostile",
        "title \x1b]2;owned\x07",
        "2024-06-01T10:00:00.000000Z",
        Message("user", "please repeat"),
        Message(
            "assistant",
            HOSTILE,
            reasoning="think \x1b[31m",
            model="evil\x1b[2J",
            status=Status.ERROR,
            error="bad \x07 bell",
        ),
    )
    save(data_dir, hostile)
    code, out, _ = run(capsys, "export", "hostile", "--data-dir", data_dir)
    assert code == 0
    assert "copy this: ␛]52;c;cm0gLXJmIH4K␇ done \\x9b2J" in out
    assert "# title ␛\\]2;owned␇" in out
    assert "## Assistant (evil␛\\[2J)" in out
    assert "think ␛[31m" in out
    assert "*(error: bad ␇ bell)*" in out
    assert not any((ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) < 0xA0 for ch in out)

    code, out, _ = run(capsys, "export", "hostile", "--format", "json", "--data-dir", data_dir)
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "\\u001b]52;c;cm0gLXJmIH4K\\u0007 done \\u009b2J" in out
    assert json.loads(out)["messages"][1]["content"] == HOSTILE  # lossless
    assert to_json(hostile) == out


def test_export_last_and_id_prefix(data_dir, capsys):
    save(
        data_dir,
        conv("01HXAAAA", "First", "2024-06-01T10:00:00.000000Z", Message("user", "one")),
        conv("01HXAABB", "Second", "2024-06-02T10:00:00.000000Z", Message("user", "two")),
        conv("01HXCCCC", "Third", "2024-05-01T10:00:00.000000Z", Message("user", "three")),
    )
    code, out, _ = run(capsys, "export", "--last", "--data-dir", data_dir)
    assert code == 0 and out.startswith("# Second\n")
    code, out, _ = run(capsys, "export", "01HXC", "--data-dir", data_dir)
    assert code == 0 and out.startswith("# Third\n")
    code, out, err = run(capsys, "export", "01HXAA", "--data-dir", data_dir)
    assert (code, out) == (1, "")
    assert err == "llmchat-tui: ambiguous id 01HXAA: 2 conversations\n"


def test_export_to_a_file_is_private(data_dir, tmp_path, capsys):
    save(data_dir, sample())
    target = tmp_path / "out" / "chat.md"
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o644)
    code, out, err = run(capsys, "export", "--last", "-o", target, "--data-dir", data_dir)
    assert (code, out) == (0, "")
    assert err == f"exported to {target}\n"
    assert target.read_text() == EXPECTED_MARKDOWN
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["chat.md"]  # no temp file left

    code, _, err = run(
        capsys, "export", "--last", "-o", tmp_path / "nope" / "x.md", "--data-dir", data_dir
    )
    assert code == 1 and err.startswith("llmchat-tui: cannot write ") and err.count("\n") == 1


def test_export_of_an_unknown_conversation_fails_in_one_line(data_dir, capsys):
    save(data_dir, sample())
    for wanted in ("no-such-id", "../../etc/passwd", "bad\x1b[2Jid"):
        code, out, err = run(capsys, "export", wanted, "--data-dir", data_dir)
        assert (code, out) == (1, "")
        assert err.startswith("llmchat-tui: no saved conversation ")
        assert err.count("\n") == 1 and "\x1b" not in err
    empty = data_dir.parent / "empty"
    code, out, err = run(capsys, "export", "--last", "--data-dir", empty)
    assert (code, out) == (1, "")
    assert err == f"llmchat-tui: no saved conversations in {empty}\n"
    # ID and --last are exclusive, and one of them is required.
    for argv in (["export"], ["export", "x", "--last"]):
        with pytest.raises(SystemExit) as done:
            cli.main([*argv, "--data-dir", str(data_dir)])
        assert done.value.code == 2


def test_export_of_an_unreadable_file_says_why(data_dir, capsys):
    save(data_dir, sample())
    (data_dir / "conversations" / "broken.json").write_text("{not json")
    code, out, err = run(capsys, "export", "broken", "--data-dir", data_dir)
    assert (code, out) == (1, "")
    assert "broken.json" in err and "not valid JSON" in err and err.count("\n") == 1


def test_markdown_closes_a_code_block_left_open_by_a_stopped_reply():
    cut = conv(
        "cut",
        "Cut",
        "2024-06-01T10:00:00.000000Z",
        Message("user", "code please"),
        Message("assistant", "````md\n```py\nx = 1\n", status=Status.CANCELLED, model="m"),
        Message("assistant", "done", finish_reason="length", model="m"),
    )
    assert to_markdown(cut).endswith(
        "## Assistant (m)\n\n````md\n```py\nx = 1\n````\n\n*(reply cancelled)*\n\n"
        "## Assistant (m)\n\ndone\n\n*(reply cut off: the server's length limit was reached)*\n"
    )


# ---------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------

MONSTERA = "chatgpt-cccc0000-0000-4000-8000-0000000000cc"
RENAME = "chatgpt-bbbb0000-0000-4000-8000-0000000000bb"
SOURDOUGH = "chatgpt-aaaa0000-0000-4000-8000-0000000000aa"


def messages_of(conversation: Conversation) -> list[tuple[str, str, str | None, str]]:
    return [(m.role, m.content, m.model, m.created_at) for m in conversation.messages]


def test_import_a_chatgpt_export(data_dir, capsys):
    code, out, err = run(capsys, "import", FIXTURE, "--data-dir", data_dir)
    assert (code, out, err) == (0, "imported 3, skipped 0 (already imported), 0 unreadable\n", "")

    code, out, _ = run(capsys, "list", "--data-dir", data_dir)
    assert out == (
        f"{MONSTERA}\t2024-07-03T09:48:20Z\tMonstera care\n"
        f"{RENAME}\t2024-05-06T12:56:40Z\tRename .txt files to .md\n"
        f"{SOURDOUGH}\t2024-04-05T06:55:00Z\tKeeping a sourdough starter alive\n"
    )

    store = Store(data_dir)
    plain = store.load(SOURDOUGH)
    assert (plain.title, plain.title_is_custom, plain.model) == (
        "Keeping a sourdough starter alive",
        True,
        "gpt-4",
    )
    assert (plain.created_at, plain.updated_at) == (
        "2024-04-05T06:53:20.500000Z",
        "2024-04-05T06:55:00.000000Z",
    )
    assert (plain.base_url, plain.system_prompt, plain.draft) == ("", "", "")
    assert messages_of(plain) == [
        (
            "user",
            "How do I keep a sourdough starter alive while I'm away for two weeks?",
            None,
            "2024-04-05T06:53:25.250000Z",
        ),
        (
            "assistant",
            "Feed it, let it rise for an hour, then put it in the fridge.\n\n"
            "1. Use a 1:5:5 ratio (starter:flour:water).\n"
            "2. Feed it again as soon as you are back.",
            "gpt-4",
            "2024-04-05T06:53:50.750000Z",
        ),
    ]
    assert all(m.status == Status.COMPLETE for m in plain.messages)

    # Two branch points; current_node selects the second branch of each.
    branched = store.load(RENAME)
    assert branched.model == "gpt-4o-mini"  # the last reply's model
    assert [(role, content, model) for role, content, model, _ in messages_of(branched)] == [
        ("user", "How do I rename every .txt file in a folder to .md in bash?", None),
        (
            "assistant",
            'Use a loop:\n```bash\nfor f in *.txt; do mv -- "$f" "${f%.txt}.md"; done\n```',
            "gpt-4o",
        ),
        ("user", "And recursively, in all subfolders?", None),
        (
            "assistant",
            "With `find`:\n\n```bash\n"
            "find . -name '*.txt' -exec sh -c 'mv -- \"$1\" \"${1%.txt}.md\"' _ {} \\;\n```",
            "gpt-4o-mini",
        ),
    ]

    # System and hidden messages, the empty node, the browsing call and its
    # result are left out; the image is a placeholder; the reply split around
    # the browsing call is one message.
    plant = store.load(MONSTERA)
    assert plant.model == "gpt-4o"
    assert [(role, content, model) for role, content, model, _ in messages_of(plant)] == [
        ("user", "[image omitted]\nWhat plant is this, and how often should I water it?", None),
        (
            "assistant",
            "This looks like a *Monstera deliciosa*. Let me check the watering advice.\n\n"
            "Water it when the top 5 cm of soil are dry: about once a week in summer, "
            "less in winter.",
            "gpt-4o",
        ),
    ]

    # An imported conversation exports like any other.
    code, out, _ = run(capsys, "export", RENAME, "--data-dir", data_dir)
    assert code == 0
    assert out.startswith(
        "# Rename .txt files to .md\n\nModel: gpt-4o-mini · Created: 2024-05-06T12:53:20Z · "
        "Updated: 2024-05-06T12:56:40Z\n\n## You\n\nHow do I rename"
    )
    assert "## Assistant (gpt-4o)\n\nUse a loop:" in out

    # Importing again adds nothing and changes nothing.
    before = sorted((p.name, p.read_bytes()) for p in (data_dir / "conversations").iterdir())
    code, out, err = run(capsys, "import", FIXTURE, "--data-dir", data_dir)
    assert (code, out, err) == (0, "imported 0, skipped 3 (already imported), 0 unreadable\n", "")
    after = sorted((p.name, p.read_bytes()) for p in (data_dir / "conversations").iterdir())
    assert after == before


def test_import_accepts_the_zip_and_the_unpacked_folder(data_dir, tmp_path, capsys):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("chat.html", "<html></html>")
        zipped.write(FIXTURE, "conversations.json")
    assert run(capsys, "import", archive, "--data-dir", data_dir)[1].startswith("imported 3,")
    folder = tmp_path / "unpacked"
    folder.mkdir()
    shutil.copy(FIXTURE, folder / "conversations.json")
    assert run(capsys, "import", folder, "--data-dir", data_dir)[1].startswith("imported 0, skip")

    empty_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(empty_zip, "w") as zipped:
        zipped.writestr("notes.txt", "hi")
    code, out, err = run(capsys, "import", empty_zip, "--data-dir", data_dir)
    assert (code, out) == (1, "")
    assert "holds no conversations.json" in err and err.count("\n") == 1


def node(key: str, parent: str | None, children: list[str], role: str | None, text="") -> dict:
    message = None
    if role is not None:
        message = {
            "author": {"role": role},
            "content": {"content_type": "text", "parts": [text]},
            "create_time": 1700000000.0,
            "metadata": {},
        }
    return {"id": key, "parent": parent, "children": children, "message": message}


def test_import_reports_unreadable_entries_and_cleans_text(data_dir, tmp_path, capsys):
    hostile = {
        "id": "weird id/with:chars",
        "title": "pwn \x1b]0;title\x07\nnow",
        "create_time": 1700000000.0,
        "update_time": 1700000100.0,
        "current_node": "gone",  # missing: the newest leaf is used
        "mapping": {
            "r": node("r", None, ["u"], None),
            "u": node("u", "r", ["a"], "user", HOSTILE),
            "a": node("a", "u", [], "assistant", "ok"),
        },
    }
    untitled = {
        "conversation_id": "untitled-1",
        "title": None,
        "current_node": "u",
        "mapping": {"u": node("u", None, [], "user", "\n  First line here  \nsecond")},
    }
    entries = [
        hostile,
        untitled,
        {"title": "no id", "mapping": {}},
        "not an object",
        {"id": "empty", "current_node": "s", "mapping": {"s": node("s", None, [], "system", "x")}},
        {
            "id": "cyclic",
            "current_node": "x",
            "mapping": {"x": node("x", "x", ["x"], "user", "hi")},
        },
    ]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(entries))
    code, out, err = run(capsys, "import", path, "--data-dir", data_dir)
    assert (code, out) == (0, "imported 3, skipped 0 (already imported), 3 unreadable\n")
    assert err.splitlines() == [
        "llmchat-tui: unreadable conversation 3: no id",
        "llmchat-tui: unreadable conversation 4: not an object",
        "llmchat-tui: unreadable conversation 5: no user or assistant text",
    ]

    store = Store(data_dir)
    weird_id = chatgpt_store_id("weird id/with:chars")
    assert weird_id.startswith("chatgpt_") and len(weird_id) == 48
    assert weird_id == chatgpt_store_id("weird id/with:chars")
    imported = store.load(weird_id)
    assert imported.title == "pwn ␛]0;title␇ now"
    assert imported.messages[0].content == "copy this: ␛]52;c;cm0gLXJmIH4K␇ done \\x9b2J"
    assert imported.messages[1].content == "ok"
    assert (imported.created_at, imported.model) == ("2023-11-14T22:13:20.000000Z", "")
    titled = store.load("chatgpt-untitled-1")
    assert (titled.title, titled.title_is_custom) == ("First line here", False)
    assert store.load("chatgpt-cyclic").messages[0].content == "hi"


def test_conversation_from_chatgpt_is_a_pure_function():
    entries = json.loads(FIXTURE.read_text())
    first = conversation_from_chatgpt(entries[2])
    again = conversation_from_chatgpt(entries[2])
    assert first.id == again.id == SOURDOUGH
    assert [m.content for m in first.messages] == [m.content for m in again.messages]
    with pytest.raises(ValueError, match="no message mapping"):
        conversation_from_chatgpt({"id": "x"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not json {", "is not a JSON file"),
        ('{"conversations": []}', "expected a list of conversations"),
    ],
)
def test_import_of_a_file_that_is_not_an_export_fails(data_dir, tmp_path, capsys, content, message):
    path = tmp_path / "conversations.json"
    path.write_text(content)
    code, out, err = run(capsys, "import", path, "--data-dir", data_dir)
    assert (code, out) == (1, "")
    assert err.startswith("llmchat-tui: ") and message in err and err.count("\n") == 1
    assert not data_dir.exists()  # the store was not touched

    code, out, err = run(capsys, "import", tmp_path / "missing.json", "--data-dir", data_dir)
    assert (code, out) == (1, "")
    assert err.startswith("llmchat-tui: cannot read ") and err.count("\n") == 1


def test_import_is_refused_while_the_app_holds_the_lock(data_dir, capsys):
    app = Store(data_dir)  # a second Store in this process conflicts like another process
    app.acquire_lock()
    try:
        code, out, err = run(capsys, "import", FIXTURE, "--data-dir", data_dir)
        assert (code, out) == (1, "")
        assert err == (
            f"llmchat-tui: another llmchat-tui (pid {os.getpid()}) is using "
            f"{data_dir}; close it or use --data-dir\n"
        )
        assert app.open() == [] and app.summaries() == []
        # Reading needs no lock.
        assert run(capsys, "list", "--data-dir", data_dir) == (0, "", "")
    finally:
        app.release_lock()

    assert run(capsys, "import", FIXTURE, "--data-dir", data_dir)[0] == 0
    after = Store(data_dir)
    after.acquire_lock(wait=0)  # the import released the lock
    after.release_lock()


def test_exporting_and_importing_do_not_import_textual():
    import subprocess
    import sys

    code = (
        "import sys, llmchat_tui.exporting, llmchat_tui.importing\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
