"""Append-only checkpoints (issue #13): while a reply streams, the store appends its new
text to ``conversations/<id>.journal`` instead of rewriting ``<id>.json``; the journal is
folded into the file when the reply ends, or when a conversation a crash left with a
journal is loaded. Real files in a temp data folder; a real SIGKILL of a child process."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmchat_tui import journal as journal_module
from llmchat_tui.journal import Journal
from llmchat_tui.models import Conversation, Message, Status, Usage
from llmchat_tui.store import Store, StoreError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data")
    s.open()
    yield s
    s.close()


def streaming_conversation(history_bytes: int = 0) -> tuple[Conversation, Message]:
    """A conversation whose last message is a reply that has just started streaming,
    after ``history_bytes`` of earlier messages."""
    conv = Conversation(title="journal test")
    filler = "lorem ipsum dolor sit amet " * 40
    while history_bytes > 0:
        conv.add(Message(role="user", content="and then?"))
        conv.add(Message(role="assistant", content=filler))
        history_bytes -= len(filler) + 10
    conv.add(Message(role="user", content="tell me a story"))
    reply = conv.add(Message(role="assistant", status=Status.STREAMING, model="m"))
    return conv, reply


def file_key(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def words(start: int, n: int) -> str:
    return "".join(f"word{i} " for i in range(start, start + n))


# -- appending ------------------------------------------------------------------------


def test_checkpoints_append_only_the_new_text_and_never_rewrite_the_file(store: Store) -> None:
    conv, reply = streaming_conversation(history_bytes=1_000_000)
    store.save(conv)  # the question is on disk before the request goes out
    path = store.path_for(conv.id)
    before = file_key(path)
    journal = store.journal_path(conv.id)

    appended = 0
    for n in range(100):  # 100 checkpoints of ~1 kB: 200 ms each at 1,000 tokens/s
        reply.content += words(n * 100, 100)
        reply.tokens_per_s = 50.0 + n
        reply.usage = Usage(100, n * 100, "estimate")
        appended += store.checkpoint(conv, reply)

    assert file_key(path) == before, "the conversation file was rewritten while streaming"
    reply_bytes = len(reply.content.encode())
    assert journal.stat().st_size == appended
    # Bytes written per byte of reply: the text plus a line's keys and figures.
    assert appended <= 5 * reply_bytes, f"{appended / reply_bytes:.2f}x the reply's bytes"
    assert path.stat().st_size > 1_000_000
    assert (journal.stat().st_mode & 0o777) == 0o600
    # Nothing new: nothing written.
    assert store.checkpoint(conv, reply) == 0


def test_the_end_of_the_reply_folds_the_journal_and_removes_it(store: Store) -> None:
    conv, reply = streaming_conversation()
    store.save(conv)
    reply.content = "Hello"
    store.checkpoint(conv, reply)
    reply.content = "Hello world"
    store.checkpoint(conv, reply)
    journal = store.journal_path(conv.id)
    assert journal.exists()

    reply.status = Status.COMPLETE
    store.checkpoint(conv, reply)  # the final checkpoint is a full save
    assert not journal.exists()
    saved = json.loads(store.path_for(conv.id).read_text())["messages"][-1]
    assert (saved["content"], saved["status"]) == ("Hello world", "complete")


# -- recovery ---------------------------------------------------------------------------


def test_a_leftover_journal_is_applied_folded_and_removed_on_load(store: Store) -> None:
    conv, reply = streaming_conversation()
    store.save(conv)
    for part in ["Once", " upon", " a time"]:
        reply.content += part
        reply.reasoning += part.upper()
        reply.ttft_s = 0.25
        store.checkpoint(conv, reply)
    # A crash: no final save, no close.

    fresh = Store(store.data_dir)
    loaded = fresh.load(conv.id)
    got = loaded.get(reply.id)
    assert got is not None
    assert (got.content, got.reasoning, got.status) == (
        "Once upon a time",
        "ONCE UPON A TIME",
        Status.INTERRUPTED,
    )
    assert got.ttft_s == 0.25 and got.model == "m"
    assert not store.journal_path(conv.id).exists()
    saved = json.loads(store.path_for(conv.id).read_text())["messages"][-1]
    assert (saved["content"], saved["status"]) == ("Once upon a time", "interrupted")


def test_a_torn_last_line_is_ignored(store: Store) -> None:
    conv, reply = streaming_conversation()
    store.save(conv)
    reply.content = "complete line one."
    store.checkpoint(conv, reply)
    reply.content += " complete line two."
    store.checkpoint(conv, reply)
    journal = store.journal_path(conv.id)
    # A crash in the middle of the next append: half a line, no newline.
    line = json.dumps({"message": reply.id, "at": len(reply.content), "text": " lost"})
    with journal.open("ab") as file:
        file.write(line.encode()[: len(line) // 2])

    loaded = Store(store.data_dir).load(conv.id)
    assert loaded.messages[-1].content == "complete line one. complete line two."
    assert loaded.messages[-1].status is Status.INTERRUPTED
    assert not journal.exists()


def test_a_journal_for_a_message_not_in_the_file_is_kept_aside(store: Store) -> None:
    conv, reply = streaming_conversation()
    store.save(conv)
    reply.content = "kept"
    store.checkpoint(conv, reply)
    journal = store.journal_path(conv.id)
    stranger = {"message": "01NOTINTHISFILE", "at": 0, "text": "from elsewhere"}
    with journal.open("ab") as file:
        file.write(json.dumps(stranger).encode() + b"\n")
    raw = journal.read_bytes()

    loaded = Store(store.data_dir).load(conv.id)
    assert loaded.messages[-1].content == "kept"
    assert not journal.exists()
    [aside] = list(store.conversations_dir.glob(f"{conv.id}.journal-unused-*"))
    assert aside.read_bytes() == raw, "the journal's bytes are kept for the user"
    # Opening again neither crashes nor applies anything twice.
    again = Store(store.data_dir)
    again.open()
    assert again.load(conv.id).messages[-1].content == "kept"


def test_a_journal_is_not_folded_while_another_process_holds_the_lock(store: Store) -> None:
    conv, reply = streaming_conversation()
    store.save(conv)
    store.acquire_lock(wait=0)  # the app, streaming into this conversation
    reply.content = "so far"
    store.checkpoint(conv, reply)
    path, journal = store.path_for(conv.id), store.journal_path(conv.id)
    before = (file_key(path), journal.read_bytes())

    reader = Store(store.data_dir)
    reader.open()
    assert reader.load(conv.id).messages[-1].content == "so far"  # the reader sees it
    assert (file_key(path), journal.read_bytes()) == before  # and changes nothing


def test_loading_a_conversation_this_store_streams_into_leaves_its_file_alone(
    store: Store,
) -> None:
    """A load meanwhile (an export, a restore) must not mark the live reply interrupted
    on disk: recovery after a crash would then skip its journal."""
    conv, reply = streaming_conversation()
    store.save(conv)  # before the request: no journal file yet
    path = store.path_for(conv.id)
    before = file_key(path)
    assert store.load(conv.id).messages[-1].status is Status.INTERRUPTED  # the copy only
    assert file_key(path) == before
    reply.content = "still streaming"
    store.checkpoint(conv, reply)
    # A crash now.
    assert Store(store.data_dir).load(conv.id).messages[-1].content == "still streaming"


def test_open_folds_the_journals_a_crash_left(store: Store) -> None:
    conv, reply = streaming_conversation()
    store.save(conv)
    reply.content = "before the crash"
    store.checkpoint(conv, reply)

    Store(store.data_dir).open()
    assert not store.journal_path(conv.id).exists()
    saved = json.loads(store.path_for(conv.id).read_text())["messages"][-1]
    assert (saved["content"], saved["status"]) == ("before the crash", "interrupted")


def test_a_deferred_open_folds_a_leftover_journal_when_it_reads_the_file(store: Store) -> None:
    """The app opens the store with ``defer=True`` (files the index does not vouch for
    are read after the first frame): the journal is folded when its file is read."""
    conv, reply = streaming_conversation()
    store.save(conv)
    reply.content = "before the crash"
    store.checkpoint(conv, reply)
    (store.data_dir / "index.json").unlink()

    later = Store(store.data_dir)
    later.open(defer=True)
    assert later.pending == 1 and store.journal_path(conv.id).exists()
    later.read_pending()
    assert not store.journal_path(conv.id).exists()
    saved = json.loads(store.path_for(conv.id).read_text())["messages"][-1]
    assert (saved["content"], saved["status"]) == ("before the crash", "interrupted")


def test_two_replies_of_one_conversation_stream_into_one_journal(store: Store) -> None:
    """Several replies at once (compare): lines are keyed by message id; folding one
    reply's end does not lose what the other has streamed."""
    conv, first = streaming_conversation()
    question = conv.get(first.parent_id)
    second = conv.add(Message(role="assistant", status=Status.STREAMING), parent=question)
    store.save(conv)
    for n in range(3):
        first.content += f"a{n} "
        store.checkpoint(conv, first)
        second.content += f"b{n} "
        store.checkpoint(conv, second)
    first.status = Status.COMPLETE
    store.checkpoint(conv, first)  # folds: the journal starts again, empty
    assert store.journal_path(conv.id).stat().st_size == 0
    second.content += "b3 "
    store.checkpoint(conv, second)
    # A crash now.
    loaded = Store(store.data_dir).load(conv.id)
    by_id = {m.id: m for m in loaded.nodes}
    assert (by_id[first.id].content, by_id[first.id].status) == ("a0 a1 a2 ", Status.COMPLETE)
    assert (by_id[second.id].content, by_id[second.id].status) == (
        "b0 b1 b2 b3 ",
        Status.INTERRUPTED,
    )


def test_a_failed_append_is_cut_back_and_written_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv, reply = streaming_conversation()
    store.save(conv)
    reply.content = "first. "
    store.checkpoint(conv, reply)

    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 4:
            real_write(fd, bytes(data[: len(data) // 2]))  # part of the line lands
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    reply.content += "second. "
    with pytest.raises(StoreError, match="No space left on device"):
        store.checkpoint(conv, reply)
    monkeypatch.undo()
    reply.content += "third."
    store.checkpoint(conv, reply)  # writes "second. third." again, on a line of its own

    records = journal_module.read(store.journal_path(conv.id))
    assert records is not None and len(records) == 2
    assert Store(store.data_dir).load(conv.id).messages[-1].content == "first. second. third."


def test_applying_a_journal_twice_adds_nothing(tmp_path: Path) -> None:
    """A crash between the fold's write and the journal's removal leaves a journal
    whose text the file already holds."""
    conv, reply = streaming_conversation()
    journal = Journal(tmp_path / "x.journal")
    reply.content = "abc"
    journal.append([reply])
    reply.content = "abcdef"
    journal.append([reply])
    records = journal_module.read(journal.path)
    assert records is not None
    reply.content = ""
    journal_module.apply(conv, records)
    journal_module.apply(conv, records)
    assert reply.content == "abcdef"
    # A line whose text would leave a gap is refused, not joined in the wrong place.
    reply.content = "a"
    result = journal_module.apply(conv, records[1:])
    assert reply.content == "a" and result.refused == 1


# -- a real kill -9 ----------------------------------------------------------------------

CRASH_CHILD = """
import sys
from pathlib import Path
from llmchat_tui.models import Conversation, Message, Status
from llmchat_tui.store import Store

store = Store(Path(sys.argv[1]))
store.open()
store.acquire_lock()
conv = Conversation(id=sys.argv[2])
conv.add(Message(role="user", content="Tell me a long story"))
reply = conv.add(Message(role="assistant", status=Status.STREAMING))
store.save(conv)
n = 0
while True:
    reply.content += "".join(f"word{n + i} " for i in range(20))
    n += 20
    store.checkpoint(conv, reply)
"""


def test_kill_9_while_checkpointing_loses_nothing_that_was_checkpointed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    conv_id = "01JOURNALCRASH0000000000000"
    journal = data / "conversations" / f"{conv_id}.journal"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_CHILD, str(data), conv_id], env=env, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    try:
        deadline = time.monotonic() + 60
        while not (journal.exists() and journal.stat().st_size > 50_000):
            if proc.poll() is not None:
                pytest.fail(f"child died: {proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("the child never wrote its journal")
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    records = journal_module.read(journal)
    assert records
    checkpointed = "".join(r["text"] for r in records)

    s = Store(data)
    s.open()  # folds the journal
    reply = s.load(conv_id).messages[-1]
    assert reply.status is Status.INTERRUPTED
    assert reply.content == checkpointed  # every complete line, in order, nothing else
    assert reply.content.split()[-1] == f"word{len(reply.content.split()) - 1}"
    assert not journal.exists()
