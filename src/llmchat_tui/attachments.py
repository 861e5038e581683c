"""Files attached to a message: text files go to the model as a fenced block headed
by the file's name, images (PNG, JPEG, GIF, WebP) as ``image_url`` parts with a
``data:`` URL.

A message names its files with ``@path`` (relative to the working directory, ``~``
expanded); only words that name an existing file count, so ``@someone`` is text.
The bytes are kept content-addressed under the data folder (``attachments/<sha256>``,
private), so a conversation can be sent again later even if the file moved.

No Textual import here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import os
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmchat_tui.fields import Converted, Unusable
from llmchat_tui.sanitize import clean_line, normalize_newlines

#: Limits checked before anything is sent.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_TEXT_BYTES = 2 * 1024 * 1024
FOLDER = "attachments"

IMAGE_TYPES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_MENTION = re.compile(r"(?<![\w@])@(\S+)")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class AttachmentError(ValueError):
    """A file that cannot be attached, worded for the user (nothing was sent)."""


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message (its bytes are in the store, by ``sha256``)."""

    name: str
    mime: str
    sha256: str
    size: int
    width: int | None = None
    height: int | None = None

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")

    def label(self) -> str:
        """``notes.txt (1.2 KB)``: how the attachment shows on its message."""
        return f"{self.name} ({human_size(self.size)})"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "mime": self.mime,
            "sha256": self.sha256,
            "size": self.size,
        }
        if self.width is not None and self.height is not None:
            data.update(width=self.width, height=self.height)
        return data

    @classmethod
    def from_dict(cls, raw: Any) -> Attachment:
        """Read a saved attachment; raises :class:`~llmchat_tui.fields.Unusable`."""
        if not isinstance(raw, Mapping):
            raise Unusable("not an attachment")
        name, mime, sha, size = raw.get("name"), raw.get("mime"), raw.get("sha256"), raw.get("size")
        if not (isinstance(name, str) and isinstance(mime, str) and isinstance(sha, str)):
            raise Unusable("not an attachment")
        if not _SHA.match(sha) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise Unusable("not an attachment")
        if not (mime == "text/plain" or mime in IMAGE_TYPES.values() or mime == "image/webp"):
            raise Unusable("not an attachment type")
        width, height = raw.get("width"), raw.get("height")
        dims = isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0
        return cls(
            clean_line(name, 200),
            mime,
            sha,
            size,
            width if dims else None,
            height if dims else None,
        )


def read_attachments(raw: Any) -> Any:
    """A field converter: a list of saved attachments (unreadable entries dropped)."""
    if not isinstance(raw, list):
        raise Unusable("not a list of attachments")
    found = []
    for item in raw:
        try:
            found.append(Attachment.from_dict(item))
        except Unusable:
            continue
    if len(found) != len(raw):
        return Converted(found)
    return found


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


# -- which files a message names ---------------------------------------------------


def mentioned_paths(text: str, cwd: Path) -> list[Path]:
    """The existing files named by ``@path`` words in ``text``, in order, once each.

    A trailing ``,``/``.``/``)``/``:``/``;`` is not part of the path (``see @a.txt.``).
    """
    found: list[Path] = []
    for match in _MENTION.finditer(text):
        word = match.group(1)
        for candidate in (word, word.rstrip(",.;:)!?")):
            path = (cwd / Path(candidate).expanduser()).resolve() if candidate else None
            if path is not None and path.is_file():
                if path not in found:
                    found.append(path)
                break
    return found


def complete_path(word: str, cwd: Path) -> tuple[str, list[str]]:
    """Complete the ``@`` word being typed (without the ``@``).

    Returns the completed word (the longest common prefix of the matches; folders
    end in ``/``) and the names that match, for showing. Hidden files only when
    the typed name starts with a dot.
    """
    head, sep, stem = word.rpartition("/")
    typed_folder = head + sep
    folder = cwd / os.path.expanduser(typed_folder) if typed_folder else cwd
    try:
        with os.scandir(folder) as entries:
            names = sorted(
                entry.name + ("/" if entry.is_dir() else "")
                for entry in entries
                if entry.name.startswith(stem)
                and (stem.startswith(".") or not entry.name.startswith("."))
            )
    except OSError:
        return word, []
    if not names:
        return word, []
    # Character by character on purpose: "no" completes to "notes" from notes-a, notes-b.
    return typed_folder + os.path.commonprefix(names), names  # noqa: RUF071


#: Folders the file picker does not walk into.
SKIPPED_FOLDERS = {"node_modules", "__pycache__", "venv", "target", "dist", "build"}


def list_files(cwd: Path, limit: int = 5000, depth: int = 4) -> list[str]:
    """Files under ``cwd`` for the picker: relative paths, hidden and bulky folders
    skipped, names with spaces left out (an ``@`` word ends at a space), at most
    ``limit`` of them, ``depth`` folders deep."""
    found: list[str] = []
    base = len(cwd.parts)
    for folder, dirs, files in os.walk(cwd):
        here = Path(folder)
        if len(here.parts) - base >= depth:
            dirs[:] = []
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS and " " not in d
        )
        for name in sorted(files):
            if name.startswith(".") or " " in name:
                continue
            found.append(str((here / name).relative_to(cwd)))
            if len(found) >= limit:
                return found
    return found


# -- reading and keeping files -----------------------------------------------------


def sniff_image(data: bytes) -> str | None:
    """The image type of ``data`` by its first bytes, or None."""
    for magic, mime in IMAGE_TYPES.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes, mime: str) -> tuple[int, int] | None:
    """Width and height from the image's header, or None if it cannot be read."""
    try:
        if mime == "image/png" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if mime == "image/gif":
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if mime == "image/webp":
            chunk = data[12:16]
            if chunk == b"VP8 ":
                width, height = struct.unpack("<HH", data[26:30])
                return width & 0x3FFF, height & 0x3FFF
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if chunk == b"VP8X":
                width = int.from_bytes(data[24:27], "little") + 1
                height = int.from_bytes(data[27:30], "little") + 1
                return width, height
        if mime == "image/jpeg":
            at = 2
            while at + 9 < len(data):
                if data[at] != 0xFF:
                    return None
                marker = data[at + 1]
                length = struct.unpack(">H", data[at + 2 : at + 4])[0]
                if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB):
                    height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                    return width, height
                at += 2 + length
    except struct.error:
        return None
    return None


def image_tokens(width: int | None, height: int | None) -> int:
    """OpenAI's estimate for an image at high detail: 85 + 170 per 512-pixel tile
    after fitting in 2048×2048 and scaling the short side to 768. Unknown size:
    the cost of a 1024×1024 image."""
    wide, high = (float(width), float(height)) if width and height else (1024.0, 1024.0)
    scale = min(1.0, 2048 / max(wide, high))
    wide, high = wide * scale, high * scale
    scale = min(1.0, 768 / min(wide, high))
    wide, high = wide * scale, high * scale
    return 85 + 170 * math.ceil(wide / 512) * math.ceil(high / 512)


def load(path: Path) -> tuple[Attachment, bytes]:
    """Read ``path`` as an attachment; raises :class:`AttachmentError` with the reason."""
    shown = clean_line(path.name, 120)
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise AttachmentError(
                f"{shown} is {human_size(size)}: files over {human_size(MAX_IMAGE_BYTES)} "
                "cannot be attached"
            )
        data = path.read_bytes()
    except OSError as error:
        raise AttachmentError(f"{shown} cannot be read: {error.strerror or error}") from None
    sha = hashlib.sha256(data).hexdigest()
    mime = sniff_image(data)
    if mime is not None:
        dims = image_size(data, mime)
        width, height = dims if dims else (None, None)
        return Attachment(shown, mime, sha, len(data), width, height), data
    if len(data) > MAX_TEXT_BYTES:
        raise AttachmentError(
            f"{shown} is {human_size(len(data))}: text files over "
            f"{human_size(MAX_TEXT_BYTES)} cannot be attached"
        )
    if b"\x00" in data[:65536]:
        raise AttachmentError(
            f"{shown} is not a text file or an image (PNG, JPEG, GIF, WebP), so it "
            "cannot be attached"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise AttachmentError(f"{shown} is not UTF-8 text, so it cannot be attached") from None
    return Attachment(shown, "text/plain", sha, len(data)), data


# -- what the request carries --------------------------------------------------------


def fenced(name: str, text: str) -> str:
    """``text`` as a Markdown block headed by ``name``, with a fence longer than any
    run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{name}:\n{fence}\n{text.rstrip(chr(10))}\n{fence}"


#: Reads a kept attachment's bytes (the store's ``read_attachment``); raises
#: :class:`AttachmentError` when they are gone.
Reader = Callable[[Attachment], bytes]


def request_content(
    text: str, attached: list[Attachment], read: Reader
) -> str | list[dict[str, Any]]:
    """The ``content`` of a user message with its files: a string when there are no
    images, else a list of parts (the text first, then each image)."""
    blocks = [text]
    images: list[dict[str, Any]] = []
    for attachment in attached:
        try:
            part = _part(read, attachment)
        except AttachmentError as missing:
            blocks.append(f"[{missing}]")
            continue
        if isinstance(part, str):
            blocks.append(part)
        else:
            images.append(part)
    joined = "\n\n".join(block for block in blocks if block)
    if not images:
        return joined
    return [{"type": "text", "text": joined}, *images]


@functools.lru_cache(maxsize=16)
def _part(read: Reader, attachment: Attachment) -> str | dict[str, Any]:
    """One attachment as the request carries it (cached: estimates are made often)."""
    data = read(attachment)
    if attachment.is_image:
        return image_part(attachment, data)
    return fenced(attachment.name, normalize_newlines(data.decode("utf-8", errors="replace")))


def image_part(attachment: Attachment, data: bytes) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{attachment.mime};base64,{encoded}"}}


@functools.lru_cache(maxsize=64)
def data_url_tokens(url: str) -> int:
    """The token estimate of an ``image_url`` part from its ``data:`` URL (the size is
    read from the image's header; cached per URL)."""
    head, _comma, payload = url.partition(",")
    mime = head[5:].split(";")[0] if head.startswith("data:") else ""
    try:
        start = base64.b64decode(payload[:349_528])  # enough for any header we read
    except ValueError:
        return image_tokens(None, None)
    dims = image_size(start, mime) if mime else None
    return image_tokens(*(dims or (None, None)))
