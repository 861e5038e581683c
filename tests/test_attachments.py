"""Attachments: which files a message names, what is refused, how they are kept and sent."""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
import zlib
from pathlib import Path

import pytest

from llmchat_tui import attachments
from llmchat_tui.attachments import AttachmentError, complete_path, mentioned_paths
from llmchat_tui.config import Settings
from llmchat_tui.llm import ChatClient
from llmchat_tui.session import ChatSession
from llmchat_tui.store import Store
from openai_server import OpenAIServer, Reply


def png(width: int, height: int) -> bytes:
    """A real (tiny, valid) PNG of the given size header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * min(height, 4))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def test_words_that_name_existing_files_count(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("a")
    text = "read @notes.txt, then @src/a.py. mail me@example.com or @nobody @src"
    assert mentioned_paths(text, tmp_path) == [tmp_path / "notes.txt", tmp_path / "src" / "a.py"]
    assert mentioned_paths("@notes.txt and @notes.txt again", tmp_path) == [tmp_path / "notes.txt"]


def test_completing_a_path(tmp_path: Path) -> None:
    for name in ("notes-a.txt", "notes-b.txt", ".hidden"):
        (tmp_path / name).write_text("x")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "plan.md").write_text("x")
    assert complete_path("no", tmp_path) == ("notes-", ["notes-a.txt", "notes-b.txt"])
    assert complete_path("do", tmp_path) == ("docs/", ["docs/"])
    assert complete_path("docs/p", tmp_path) == ("docs/plan.md", ["plan.md"])
    assert complete_path("zz", tmp_path) == ("zz", [])
    assert complete_path(".h", tmp_path) == (".hidden", [".hidden"])


def test_text_and_images_are_read_and_the_rest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("héllo\n")
    attachment, data = attachments.load(tmp_path / "notes.txt")
    assert (attachment.mime, attachment.size, data) == ("text/plain", 7, "héllo\n".encode())
    (tmp_path / "pic.png").write_bytes(png(1024, 1024))
    image, _ = attachments.load(tmp_path / "pic.png")
    assert (image.mime, image.width, image.height) == ("image/png", 1024, 1024)
    (tmp_path / "photo.jpg").write_bytes(jpeg(640, 480))
    photo, _ = attachments.load(tmp_path / "photo.jpg")
    assert (photo.mime, photo.width, photo.height) == ("image/jpeg", 640, 480)

    (tmp_path / "prog").write_bytes(b"\x7fELF\x00\x00\x01")
    with pytest.raises(AttachmentError, match="prog is not a text file or an image"):
        attachments.load(tmp_path / "prog")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(AttachmentError, match="not UTF-8 text"):
        attachments.load(tmp_path / "latin1.txt")
    huge = tmp_path / "huge.png"
    with huge.open("wb") as file:  # sparse: 20 MB + 1 byte without writing them
        file.write(png(10, 10))
        file.truncate(attachments.MAX_IMAGE_BYTES + 1)
    with pytest.raises(AttachmentError, match=r"huge.png is 20.0 MB: files over 20.0 MB"):
        attachments.load(huge)


def test_image_tokens_follow_the_tile_rule() -> None:
    assert attachments.image_tokens(1024, 1024) == 765
    assert attachments.image_tokens(2048, 4096) == 1105
    assert attachments.image_tokens(100, 100) == 255
    assert attachments.image_tokens(None, None) == 765


def test_a_fence_is_longer_than_any_backticks_inside() -> None:
    block = attachments.fenced("a.md", "```py\nx\n```\n")
    assert block == "a.md:\n````\n```py\nx\n```\n````"


def test_kept_files_are_private_and_content_addressed(tmp_path: Path) -> None:
    os.umask(0o022)
    (tmp_path / "n.txt").write_text("same")
    attachment, data = attachments.load(tmp_path / "n.txt")
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    store.open()
    store.keep_attachment(attachment, data)
    store.keep_attachment(attachment, data)
    kept = data_dir / "attachments" / attachment.sha256
    assert kept.read_bytes() == b"same"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert len(list(kept.parent.iterdir())) == 1


def session_in(server: OpenAIServer, folder: Path) -> ChatSession:
    settings = Settings(base_url=server.base_url, model="gpt-4o-mini", api_key="k")
    store = Store(folder)
    store.open()
    return ChatSession(settings, store, ChatClient(base_url=server.base_url, api_key="k"))


async def test_the_server_receives_the_file_and_the_image(
    server: OpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("Otters hold hands.\n")
    (tmp_path / "pic.png").write_bytes(png(64, 32))
    server.queue(Reply.text("Read it."), Reply.text("Seen it."))
    session = session_in(server, tmp_path / "data")
    conversation = session.new_conversation()
    turn = await session.send(conversation, "summarise @notes.txt")
    await turn.generation.run()
    turn = await session.send(conversation, "and what is in @pic.png?")
    await turn.generation.run()

    first, second = (r.body["messages"] for r in server.chat_requests)
    assert first[-1] == {
        "role": "user",
        "content": "summarise @notes.txt\n\nnotes.txt:\n```\nOtters hold hands.\n```",
    }
    text_part, image_part = second[-1]["content"]
    assert text_part == {"type": "text", "text": "and what is in @pic.png?"}
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png(64, 32)
    assert second[0]["content"].endswith("Otters hold hands.\n```"), "history keeps the file"

    saved = json.loads(
        (tmp_path / "data" / "conversations" / f"{conversation.id}.json").read_text()
    )
    names = [[a["name"] for a in m.get("attachments", [])] for m in saved["messages"]]
    assert names == [["notes.txt"], [], ["pic.png"], []]
    _estimate, exact = session.prompt_estimate(conversation)
    assert not exact, "an image makes the estimate approximate"


async def test_a_refused_file_sends_nothing(
    server: OpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")
    session = session_in(server, tmp_path / "data")
    conversation = session.new_conversation()
    with pytest.raises(AttachmentError, match=r"blob\.bin is not a text file"):
        await session.send(conversation, "look at @blob.bin")
    assert not conversation.messages
    assert server.requests == []
