"""Tests of the conversation store, on real files in ``tmp_path``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmchat_tui import store as store_module
from llmchat_tui.models import SCHEMA_VERSION, Conversation, Message, Status, Usage
from llmchat_tui.store import (
    UPGRADES,
    Skipped,
    Store,
    StoreError,
    StoreLocked,
    Summary,
    atomic_write_bytes,
    decode_conversation,
)
from llmchat_tui.store_index import FIELDS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
FIXTURES = Path(__file__).parent / "fixtures"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

_opened_paths: list[str] | None = None
_hook_installed = False


def _audit(event: str, args: tuple) -> None:
    if (
        event == "open"
        and _opened_paths is not None
        and isinstance(args[0], str | bytes | os.PathLike)
    ):
        _opened_paths.append(os.fsdecode(args[0]))


@contextlib.contextmanager
def record_opens() -> Iterator[list[str]]:
    """Record the path of every file opened (by any API) inside the block."""
    global _opened_paths, _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # cannot be removed; inert while _opened_paths is None
        _hook_installed = True
    paths: list[str] = []
    _opened_paths = paths
    try:
        yield paths
    finally:
        _opened_paths = None


@pytest.fixture
def from_dict_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the conversations parsed through Conversation.from_dict."""
    calls: list[str] = []
    original = Conversation.from_dict

    def counting(cls, data, *args):
        calls.append(str(data.get("id")))
        return original(data, *args)

    monkeypatch.setattr(Conversation, "from_dict", classmethod(counting))
    return calls


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def make_conv(title: str = "Hello", content: str = "hi there", **kwargs) -> Conversation:
    conv = Conversation(**kwargs)
    conv.add(Message(role="user", content=content))
    if title != conv.title:
        conv.rename(title)
    return conv


def tmp_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tmp"))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read_json(path: Path):
    return json.loads(path.read_bytes())


def indexed_title(index_path: Path, conv_id: str) -> str:
    """The title index.json holds for ``conv_id`` (an entry is a list of FIELDS)."""
    entry = read_json(index_path)["conversations"][conv_id]
    title: str = entry[FIELDS.index("title")]
    return title


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data")
    assert s.open() == []
    yield s
    s.close()


# ---------------------------------------------------------------------------
# basics
# ---------------------------------------------------------------------------


def test_import_does_not_pull_in_textual() -> None:
    code = "import sys, llmchat_tui.store; assert 'textual' not in sys.modules, 'textual!'"
    subprocess.run([sys.executable, "-c", code], env=child_env(), check=True)


def test_init_does_no_io(tmp_path: Path) -> None:
    s = Store(tmp_path / "nowhere")
    assert s.data_dir == tmp_path / "nowhere"
    assert s.conversations_dir == tmp_path / "nowhere" / "conversations"
    assert not (tmp_path / "nowhere").exists()


def test_round_trip_every_field(store: Store, tmp_path: Path) -> None:
    conv = Conversation(
        title="Ünïcödé [b]x[/b] 🙂",
        title_is_custom=True,
        model="gpt-4o",
        base_url="http://localhost:8080/v1",
        system_prompt="[red]not markup[/red] \\ \" '",
        draft="draft\nwith lines\tand\ttabs",
    )
    conv.extend(
        [
            Message(role="system", content="sys"),
            Message(role="user", content="[b]x[/b] [link=http://e]y[/link] 日本語\n\u2028"),
            Message(
                role="assistant",
                content="**md** `code` ✓",
                reasoning="thinking…",
                model="gpt-4o",
                finish_reason="stop",
                ttft_s=0.123,
                tokens_per_s=55.5,
                usage=Usage(prompt_tokens=10, completion_tokens=20, source="server"),
            ),
            Message(
                role="assistant",
                content="oops",
                status=Status.ERROR,
                error="HTTP 500: [b]server[/b]",
                usage=Usage(prompt_tokens=None, completion_tokens=3, source="estimate"),
            ),
            Message(role="assistant", content="stopped", status=Status.CANCELLED),
            Message(role="assistant", content="cut", status=Status.INTERRUPTED),
        ]
    )
    store.save(conv)

    again = Store(store.data_dir)
    assert again.open() == []
    loaded = again.load(conv.id)
    assert loaded == conv
    assert [m.status for m in loaded.messages][-3:] == [
        Status.ERROR,
        Status.CANCELLED,
        Status.INTERRUPTED,
    ]

    path = store.conversations_dir / f"{conv.id}.json"
    text = path.read_text(encoding="utf-8")
    assert '\n "schema_version": 2,' in text  # indent=1
    assert "Ünïcödé [b]x[/b] 🙂" in text  # ensure_ascii=False
    assert "key" not in read_json(path)
    assert read_json(path)["schema_version"] == SCHEMA_VERSION

    [summary] = again.summaries()
    assert summary == Summary(
        id=conv.id,
        title=conv.title,
        updated_at=conv.updated_at,
        created_at=conv.created_at,
        model="gpt-4o",
        message_count=6,
    )


def test_lone_surrogate_still_saves(store: Store) -> None:
    conv = make_conv(content="bad \udc80 byte")
    store.save(conv)
    assert store.load(conv.id).messages[0].content == "bad \udc80 byte"


def test_summaries_most_recent_first(store: Store) -> None:
    ids = []
    for n, stamp in enumerate(["2024-01-02", "2024-03-01", "2023-12-31"]):
        conv = make_conv(title=f"c{n}")
        conv.updated_at = f"{stamp}T00:00:00.000000Z"
        store.save(conv)
        ids.append(conv.id)
    assert [s.id for s in store.summaries()] == [ids[1], ids[0], ids[2]]
    assert [s.id for s in Store(store.data_dir).summaries()] == [ids[1], ids[0], ids[2]]


def test_invalid_ids_are_refused(store: Store) -> None:
    for bad in ["../evil", "a/b", "", ".hidden", "x" * 200]:
        with pytest.raises(StoreError):
            store.save(Conversation(id=bad))
        with pytest.raises(StoreError):
            store.load(bad)


def test_load_missing(store: Store) -> None:
    with pytest.raises(StoreError, match="no saved conversation"):
        store.load("01ABSENT")


def test_delete(store: Store) -> None:
    keep, gone = make_conv("keep"), make_conv("gone")
    store.save(keep)
    store.save(gone)
    store.delete(gone.id)
    assert not (store.conversations_dir / f"{gone.id}.json").exists()
    assert [s.id for s in store.summaries()] == [keep.id]
    assert gone.id not in read_json(store.index_path)["conversations"]
    store.delete(gone.id)  # already gone: fine
    assert [s.id for s in Store(store.data_dir).summaries()] == [keep.id]


# ---------------------------------------------------------------------------
# permissions and atomic writes
# ---------------------------------------------------------------------------


def test_permissions_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        s = Store(tmp_path / "data")
        s.open()
        s.acquire_lock()
        s.save(make_conv())
        s.flush_index()
        atomic_write_bytes(tmp_path / "data" / "other.toml", b"x = 1\n")
    finally:
        os.umask(old)
    try:
        assert mode_of(s.data_dir) == 0o700
        assert mode_of(s.conversations_dir) == 0o700
        files = [*s.conversations_dir.iterdir(), s.index_path, s.lock_path]
        files.append(tmp_path / "data" / "other.toml")
        assert len(files) == 4
        for path in files:
            assert mode_of(path) == 0o600, path
    finally:
        s.close()


def test_atomic_write_bytes_replaces_and_leaves_no_tmp(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert tmp_files(tmp_path) == []
    atomic_write_bytes(tmp_path / "fresh.bin", b"\x00\x01", mode=0o640)
    assert mode_of(tmp_path / "fresh.bin") == 0o640


def test_interrupted_write_keeps_old_file(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    conv = make_conv("before")
    store.save(conv)
    path = store.conversations_dir / f"{conv.id}.json"
    before = path.read_bytes()

    def exploding_replace(src, dst):
        assert Path(src).name.startswith(f".{conv.id}.")
        assert Path(src).exists()  # the temp file was fully written first
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", exploding_replace)
    conv.rename("after")
    with pytest.raises(StoreError, match="No space left"):
        store.save(conv)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert tmp_files(store.data_dir) == []
    assert store.load(conv.id).title == "before"


def test_stale_tmp_files_removed_at_open(tmp_path: Path) -> None:
    s = Store(tmp_path / "data")
    s.open()
    s.save(make_conv())
    stale = [
        s.conversations_dir / ".01ABC.deadbeef.tmp",
        s.data_dir / ".index.cafe.tmp",
    ]
    for path in stale:
        path.write_bytes(b"{half")
    unrelated = s.data_dir / "notes.tmp"
    unrelated.write_bytes(b"mine")

    # While another store holds the lock, its temp files may be in flight.
    holder = Store(s.data_dir)
    holder.acquire_lock(wait=0)
    try:
        Store(s.data_dir).open()
        assert all(p.exists() for p in stale)
        holder.open()  # the holder may clean
        assert not any(p.exists() for p in stale)
    finally:
        holder.close()

    for path in stale:
        path.write_bytes(b"{half")
    Store(s.data_dir).open()  # nobody holds the lock: cleaned
    assert not any(p.exists() for p in stale)
    assert unrelated.read_bytes() == b"mine"


CRASH_CHILD = """
import sys
from pathlib import Path
from llmchat_tui.models import Conversation, Message, Status
from llmchat_tui.store import Store

store = Store(Path(sys.argv[1]))
store.open()
conv = Conversation(id=sys.argv[2])
conv.add(Message(role="user", content="Tell me a long story"))
reply = conv.add(Message(role="assistant", status=Status.STREAMING))
n = 0
while True:
    reply.content += "".join(f"word{n + i} " for i in range(20))
    n += 20
    store.save(conv)
"""


def test_sigkill_while_streaming_leaves_a_readable_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    conv_id = "01CRASHTEST000000000000000"
    path = data / "conversations" / f"{conv_id}.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_CHILD, str(data), conv_id],
        env=child_env(),
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        deadline = time.monotonic() + 60
        while not (path.exists() and path.stat().st_size > 20_000):
            if proc.poll() is not None:
                pytest.fail(f"child died: {proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("the child never wrote its conversation")
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    s = Store(data)
    assert s.open() == []
    assert tmp_files(data) == []
    [summary] = s.summaries()
    assert summary.id == conv_id and summary.message_count == 2
    conv = s.load(conv_id)
    reply = conv.messages[-1]
    assert reply.status == Status.INTERRUPTED
    assert reply.content.startswith("word0 word1 ")
    # The repair was saved: the file itself now says interrupted.
    assert read_json(path)["messages"][-1]["status"] == "interrupted"


def test_load_repairs_streaming_without_touching_updated_at(store: Store) -> None:
    conv = make_conv()
    conv.add(Message(role="assistant", content="half a rep", status=Status.STREAMING))
    store.save(conv)
    path = store.conversations_dir / f"{conv.id}.json"

    # The next run (the store that saved it would still be streaming into it).
    store = Store(store.data_dir)
    loaded = store.load(conv.id)
    assert loaded.messages[-1].status == Status.INTERRUPTED
    assert loaded.updated_at == conv.updated_at
    assert read_json(path)["messages"][-1]["status"] == "interrupted"
    assert store.summaries()[0].updated_at == conv.updated_at


def test_load_does_not_persist_repair_while_another_process_writes(store: Store) -> None:
    conv = make_conv()
    conv.add(Message(role="assistant", content="live", status=Status.STREAMING))
    store.save(conv)
    store.acquire_lock(wait=0)  # the "app" is streaming into this conversation

    reader = Store(store.data_dir)
    assert reader.load(conv.id).messages[-1].status == Status.INTERRUPTED
    path = store.conversations_dir / f"{conv.id}.json"
    assert read_json(path)["messages"][-1]["status"] == "streaming"


# ---------------------------------------------------------------------------
# unreadable files
# ---------------------------------------------------------------------------

BAD_FILES = {
    "01BADJSON": (b'{"schema_version": 1, "messages": [', "not valid JSON"),
    "01NOTOBJECT": (b"[1, 2, 3]\n", "not a JSON object"),
    "01NEWER": (
        json.dumps({"schema_version": 99, "id": "01NEWER", "messages": []}).encode(),
        "written by a newer llmchat-tui (schema 99)",
    ),
    "01NOMESSAGES": (b'{"schema_version": 1, "id": "x", "title": "t"}', "missing messages"),
    "01BADMESSAGE": (
        b'{"schema_version": 1, "messages": [{"role": "wizard", "content": "x"}]}',
        "unknown message role",
    ),
    "01BADVERSION": (b'{"schema_version": "one", "messages": []}', "unknown schema_version"),
    "01NOTUTF8": (b'{"title": "\xff\xfe", "messages": []}', "not valid JSON"),
}


def write_bad_files(conv_dir: Path) -> dict[Path, bytes]:
    written = {}
    for conv_id, (raw, _) in BAD_FILES.items():
        path = conv_dir / f"{conv_id}.json"
        path.write_bytes(raw)
        written[path] = raw
    return written


def test_unreadable_files_are_skipped_and_kept(store: Store, from_dict_calls) -> None:
    good = make_conv("good one")
    store.save(good)
    written = write_bad_files(store.conversations_dir)

    s = Store(store.data_dir)
    skipped = s.open()
    assert [sk.path for sk in skipped] == sorted(written)
    for sk in skipped:
        assert isinstance(sk, Skipped)
        assert BAD_FILES[sk.path.stem][1] in sk.reason, sk
    assert [x.id for x in s.summaries()] == [good.id]
    assert s.skipped == skipped

    for conv_id in BAD_FILES:
        with pytest.raises(StoreError, match="refusing to overwrite"):
            s.save(Conversation(id=conv_id))
        with pytest.raises(StoreError, match="refusing to delete"):
            s.delete(conv_id)
        with pytest.raises(StoreError):
            s.load(conv_id)
        with pytest.raises(StoreError, match="refusing to overwrite"):
            s.save(Conversation(id=conv_id))
    s.close()

    # Reported again at the next start, from the index, without re-parsing.
    from_dict_calls.clear()
    again = Store(store.data_dir)
    assert again.open() == skipped
    assert from_dict_calls == []
    # Rebuilding the index re-reports them too.
    store.index_path.unlink()
    assert Store(store.data_dir).open() == skipped

    for path, raw in written.items():
        assert path.read_bytes() == raw


def test_fixed_file_is_no_longer_skipped(store: Store) -> None:
    path = store.conversations_dir / "01BROKEN.json"
    path.write_bytes(b"{oops")
    assert [sk.path for sk in Store(store.data_dir).open()] == [path]
    conv = make_conv("repaired", id="01BROKEN")
    path.write_bytes(store_module.encode_conversation(conv))
    s = Store(store.data_dir)
    assert s.open() == []
    assert [x.title for x in s.summaries()] == ["repaired"]
    s.save(s.load("01BROKEN"))


def test_file_broken_after_open_is_refused_by_save(store: Store) -> None:
    conv = make_conv()
    store.save(conv)
    path = store.conversations_dir / f"{conv.id}.json"
    path.write_bytes(b"garbage")
    with pytest.raises(StoreError, match="not valid JSON"):
        store.load(conv.id)
    with pytest.raises(StoreError, match="refusing"):
        store.save(conv)
    assert path.read_bytes() == b"garbage"
    assert store.summaries() == []


def test_odd_names_in_the_folder(store: Store) -> None:
    conv_dir = store.conversations_dir
    (conv_dir / "my notes.json").write_bytes(b"{}")
    (conv_dir / "README.txt").write_bytes(b"hello")
    (conv_dir / "folder.json").mkdir()
    skipped = Store(store.data_dir).open()
    assert [(sk.path.name, sk.reason) for sk in skipped] == [
        ("my notes.json", "file name is not a conversation id")
    ]


def test_file_name_wins_over_inner_id(store: Store) -> None:
    conv = make_conv("copied")
    store.save(conv)
    shutil.copy(
        store.conversations_dir / f"{conv.id}.json", store.conversations_dir / "01COPY.json"
    )
    s = Store(store.data_dir)
    s.open()
    assert sorted(x.id for x in s.summaries()) == sorted([conv.id, "01COPY"])
    assert s.load("01COPY").id == "01COPY"


# ---------------------------------------------------------------------------
# schema versions
# ---------------------------------------------------------------------------


def install_fixture(store: Store, name: str) -> str:
    raw = (FIXTURES / name).read_bytes()
    conv_id = json.loads(raw)["id"]
    (store.conversations_dir / f"{conv_id}.json").write_bytes(raw)
    return conv_id


def test_upgrade_table_covers_every_old_version() -> None:
    assert sorted(UPGRADES) == list(range(SCHEMA_VERSION))


def test_v0_fixture_loads(store: Store) -> None:
    conv_id = install_fixture(store, "conversation_v0.json")
    before = (store.conversations_dir / f"{conv_id}.json").read_bytes()
    s = Store(store.data_dir)
    assert s.open() == []
    [summary] = s.summaries()
    assert (summary.title, summary.model, summary.message_count) == (
        "Pre-release chat",
        "llama3",
        2,
    )
    conv = s.load(conv_id)
    assert [m.content for m in conv.messages] == [
        "What is [b]bold[/b] in Rich?",
        "Markup: **bold** — ça va 🙂",
    ]
    assert all(m.status == Status.COMPLETE for m in conv.messages)
    assert conv.system_prompt == "Be brief."
    assert conv.messages[1].model == "llama3"
    # Loading does not rewrite an old file; saving writes the current schema.
    assert (s.conversations_dir / f"{conv_id}.json").read_bytes() == before
    s.save(conv)
    data = read_json(s.conversations_dir / f"{conv_id}.json")
    assert data["schema_version"] == SCHEMA_VERSION
    assert "text" not in data["messages"][0]
    assert s.load(conv_id) == conv


def test_v1_fixture_loads(store: Store) -> None:
    conv_id = install_fixture(store, "conversation_v1.json")
    s = Store(store.data_dir)
    assert s.open() == []
    conv = s.load(conv_id)
    assert conv.title == "Renamed by hand" and conv.title_is_custom
    assert conv.draft == "half-typed [i]draft[/i]"
    assert [m.role for m in conv.messages] == ["system", "user", "assistant", "assistant"]
    reply = conv.messages[2]
    assert reply.usage == Usage(prompt_tokens=12, completion_tokens=2, source="server")
    assert (reply.ttft_s, reply.tokens_per_s, reply.finish_reason) == (0.25, 41.5, "stop")
    assert conv.messages[3].status == Status.CANCELLED
    assert conv.messages[3].usage == Usage(None, 3, "estimate")
    # Saving it back writes the same data, upgraded to a tree: each message's
    # parent is the one before it, and the branch on screen ends at the last.
    raw = (FIXTURES / "conversation_v1.json").read_bytes()
    saved = json.loads(store_module.encode_conversation(conv))
    # Fields added later within schema 1 are optional and default to empty.
    assert saved.pop("profile") == ""
    assert saved == store_module.upgrade_1_to_2(json.loads(raw))
    ids = [m["id"] for m in saved["messages"]]
    assert [m["parent_id"] for m in saved["messages"]] == [None, *ids[:-1]]
    assert saved["current_id"] == ids[-1] and saved["schema_version"] == 2


def test_decode_upgrades_without_mutating_input() -> None:
    data = {"id": "A", "messages": [{"role": "user", "text": "hi"}]}
    conv = decode_conversation(json.dumps(data).encode())
    assert conv.messages[0].content == "hi"
    assert data == {"id": "A", "messages": [{"role": "user", "text": "hi"}]}


# ---------------------------------------------------------------------------
# the index
# ---------------------------------------------------------------------------


def fill(store: Store, count: int) -> list[Conversation]:
    convs = []
    for n in range(count):
        conv = make_conv(f"chat number {n}", content=f"content {n}")
        store.save(conv)
        convs.append(conv)
    store.flush_index()
    return convs


def test_fresh_index_parses_no_conversation_file(store: Store, from_dict_calls) -> None:
    fill(store, 5)
    index_ino = store.index_path.stat().st_ino
    from_dict_calls.clear()
    s = Store(store.data_dir)
    with record_opens() as opened:
        assert s.open() == []
        assert len(s.summaries()) == 5
    assert from_dict_calls == []
    assert not [p for p in opened if str(store.conversations_dir) in p]
    assert str(store.index_path) in opened
    assert store.index_path.stat().st_ino == index_ino  # unchanged index: not rewritten


@pytest.mark.parametrize("damage", ["deleted", "garbage", "wrong_version", "not_object"])
def test_index_rebuilt(store: Store, damage: str, from_dict_calls) -> None:
    convs = fill(store, 3)
    if damage == "deleted":
        store.index_path.unlink()
    elif damage == "garbage":
        store.index_path.write_bytes(b"\x00garbage{")
    elif damage == "wrong_version":
        data = read_json(store.index_path)
        data["version"] = 999
        store.index_path.write_text(json.dumps(data))
    else:
        store.index_path.write_text("[]")
    from_dict_calls.clear()
    s = Store(store.data_dir)
    assert s.open() == []
    assert sorted(from_dict_calls) == sorted(c.id for c in convs)
    assert {x.id for x in s.summaries()} == {c.id for c in convs}
    assert read_json(store.index_path)["version"] == store_module.INDEX_VERSION


def test_stale_index_entries_are_refreshed(store: Store, from_dict_calls) -> None:
    edited, removed, untouched = fill(store, 3)
    # Behind the index's back: edit one file, delete one, add one.
    edited.rename("a brand new title, longer than before")
    raw = store_module.encode_conversation(edited)
    (store.conversations_dir / f"{edited.id}.json").write_bytes(raw)
    (store.conversations_dir / f"{removed.id}.json").unlink()
    added = make_conv("added by hand")
    (store.conversations_dir / f"{added.id}.json").write_bytes(
        store_module.encode_conversation(added)
    )

    from_dict_calls.clear()
    s = Store(store.data_dir)
    assert s.open() == []
    assert sorted(from_dict_calls) == sorted([edited.id, added.id])
    titles = {x.id: x.title for x in s.summaries()}
    assert titles == {
        edited.id: "a brand new title, longer than before",
        untouched.id: untouched.title,
        added.id: "added by hand",
    }
    index = read_json(store.index_path)["conversations"]
    assert set(index) == set(titles)
    assert indexed_title(store.index_path, edited.id) == "a brand new title, longer than before"


def test_same_size_rewrite_is_noticed(store: Store) -> None:
    conv = make_conv("title AAAA")
    store.save(conv)
    store.flush_index()
    path = store.conversations_dir / f"{conv.id}.json"
    stamp = path.stat().st_mtime_ns
    conv.rename("title BBBB")
    tmp = path.with_name("other")
    tmp.write_bytes(store_module.encode_conversation(conv))
    os.utime(tmp, ns=(stamp, stamp))  # same size, same mtime; only the inode differs
    os.replace(tmp, path)
    assert [x.title for x in Store(store.data_dir).summaries()] == ["title BBBB"]


def test_index_holds_no_messages(store: Store) -> None:
    conv = make_conv("secret title", content="private message body")
    store.save(conv)
    store.flush_index()
    raw = store.index_path.read_text()
    assert "secret title" in raw
    assert "private message body" not in raw


def test_index_written_at_most_every_interval(tmp_path: Path) -> None:
    clock = [0.0]
    store = Store(tmp_path / "data", clock=lambda: clock[0])
    assert store.open() == []  # writes the index
    clock[0] += 10_000.0  # long after open() wrote the index
    conv = make_conv("first")
    store.save(conv)  # nothing written for a while: written now
    assert indexed_title(store.index_path, conv.id) == "first"

    conv.rename("second")
    clock[0] += 0.5
    store.save(conv)
    assert store.summaries()[0].title == "second"  # memory is current
    assert indexed_title(store.index_path, conv.id) == "first"

    clock[0] += store.index_flush_interval
    conv.rename("third")
    store.save(conv)
    assert indexed_title(store.index_path, conv.id) == "third"

    conv.rename("fourth")
    store.save(conv)
    store.close()  # close flushes
    assert indexed_title(store.index_path, conv.id) == "fourth"


def test_stale_index_after_checkpoints_is_harmless(store: Store) -> None:
    store.index_flush_interval = float("inf")  # checkpoints never reach index.json
    conv = make_conv("v1")
    store.save(conv)
    conv.rename("v2 (not in index.json yet)")
    store.save(conv)
    # Simulate a crash: no close(), no flush.
    assert [x.title for x in Store(store.data_dir).summaries()] == ["v2 (not in index.json yet)"]


def test_ten_thousand_conversations_open_from_the_index(tmp_path: Path, from_dict_calls) -> None:
    data = tmp_path / "data"
    conv_dir = data / "conversations"
    conv_dir.mkdir(parents=True)
    template = make_conv("template").to_dict()
    for n in range(10_000):
        conv_id = f"01BULK{n:07d}"
        item = dict(template, id=conv_id, title=f"chat {n}")
        item["updated_at"] = f"2024-01-01T00:00:00.{n:06d}Z"
        (conv_dir / f"{conv_id}.json").write_text(json.dumps(item))

    first = Store(data)
    assert first.open() == []  # builds the index
    assert len(from_dict_calls) == 10_000

    from_dict_calls.clear()
    second = Store(data)
    with record_opens() as opened:
        assert second.open() == []
        summaries = second.summaries()
    assert len(summaries) == 10_000
    assert summaries[0].id == "01BULK0009999" and summaries[-1].id == "01BULK0000000"
    assert from_dict_calls == []
    assert [p for p in opened if str(conv_dir) in p] == []


# ---------------------------------------------------------------------------
# the lock
# ---------------------------------------------------------------------------

LOCK_HOLDER = """
import sys
from pathlib import Path
from llmchat_tui.store import Store

store = Store(Path(sys.argv[1]))
store.acquire_lock(wait=0)
print("locked", flush=True)
sys.stdin.read()
"""


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(data)],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline() == b"locked\n"
        contender = Store(data)
        with pytest.raises(StoreLocked) as caught:
            contender.acquire_lock(wait=0)
        assert caught.value.pid == proc.pid
        assert caught.value.data_dir == data
        assert str(caught.value) == (
            f"another llmchat-tui (pid {proc.pid}) is using {data}; close it or use --data-dir"
        )
        assert isinstance(caught.value, StoreError)
        # Read-only use needs no lock.
        assert contender.open() == []
        assert contender.summaries() == []
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # kill -9 leaves no stale lock
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()

    contender.acquire_lock(wait=0)
    assert contender.locked
    assert data.joinpath("lock").read_text() == f"{os.getpid()}\n"
    contender.close()
    assert not contender.locked


def test_lock_in_one_process(tmp_path: Path) -> None:
    first, second = Store(tmp_path), Store(tmp_path)
    first.acquire_lock(wait=0)
    first.acquire_lock(wait=0)  # idempotent
    with pytest.raises(StoreLocked, match=rf"pid {os.getpid()}"):
        second.acquire_lock(wait=0)
    first.release_lock()
    second.acquire_lock(wait=0)
    second.close()
    second.close()


def test_store_locked_message_without_pid() -> None:
    error = StoreLocked(None, Path("/data"))
    assert str(error) == "another llmchat-tui is using /data; close it or use --data-dir"


# ---------------------------------------------------------------------------
# search
# ---------------------------------------------------------------------------


def test_search_titles_and_content(store: Store) -> None:
    old = make_conv("Weather in Paris", content="will it rain?")
    old.updated_at = "2024-01-01T00:00:00.000000Z"
    mid = make_conv("Cooking", content="A recipe for PARIS-Brest please")
    mid.updated_at = "2024-02-01T00:00:00.000000Z"
    new = make_conv("Straße names", content="nothing here")
    new.updated_at = "2024-03-01T00:00:00.000000Z"
    new.add(Message(role="assistant", content="The Rue de RIVOLI is long"))
    new.updated_at = "2024-03-01T00:00:00.000000Z"
    for conv in (old, mid, new):
        store.save(conv)

    assert list(store.search("paris")) == [mid.id, old.id]  # most recent first
    assert list(store.search("rivoli")) == [new.id]
    assert list(store.search("STRASSE")) == [new.id]  # casefold
    assert list(store.search("no such text")) == []
    assert list(store.search("")) == [new.id, mid.id, old.id]


def test_search_matches_titles_without_reading_files(store: Store) -> None:
    a, b = make_conv("alpha match"), make_conv("beta match")
    store.save(a)
    store.save(b)
    s = Store(store.data_dir)
    s.open()
    with record_opens() as opened:
        assert sorted(s.search("MATCH")) == sorted([a.id, b.id])
    assert [p for p in opened if str(store.conversations_dir) in p] == []


def test_search_is_cancellable(store: Store) -> None:
    convs = fill(store, 5)
    checks = []

    def cancelled() -> bool:
        checks.append(1)
        return len(checks) > 2

    found = list(store.search("content", cancelled=cancelled))
    assert len(found) == 2
    assert set(found) <= {c.id for c in convs}
    assert len(checks) == 3


def test_search_passes_over_unreadable_files(store: Store) -> None:
    good = make_conv("x", content="needle")
    gone = make_conv("y", content="needle")
    store.save(good)
    store.save(gone)
    (store.conversations_dir / f"{gone.id}.json").unlink()  # vanished behind our back
    assert list(store.search("needle")) == [good.id]


def test_open_on_a_file_raises_store_error(tmp_path: Path) -> None:
    (tmp_path / "data").write_bytes(b"not a folder")
    with pytest.raises(StoreError, match="cannot open"):
        Store(tmp_path / "data").open()
