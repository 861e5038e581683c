"""The trash: deletes that can be undone, on real files in ``tmp_path``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llmchat_tui.models import Conversation, Message, Usage
from llmchat_tui.store import Store, StoreError, TrashEntry

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def make_conv(title: str, *texts: str) -> Conversation:
    conv = Conversation()
    for number, text in enumerate(texts or ("hello",)):
        if number % 2:
            conv.add(Message(role="assistant", content=text, usage=Usage(5, 7, "server")))
        else:
            conv.add(Message(role="user", content=text))
    conv.rename(title)
    return conv


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data")
    s.open()
    yield s
    s.close()


def listed(store: Store) -> list[str]:
    return [s.id for s in store.summaries()]


def fresh(store: Store) -> Store:
    again = Store(store.data_dir)
    again.open()
    return again


# ---------------------------------------------------------------------------
# conversations
# ---------------------------------------------------------------------------


def test_trash_then_restore_gives_back_the_same_bytes(store: Store) -> None:
    keep, gone = make_conv("keep"), make_conv("Lighthouses", "q", "a")
    store.save(keep)
    store.save(gone)
    path = store.path_for(gone.id)
    before = path.read_bytes()

    entry = store.trash(gone.id, now=T0)
    assert isinstance(entry, TrashEntry)
    assert (entry.kind, entry.conversation_id, entry.title) == (
        "conversation",
        gone.id,
        "Lighthouses",
    )
    assert entry.deleted_at == "2026-01-10T12:00:00.000000Z"
    assert not path.exists()
    assert entry.path.parent == store.data_dir / "trash"
    assert entry.path.read_bytes() == before
    assert mode_of(store.data_dir / "trash") == 0o700
    assert mode_of(entry.path) == 0o600
    # Not listed: here, in index.json, and in a fresh store.
    assert listed(store) == [keep.id]
    assert gone.id not in json.loads(store.index_path.read_bytes())["conversations"]
    assert listed(fresh(store)) == [keep.id]
    assert fresh(store).trashed() == [entry]
    with pytest.raises(StoreError, match="no saved conversation"):
        store.load(gone.id)

    assert store.restore(entry) == entry
    assert path.read_bytes() == before
    assert sorted(listed(store)) == sorted([keep.id, gone.id])
    assert gone.id in json.loads(store.index_path.read_bytes())["conversations"]
    assert sorted(listed(fresh(store))) == sorted([keep.id, gone.id])
    assert store.trashed() == []
    assert list((store.data_dir / "trash").iterdir()) == []
    assert store.load(gone.id) == gone


def test_restore_by_id_or_prefix(store: Store) -> None:
    first, second = make_conv("first"), make_conv("second")
    store.save(first)
    store.save(second)
    one = store.trash(first.id, now=T0)
    two = store.trash(second.id, now=T0 + timedelta(seconds=1))
    assert store.trashed() == [two, one]  # newest first
    with pytest.raises(StoreError, match="nothing in the trash matches"):
        store.restore("01NOPE")
    common = next(
        first.id[:n] for n in range(len(first.id) + 1) if first.id[: n + 1] != second.id[: n + 1]
    )
    with pytest.raises(StoreError, match="ambiguous"):
        store.restore(common)
    assert store.restore(first.id[: len(common) + 1]) == one
    assert store.restore(two.id) == two
    assert sorted(listed(store)) == sorted([first.id, second.id])


def test_restore_never_overwrites_a_live_conversation(store: Store) -> None:
    conv = make_conv("old")
    store.save(conv)
    entry = store.trash(conv.id)
    trashed = entry.path.read_bytes()
    newer = make_conv("new one")
    newer.id = conv.id  # e.g. imported again after the delete
    store.save(newer)
    live = store.path_for(conv.id).read_bytes()
    with pytest.raises(StoreError, match="already exists"):
        store.restore(entry)
    assert store.path_for(conv.id).read_bytes() == live
    assert entry.path.read_bytes() == trashed
    assert store.trashed() == [entry]


def test_unreadable_files_are_not_trashed(store: Store) -> None:
    broken = store.conversations_dir / "01BROKEN.json"
    broken.write_bytes(b"{not json")
    skipped = fresh(store)
    with pytest.raises(StoreError, match="refusing to trash unreadable"):
        skipped.trash("01BROKEN")
    # Broken after the store was opened: found out by the trash itself.
    conv = make_conv("fine at first")
    store.save(conv)
    store.path_for(conv.id).write_bytes(b"garbage")
    with pytest.raises(StoreError, match="refusing to trash unreadable"):
        store.trash(conv.id)
    assert broken.read_bytes() == b"{not json"
    assert store.path_for(conv.id).read_bytes() == b"garbage"
    assert store.trashed() == []
    with pytest.raises(StoreError, match="no saved conversation"):
        store.trash("01ABSENT")


def test_trash_refused_while_another_process_holds_the_lock(store: Store) -> None:
    conv = make_conv("busy")
    store.save(conv)
    holder = Store(store.data_dir)
    holder.acquire_lock()
    try:
        with pytest.raises(StoreError, match="another llmchat-tui"):
            store.trash(conv.id)
    finally:
        holder.release_lock()
    assert store.path_for(conv.id).exists()


def test_a_failed_move_leaves_the_conversation_in_place(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = make_conv("stay")
    store.save(conv)
    before = store.path_for(conv.id).read_bytes()

    def cross_device(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", cross_device)
    with pytest.raises(StoreError, match="cross-device"):
        store.trash(conv.id)
    monkeypatch.undo()
    assert store.path_for(conv.id).read_bytes() == before
    assert listed(store) == [conv.id] == listed(fresh(store))
    assert store.trashed() == []


# ---------------------------------------------------------------------------
# purge
# ---------------------------------------------------------------------------


def test_purge_removes_only_entries_older_than_30_days(store: Store) -> None:
    old, recent = make_conv("old"), make_conv("recent", "a", "b")
    store.save(old)
    store.save(recent)
    old_entry = store.trash(old.id, now=T0)
    message_entry = store.trash_message(recent, recent.messages[1], now=T0 + timedelta(days=1))
    recent_entry = store.trash(recent.id, now=T0 + timedelta(days=20))

    assert store.purge_trash(now=T0 + timedelta(days=29, hours=23)) == []
    assert store.purge_trash(now=T0 + timedelta(days=30, seconds=1)) == [old_entry]
    assert store.trashed() == [recent_entry, message_entry]
    assert store.purge_trash(now=T0 + timedelta(days=31, seconds=1)) == [message_entry]
    assert store.purge_trash(older_than_days=5, now=T0 + timedelta(days=24)) == []
    assert store.purge_trash(older_than_days=5, now=T0 + timedelta(days=26)) == [recent_entry]
    assert store.trashed() == []
    assert list((store.data_dir / "trash").iterdir()) == []
    assert listed(store) == []  # purging never touches live conversations


def test_purge_of_a_missing_trash_creates_nothing(tmp_path: Path) -> None:
    s = Store(tmp_path / "data")
    s.open()
    assert s.purge_trash() == []
    assert s.trashed() == []
    assert not (tmp_path / "data" / "trash").exists()


# ---------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------


def test_a_deleted_message_comes_back_in_its_place(store: Store) -> None:
    conv = make_conv("chat", "one", "two", "three", "four")
    store.save(conv)
    before = store.path_for(conv.id).read_bytes()
    victim = conv.messages[1]

    entry = store.trash_message(conv, victim, now=T0)
    assert (entry.kind, entry.conversation_id, entry.message_id) == ("message", conv.id, victim.id)
    assert entry.position == 1 and entry.title == "chat"
    assert mode_of(entry.path) == 0o600
    assert victim in conv.messages  # the caller removes it and saves
    conv.remove(victim)
    store.save(conv)

    assert store.trashed() == [entry]
    store.restore(entry)  # from disk: the app passes into= when it has it open
    loaded = store.load(conv.id)
    assert [m.content for m in loaded.messages] == ["one", "two", "three", "four"]
    assert loaded.messages[1] == victim
    assert store.trashed() == []
    # Same messages as before the delete (only updated_at moved).
    after = json.loads(store.path_for(conv.id).read_bytes())
    assert after["messages"] == json.loads(before)["messages"]


def test_restore_a_message_into_the_open_conversation(store: Store) -> None:
    conv = make_conv("chat", "one", "two", "three")
    store.save(conv)
    victim = conv.messages[2]
    entry = store.trash_message(conv, victim)
    conv.remove(victim)
    store.save(conv)
    conv.add(Message(role="assistant", content="later"))  # the chat went on meanwhile
    store.save(conv)

    store.restore(entry, into=conv)
    # Back below "two", beside the reply written meanwhile, and on screen.
    assert [m.content for m in conv.messages] == ["one", "two", "three"]
    loaded = store.load(conv.id)
    assert [m.content for m in loaded.messages] == ["one", "two", "three"]
    assert [m.content for m in loaded.siblings(loaded.messages[2])] == ["three", "later"]
    with pytest.raises(StoreError, match="nothing in the trash"):
        store.restore(entry.id)


def test_restoring_a_message_twice_or_without_its_conversation_is_refused(store: Store) -> None:
    conv = make_conv("chat", "one", "two")
    store.save(conv)
    entry = store.trash_message(conv, conv.messages[0])
    with pytest.raises(StoreError, match="already in"):
        store.restore(entry)  # never removed from the conversation
    conv_entry = store.trash(conv.id)
    with pytest.raises(StoreError, match="restore the conversation first"):
        store.restore(entry)
    store.restore(conv_entry)
    assert store.trashed() == [entry]
    other = make_conv("other")
    with pytest.raises(StoreError, match="not in"):
        store.trash_message(other, conv.messages[0])


# ---------------------------------------------------------------------------
# kill -9 at any moment
# ---------------------------------------------------------------------------

# One round of every trash operation, in a child that SIGKILLs itself at file
# operation number ``sys.argv[3]`` (before it when odd, after it when even):
# each os.replace, os.unlink and os.fsync the store makes is a kill point, so
# the test visits every instant where the files on disk can change.
CHURN = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    kill_at, step = int(sys.argv[3]), 0

    def tick():
        global step
        step += 1
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def killing(real):
        def call(*args, **kwargs):
            tick()
            result = real(*args, **kwargs)
            tick()
            return result
        return call

    from llmchat_tui.store import Store

    store = Store(Path(sys.argv[1]))
    store.acquire_lock()
    store.open()
    conv_id = sys.argv[2]
    conv = store.load(conv_id)
    for name in ("replace", "unlink", "fsync"):
        setattr(os, name, killing(getattr(os, name)))

    entry = store.trash(conv_id)
    store.restore(entry)
    message = conv.messages[1]
    m_entry = store.trash_message(conv, message)
    conv.remove(message)
    store.save(conv)
    store.restore(m_entry, into=conv)
    entry = store.trash(conv_id)
    store.restore(entry.id)
    store.close()
    print(step, flush=True)
    """
)


def churn(data: Path, conv_id: str, kill_at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHURN, str(data), conv_id, str(kill_at)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def check_nothing_lost(data: Path, conv: Conversation, original: bytes) -> None:
    """The conversation is in exactly one place, whole, with every message somewhere."""
    store = Store(data)
    answer = conv.messages[1]
    live = store.path_for(conv.id)
    in_trash = sorted((data / "trash").glob(f"{conv.id}.*")) if (data / "trash").exists() else []
    conv_files = [p for p in in_trash if not p.name.endswith(".message.json")]
    message_files = [p for p in in_trash if p.name.endswith(".message.json")]
    assert live.exists() + len(conv_files) == 1, (live.exists(), in_trash)
    where = live if live.exists() else conv_files[0]
    saved = json.loads(where.read_bytes())  # whole: parses
    ids = [m["id"] for m in saved["messages"]]
    kept = [json.loads(p.read_bytes())["message"]["id"] for p in message_files]
    assert answer.id in ids or answer.id in kept  # maybe both, never neither
    if answer.id in ids:
        assert ids.index(answer.id) == 1

    # A fresh store agrees, and everything can be put back.
    store.open()
    assert [s.id for s in store.summaries()] == ([conv.id] if live.exists() else [])
    if not live.exists():
        store.restore(conv.id)
    for entry in store.trashed():
        with pytest.raises(StoreError) if answer.id in ids else contextlib.nullcontext():
            store.restore(entry)
    final = store.load(conv.id)
    assert json.loads(original)["messages"] == [m.to_dict() for m in final.nodes]
    store.close()


def test_kill_9_at_every_file_operation_loses_nothing(tmp_path: Path) -> None:
    conv = make_conv("precious", "question", "answer", "more")
    template = tmp_path / "template"
    store = Store(template)
    store.save(conv)
    store.close()
    original = store.path_for(conv.id).read_bytes()

    done = churn(template, conv.id, kill_at=0)  # no kill: count the kill points
    assert done.returncode == 0, done.stderr
    steps = int(done.stdout)
    assert steps > 30
    check_nothing_lost(template, conv, original)

    for kill_at in range(1, steps + 1):
        data = tmp_path / f"kill{kill_at}"
        shutil.copytree(template, data)
        (data / "lock").unlink()
        result = churn(data, conv.id, kill_at)
        assert result.returncode == -signal.SIGKILL, (kill_at, result.stderr)
        check_nothing_lost(data, conv, original)


# ---------------------------------------------------------------------------
# llmchat-tui trash
# ---------------------------------------------------------------------------


def run_cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmchat_tui", "--data-dir", str(data), *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_trash_subcommand_lists_and_restores(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(data)
    first, second = make_conv("First \x1b[31mred"), make_conv("Second", "a", "b")
    store.save(first)
    store.save(second)
    before = store.path_for(first.id).read_bytes()
    store.trash(first.id, now=T0)
    store.trash_message(second, second.messages[1], now=T0 + timedelta(hours=1))
    second.remove(second.messages[1])
    store.save(second)
    store.close()

    result = run_cli("trash", data=data)
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[1:] for row in lines] == [
        ["2026-01-10T13:00:00Z", "message 2 (assistant) of Second"],
        ["2026-01-10T12:00:00Z", "First ␛[31mred"],
    ]
    assert lines[1][0].startswith(first.id)

    result = run_cli("trash", "restore", first.id[:12], data=data)
    assert result.returncode == 0, result.stderr
    assert "restored" in result.stderr + result.stdout
    assert store.path_for(first.id).read_bytes() == before
    assert first.id in run_cli("list", data=data).stdout

    result = run_cli("trash", "restore", lines[0][0], data=data)
    assert result.returncode == 0, result.stderr
    assert run_cli("trash", data=data).stdout == ""
    assert [m.content for m in Store(data).load(second.id).messages] == ["a", "b"]


def test_trash_subcommand_failures(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run_cli("trash", data=data)  # no data folder yet: nothing, and nothing created
    assert (result.returncode, result.stdout) == (0, "")
    assert not data.exists()

    store = Store(data)
    conv = make_conv("c")
    store.save(conv)
    store.trash(conv.id)
    store.close()

    result = run_cli("trash", "restore", "01NOPE", data=data)
    assert result.returncode == 1
    assert "nothing in the trash matches 01NOPE" in result.stderr
    assert run_cli("trash", "restore", data=data).returncode == 2  # usage
    assert run_cli("trash", "bogus", data=data).returncode == 2

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from llmchat_tui.store import Store; s = Store(sys.argv[1]); "
            "s.acquire_lock(); print('locked', flush=True); sys.stdin.read()",
            str(data),
        ],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = run_cli("trash", "restore", conv.id, data=data)
        assert result.returncode == 1
        assert f"pid {holder.pid}" in result.stderr
    finally:
        holder.communicate("")
    assert not store.path_for(conv.id).exists()
    assert run_cli("trash", "restore", conv.id, data=data).returncode == 0
    assert store.path_for(conv.id).exists()
