"""The index cache's entries: what ``index.json`` keeps of each conversation, compactly.

One entry per conversation is a list of :data:`FIELDS` (``[title, updated_at,
created_at, model, message_count, mtime_ns, size, ino]``): with 100,000
conversations, a dict per entry was most of the index's memory and of the time
to read it (benchmark B11). Version 1 files (a dict per entry) are still read.

Standard library only; no Textual.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from llmchat_tui.models import SCHEMA_VERSION, parse_iso

#: Version of the layout of ``index.json``; another one is rebuilt (1 is converted).
INDEX_VERSION = 2

#: The fields of an entry, in order.
FIELDS = (
    "title",
    "updated_at",
    "created_at",
    "model",
    "message_count",
    "mtime_ns",
    "size",
    "ino",
)
_WIDTH = len(FIELDS)

Entry = list[Any]

#: The form of every timestamp the app writes (``models.now_iso``): such strings
#: sort as the times they stand for, so they are their own sort key.
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def make_entry(
    title: str, updated_at: str, created_at: str, model: str, count: int, stat: os.stat_result
) -> Entry:
    """An entry for a conversation file whose stat is ``stat``."""
    return [
        title,
        updated_at,
        created_at,
        sys.intern(model),  # a few models for thousands of conversations
        count,
        stat.st_mtime_ns,
        stat.st_size,
        stat.st_ino,
    ]


def stat_key(stat: os.stat_result) -> tuple[int, int, int]:
    """What must match for an entry to vouch for a file.

    The inode changes on every atomic write, so it catches rewrites that
    keep the size within one mtime tick.
    """
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def key_of(entry: Entry) -> tuple[Any, ...]:
    """The (mtime_ns, size, ino) an entry was made for."""
    return (entry[5], entry[6], entry[7])


def valid(entry: Any) -> bool:
    """Whether ``entry`` (read from a file) has the shape of an entry.

    Spelled out, not a loop over :data:`FIELDS`: it runs for every
    conversation at every start (the loop was 8 % of a start with 100,000).
    """
    return (
        type(entry) is list
        and len(entry) == _WIDTH
        and type(entry[0]) is str
        and type(entry[1]) is str
        and type(entry[2]) is str
        and type(entry[3]) is str
        and type(entry[4]) is int
        and type(entry[5]) is int
        and type(entry[6]) is int
        and type(entry[7]) is int
    )


def sort_key(updated_at: str) -> str:
    """A string that sorts as the time ``updated_at`` stands for ("" if none).

    The app's own timestamps are returned as they are (no parsing, no new
    object); any other ISO 8601 text is converted to that form in UTC.
    """
    if _CANONICAL.fullmatch(updated_at):
        return updated_at
    try:
        moment = datetime.fromtimestamp(parse_iso(updated_at).timestamp(), UTC)
    except (ValueError, TypeError, OverflowError, OSError):
        return ""
    return moment.strftime(_FORMAT)


def parse_index(raw: bytes) -> tuple[dict[str, Any], dict[str, Any], bool] | None:
    """(entries, skipped, current) of an ``index.json``'s bytes; None if unusable.

    ``current`` is false for a version 1 index, whose entries are converted
    (it should be written again). Entries are not checked here: the store
    checks the one it uses (:func:`valid`) when its file's stat matches.
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    version = data.get("version")
    entries = data.get("conversations")
    skipped = data.get("skipped")
    if (
        version not in (1, INDEX_VERSION)
        or data.get("schema_version") != SCHEMA_VERSION
        or not isinstance(entries, dict)
        or not isinstance(skipped, dict)
    ):
        return None
    if version == 1:
        entries = {
            conv_id: [entry.get(name) for name in FIELDS]
            for conv_id, entry in entries.items()
            if isinstance(entry, dict)
        }
    return entries, skipped, version == INDEX_VERSION


#: Entries per chunk of an index being written.
CHUNK = 2000


def encode_index(entries: dict[str, Entry], skipped: dict[str, dict[str, Any]]) -> Iterator[bytes]:
    """The bytes of ``index.json``, in chunks of :data:`CHUNK` entries.

    One ``json.dumps`` of 100,000 entries held the text, its encoder's parts and
    the bytes at once: +43 MB of peak RSS when a start rebuilt the index (B11).
    """

    def dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    yield b'{"version":%d,"schema_version":%d,"conversations":{' % (INDEX_VERSION, SCHEMA_VERSION)
    ids = list(entries)
    for start in range(0, len(ids), CHUNK):
        part = {conv_id: entries[conv_id] for conv_id in ids[start : start + CHUNK]}
        yield (b"," if start else b"") + dumps(part)[1:-1]
    yield b'},"skipped":' + dumps(skipped) + b"}"
