"""The index cache's compact entries, older index files, and reading files after open."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llmchat_tui import store as store_module
from llmchat_tui.models import Conversation, Message
from llmchat_tui.store import Store, Summary
from llmchat_tui.store_index import FIELDS, INDEX_VERSION, sort_key


def make_conv(title: str, updated_at: str) -> Conversation:
    conv = Conversation()
    conv.add(Message(role="user", content="hi"))
    conv.rename(title)
    conv.updated_at = updated_at
    return conv


def write(data: Path, conv: Conversation) -> Path:
    folder = data / "conversations"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{conv.id}.json"
    path.write_bytes(store_module.encode_conversation(conv))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_sort_key_orders_any_iso_time() -> None:
    assert sort_key("2026-01-02T03:04:05.000006Z") == "2026-01-02T03:04:05.000006Z"
    assert sort_key("2026-01-02T04:04:05+01:00") == "2026-01-02T03:04:05.000000Z"
    assert sort_key("yesterday") == ""
    assert sort_key("2026-01-02T03:04:05Z") < sort_key("2026-01-02T03:04:05.5Z")


def test_summaries_newest_first_with_hand_written_times(data: Path) -> None:
    times = ["2026-01-01T10:00:00Z", "2026-01-01T12:00:00.000000Z", "2026-01-01T13:00:00+02:00"]
    convs = [make_conv(f"c{i}", when) for i, when in enumerate(times)]
    for conv in convs:
        write(data, conv)
    store = Store(data)
    store.open()
    assert [s.title for s in store.summaries()] == ["c1", "c2", "c0"]


def test_entries_are_lists_of_fields(data: Path) -> None:
    conv = make_conv("listed", "2026-01-01T10:00:00.000000Z")
    path = write(data, conv)
    Store(data).open()
    index = json.loads((data / "index.json").read_bytes())
    assert index["version"] == INDEX_VERSION
    entry = dict(zip(FIELDS, index["conversations"][conv.id], strict=True))
    assert entry["title"] == "listed"
    assert entry["message_count"] == 1
    assert entry["ino"] == path.stat().st_ino


def test_a_version_1_index_is_used_without_parsing_and_rewritten(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = make_conv("from v1", "2026-01-01T10:00:00.000000Z")
    write(data, conv)
    Store(data).open()
    index_path = data / "index.json"
    index = json.loads(index_path.read_bytes())
    index["version"] = 1
    index["conversations"] = {
        conv_id: dict(zip(FIELDS, entry, strict=True))
        for conv_id, entry in index["conversations"].items()
    }
    index_path.write_text(json.dumps(index))

    def refuse(*args: object) -> None:
        raise AssertionError("a file was parsed")

    monkeypatch.setattr(store_module, "summarize_conversation", refuse)
    store = Store(data)
    assert store.open() == []
    assert [s.title for s in store.summaries()] == ["from v1"]
    assert json.loads(index_path.read_bytes())["version"] == INDEX_VERSION


def test_deferred_open_reads_the_files_later_newest_first(data: Path) -> None:
    convs = [make_conv(f"chat {i}", f"2026-01-0{i + 1}T10:00:00.000000Z") for i in range(5)]
    for i, conv in enumerate(convs):
        path = write(data, conv)
        os.utime(path, ns=(i * 10**9, i * 10**9))  # written in order
    broken = data / "conversations" / "01BROKEN.json"
    broken.write_bytes(b"{oops")
    os.utime(broken, ns=(0, 0))

    store = Store(data)
    assert store.open(defer=True) == []
    assert store.summaries() == []
    assert store.pending == 6
    assert not (data / "index.json").exists()

    first = store.read_pending(2)
    assert [s.title for s in first] == ["chat 4", "chat 3"]  # most recently written first
    assert isinstance(first[0], Summary)
    while store.pending:
        store.read_pending(2)
    assert [s.title for s in store.summaries()] == [f"chat {i}" for i in reversed(range(5))]
    [skipped] = store.skipped
    assert skipped.path == broken and "not valid JSON" in skipped.reason
    assert (data / "index.json").exists()
    # The next start finds everything in the index.
    again = Store(data)
    assert [s.path for s in again.open(defer=True)] == [broken]
    assert again.pending == 0
    assert len(again.summaries()) == 5


def test_a_conversation_saved_while_pending_keeps_its_newer_entry(data: Path) -> None:
    conv = make_conv("old title", "2026-01-01T10:00:00.000000Z")
    write(data, conv)
    store = Store(data)
    store.open(defer=True)
    conv.rename("new title")
    store.save(conv)
    assert store.read_pending() == []
    assert [s.title for s in store.summaries()] == ["new title"]


async def test_the_app_lists_files_read_after_its_first_frame(data: Path) -> None:
    from conftest import wait_until
    from llmchat_tui.config import Settings
    from llmchat_tui.factory import build_app

    convs = [make_conv(f"chat {i}", f"2026-01-0{i + 1}T10:00:00.000000Z") for i in range(3)]
    for conv in convs:
        write(data, conv)
    (data / "conversations" / "01BROKEN.json").write_bytes(b"{oops")
    store = Store(data)
    assert store.open(defer=True) == []
    settings = Settings(base_url="http://127.0.0.1:9/v1", model="gpt-4o-mini", api_key="x")
    app = build_app(settings, store, skipped=[], first_run=False)
    async with app.run_test(size=(120, 40)) as pilot:
        sidebar = app.chat.sidebar

        def busy_shown() -> bool:
            return bool(sidebar.query_one("#sidebar-busy").display)

        await wait_until(pilot, lambda: not store.pending and not busy_shown(), what="read")
        await wait_until(pilot, lambda: len(sidebar.order) == 3, what="listed")
        assert sidebar.order == [c.id for c in reversed(convs)]
        assert [item.path.name for item in app.skipped] == ["01BROKEN.json"]
        await wait_until(
            pilot,
            lambda: any("01BROKEN.json" in str(n.message) for n in app._notifications),
            what="the unreadable file reported",
        )
