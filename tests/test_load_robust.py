"""Hand-edited conversation files: loading coerces or drops bad fields, never crashes.

Every test starts from a real file written by :meth:`Store.save`, edits its
JSON the way a person with a text editor might, and opens it with a fresh
:class:`Store`, as the app does at start-up.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import types
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest

from llmchat_tui import exporting
from llmchat_tui.budget import Price
from llmchat_tui.models import Conversation, Message, Status, Usage
from llmchat_tui.store import Store, StoreError, encode_conversation
from llmchat_tui.widgets.messages import message_footer
from llmchat_tui.widgets.sidebar import relative_time

# ---------------------------------------------------------------------------
# a real file, and a way to check what loading gives back
# ---------------------------------------------------------------------------


def full_conversation() -> Conversation:
    """A conversation with every field of the head and of each message set."""
    conv = Conversation(
        title="Lighthouses",
        title_is_custom=True,
        model="gpt-4o-mini",
        base_url="http://127.0.0.1:9/v1",
        profile="local",
        system_prompt="Be brief.",
        draft="half a thought",
    )
    conv.extend(
        [
            Message(role="user", content="How tall is the Eddystone lighthouse?"),
            Message(
                role="assistant",
                content="About **49 m**.",
                reasoning="Recall the 1882 tower.",
                error="HTTP 500: upstream hiccup",
                model="gpt-4o-mini",
                finish_reason="stop",
                ttft_s=0.41,
                tokens_per_s=62.3,
                usage=Usage(prompt_tokens=120, completion_tokens=300, source="server"),
            ),
        ]
    )
    return conv


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, str]:
    """(data folder, conversation id) of a conversation the app saved."""
    data = tmp_path / "data"
    store = Store(data)
    conv = full_conversation()
    store.save(conv)
    store.close()
    return data, conv.id


def file_of(data: Path, conv_id: str) -> Path:
    return data / "conversations" / f"{conv_id}.json"


def edit(data: Path, conv_id: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    """Apply ``change`` to the file's JSON; return the bytes now on disk."""
    path = file_of(data, conv_id)
    doc = json.loads(path.read_bytes())
    change(doc)
    raw = json.dumps(doc, indent=1).encode()
    path.write_bytes(raw)
    return raw


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the declared type ``hint`` (bool is not an int here)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(conforms(value, arg) for arg in get_args(hint))
    if origin is Literal:
        return type(value) is str and value in get_args(hint)
    if origin is list:
        (item,) = get_args(hint)
        return type(value) is list and all(conforms(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint in (bool, int, float, str):
        return type(value) is hint
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return isinstance(value, hint) and all_fields_conform(value)
    return isinstance(value, hint)


def all_fields_conform(obj: Any) -> bool:
    hints = get_type_hints(type(obj))
    return all(conforms(getattr(obj, f.name), hints[f.name]) for f in dataclasses.fields(obj))


def render_everything(conv: Conversation) -> None:
    """Everything that formats a loaded conversation's fields, as the app and export do."""
    exporting.to_markdown(conv)
    exporting.to_json(conv)
    encode_conversation(conv)
    relative_time(conv.updated_at)
    for message in conv.messages:
        relative_time(message.created_at)
        if message.role == "assistant":
            message_footer(message)
            message_footer(message, Price(input_per_million=1.5, output_per_million=6.0))


def open_fresh(data: Path, conv_id: str) -> tuple[Store, Conversation]:
    store = Store(data)
    store.open()
    return store, store.load(conv_id)


# ---------------------------------------------------------------------------
# the cases people actually write
# ---------------------------------------------------------------------------


def nth_message(doc: dict[str, Any], number: int) -> dict[str, Any]:
    message: dict[str, Any] = doc["messages"][number]
    return message


def nth_usage(doc: dict[str, Any], number: int) -> dict[str, Any]:
    usage: dict[str, Any] = doc["messages"][number]["usage"]
    return usage


def usage_of(conversation: Any) -> Any:
    """The second message's usage (the reply's)."""
    return conversation.messages[1].usage


def reply(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["messages"][1]


Case = tuple[str, Callable[[dict[str, Any]], None], Callable[[Conversation], Any], Any]
NAMED_CASES: list[Case] = [
    (
        "error is a number",
        lambda d: reply(d).update(error=123),
        lambda c: c.messages[1].error,
        "123",
    ),
    (
        "ttft_s is a word",
        lambda d: reply(d).update(ttft_s="fast"),
        lambda c: c.messages[1].ttft_s,
        None,
    ),
    (
        "tokens_per_s is a numeric string",
        lambda d: reply(d).update(tokens_per_s="62.5"),
        lambda c: c.messages[1].tokens_per_s,
        62.5,
    ),
    (
        "completion_tokens is a numeric string",
        lambda d: reply(d)["usage"].update(completion_tokens="12"),
        lambda c: usage_of(c).completion_tokens,
        12,
    ),
    (
        "prompt_tokens is a word",
        lambda d: reply(d)["usage"].update(prompt_tokens="many"),
        lambda c: usage_of(c).prompt_tokens,
        None,
    ),
    (
        "usage is a string",
        lambda d: reply(d).update(usage="lots"),
        lambda c: c.messages[1].usage,
        None,
    ),
    (
        "message model is an object",
        lambda d: reply(d).update(model={}),
        lambda c: c.messages[1].model,
        None,
    ),
    (
        "conversation model is an object",
        lambda d: d.update(model={"name": "x"}),
        lambda c: c.model,
        "",
    ),
    (
        "title_is_custom is the string false",
        lambda d: d.update(title_is_custom="false"),
        lambda c: c.title_is_custom,
        False,
    ),
    (
        "updated_at has no time zone",
        lambda d: d.update(updated_at="2024-01-02T03:04:05"),
        lambda c: c.updated_at,
        "2024-01-02T03:04:05.000000Z",
    ),
    (
        "message content is a number",
        lambda d: d["messages"][0].update(content=42),
        lambda c: c.messages[0].content,
        "42",
    ),
    (
        "status is unknown",
        lambda d: reply(d).update(status="done"),
        lambda c: c.messages[1].status,
        Status.COMPLETE,
    ),
]


@pytest.mark.parametrize(
    "change,read,expected", [c[1:] for c in NAMED_CASES], ids=[c[0] for c in NAMED_CASES]
)
def test_a_hand_edited_field_is_coerced_or_dropped(
    saved: tuple[Path, str],
    change: Callable[[dict[str, Any]], None],
    read: Callable[[Conversation], Any],
    expected: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data, conv_id = saved
    raw = edit(data, conv_id, change)

    store = Store(data)
    assert store.open() == []  # listed at start-up, not skipped
    assert [s.id for s in store.summaries()] == [conv_id]
    with caplog.at_level(logging.WARNING, logger="llmchat_tui.store"):
        conv = store.load(conv_id)
    render_everything(conv)  # today: TypeError/ValueError/AttributeError here
    assert read(conv) == expected
    assert all_fields_conform(conv)

    warnings = store.warnings_for(conv_id)
    assert len(warnings) == 1, warnings
    assert str(file_of(data, conv_id)) in warnings[0]
    assert warnings[0] in caplog.text
    # The file is the user's: loading never rewrites it.
    assert file_of(data, conv_id).read_bytes() == raw
    # The rest of the conversation is intact.
    assert len(conv.messages) == 2
    assert conv.messages[1].content == "About **49 m**."


def test_a_warning_names_the_file_the_message_and_the_field(saved: tuple[Path, str]) -> None:
    data, conv_id = saved
    message_id = json.loads(file_of(data, conv_id).read_bytes())["messages"][1]["id"]
    edit(data, conv_id, lambda d: reply(d).update(ttft_s="fast"))
    store, _ = open_fresh(data, conv_id)
    [warning] = store.warnings_for(conv_id)
    assert warning.startswith(f"{file_of(data, conv_id)}: message 2 (id {message_id}): ttft_s")
    assert '"fast"' in warning


def test_an_int_for_a_float_is_read_silently(saved: tuple[Path, str]) -> None:
    data, conv_id = saved
    edit(data, conv_id, lambda d: reply(d).update(ttft_s=1, tokens_per_s=60))
    store, conv = open_fresh(data, conv_id)
    assert (conv.messages[1].ttft_s, conv.messages[1].tokens_per_s) == (1.0, 60.0)
    assert type(conv.messages[1].ttft_s) is float
    assert store.warnings_for(conv_id) == []


def test_a_clean_file_has_no_warnings_and_old_warnings_are_replaced(
    saved: tuple[Path, str],
) -> None:
    data, conv_id = saved
    store, conv = open_fresh(data, conv_id)
    assert store.warnings_for(conv_id) == []
    assert conv == full_conversation_like(conv)
    edit(data, conv_id, lambda d: reply(d).update(error=[1]))
    store.load(conv_id)
    assert len(store.warnings_for(conv_id)) == 1
    edit(data, conv_id, lambda d: reply(d).update(error=None))
    store.load(conv_id)
    assert store.warnings_for(conv_id) == []
    assert store.warnings_for("01NEVERLOADED") == []


def full_conversation_like(conv: Conversation) -> Conversation:
    """The fixture's conversation with ``conv``'s generated ids and times."""
    expected = full_conversation()
    expected.id, expected.created_at, expected.updated_at = (
        conv.id,
        conv.created_at,
        conv.updated_at,
    )
    for mine, theirs in zip(expected.nodes, conv.nodes, strict=True):
        mine.id, mine.parent_id, mine.created_at = theirs.id, theirs.parent_id, theirs.created_at
    expected.current_id = conv.current_id
    expected.changed()
    return expected


def test_unknown_role_is_still_skipped_at_start_and_by_load(saved: tuple[Path, str]) -> None:
    data, conv_id = saved
    raw = edit(data, conv_id, lambda d: reply(d).update(role="wizard"))
    store = Store(data)
    [skipped] = store.open()
    assert "unknown message role" in skipped.reason
    with pytest.raises(StoreError, match="unknown message role"):
        store.load(conv_id)
    assert file_of(data, conv_id).read_bytes() == raw


# ---------------------------------------------------------------------------
# the fuzz test: every field, every JSON type, every cut
# ---------------------------------------------------------------------------

RETYPES: dict[str, Any] = {
    "int": 7,
    "float": 2.5,
    "bool": True,
    "null": None,
    "string": "fast",
    "list": [1, "x"],
    "object": {"a": 1},
}
DELETE = object()

#: Fields without which a file is not a conversation: changing them may skip it.
STRUCTURAL = {("head", "schema_version"), ("head", "messages"), ("message", "role")}


def variants(doc: dict[str, Any]) -> list[tuple[str, bool, dict[str, Any]]]:
    """(name, may fail, edited document) for every field x (delete + every retype)."""
    out = []
    values = [("deleted", DELETE), *RETYPES.items()]

    def each(kind: str, get: Callable[[dict[str, Any]], dict[str, Any]], label: str) -> None:
        for key in list(get(doc)):
            for how, value in values:
                copy = json.loads(json.dumps(doc))
                target = get(copy)
                if value is DELETE:
                    del target[key]
                else:
                    target[key] = value
                out.append((f"{label}.{key} {how}", (kind, key) in STRUCTURAL, copy))

    each("head", lambda d: d, "head")
    for number, message in enumerate(doc["messages"]):
        label = f"message{number + 1}"
        each("message", partial(nth_message, number=number), label)
        if isinstance(message.get("usage"), dict):
            each("usage", partial(nth_usage, number=number), label + ".usage")
    return out


def check_variant(data: Path, conv_id: str, raw: bytes, may_fail: bool, name: str) -> str:
    """Write ``raw``, open a fresh store, load; return "loaded" or "skipped"."""
    path = file_of(data, conv_id)
    path.write_bytes(raw)
    (data / "index.json").unlink(missing_ok=True)
    store = Store(data)
    skipped = store.open()
    listed = [s.id for s in store.summaries()] == [conv_id]
    try:
        conv = store.load(conv_id)
    except StoreError:
        assert may_fail, f"{name}: load refused a file it should open"
        assert not listed and len(skipped) == 1, f"{name}: the index and load disagree"
        outcome = "skipped"
    else:
        assert listed and skipped == [], f"{name}: the index and load disagree"
        assert all_fields_conform(conv), f"{name}: {conv!r}"
        render_everything(conv)
        outcome = "loaded"
    assert path.read_bytes() == raw, f"{name}: the file was rewritten"
    return outcome


def test_fuzz_every_field_every_type(saved: tuple[Path, str]) -> None:
    data, conv_id = saved
    doc = json.loads(file_of(data, conv_id).read_bytes())
    cases = variants(doc)
    assert len(cases) > 8 * 25  # head (11) + user (5) + assistant (12) + usage (3) fields
    outcomes = {}
    for name, may_fail, edited in cases:
        raw = json.dumps(edited, indent=1).encode()
        outcomes[name] = check_variant(data, conv_id, raw, may_fail, name)
    # Only the structural fields ever make a file unusable.
    assert {n for n, o in outcomes.items() if o == "skipped"} <= {
        n for n, may_fail, _ in cases if may_fail
    }
    assert outcomes["message2.ttft_s string"] == "loaded"
    assert outcomes["head.messages object"] == "skipped"


def test_fuzz_whole_messages_retyped(saved: tuple[Path, str]) -> None:
    data, conv_id = saved
    doc = json.loads(file_of(data, conv_id).read_bytes())
    for number in range(len(doc["messages"])):
        for how, value in RETYPES.items():
            copy = json.loads(json.dumps(doc))
            copy["messages"][number] = value
            raw = json.dumps(copy).encode()
            check_variant(data, conv_id, raw, True, f"message{number + 1} {how}")


def test_fuzz_truncated_files(saved: tuple[Path, str]) -> None:
    data, conv_id = saved
    whole = file_of(data, conv_id).read_bytes()
    offsets = range(len(whole))  # every byte
    outcomes = [check_variant(data, conv_id, whole[:cut], True, f"cut at {cut}") for cut in offsets]
    # A cut inside the JSON is never valid; only losing the final newline is harmless.
    assert outcomes[:-1] == ["skipped"] * (len(offsets) - 1)
    assert outcomes[-1] == "loaded"


# ---------------------------------------------------------------------------
# the converters on their own
# ---------------------------------------------------------------------------

CONVERTER_CASES = [
    ("count", 3, 3, False),
    ("count", 3.0, 3, True),
    ("count", "12", 12, True),
    ("count", " 1e3 ", 1000, True),
    ("count", 3.5, None, True),
    ("count", -1, None, True),
    ("count", True, None, True),
    ("count", "NaN", None, True),
    ("seconds", 1, 1.0, False),
    ("seconds", 0.25, 0.25, False),
    ("seconds", "0.5", 0.5, True),
    ("seconds", "inf", None, True),
    ("seconds", -0.1, None, True),
    ("seconds", 10**400, None, True),
    ("seconds", False, None, True),
    ("flag", 1, True, True),
    ("flag", "No", False, True),
    ("flag", 2, None, True),
    ("text", 2.5, "2.5", True),
    ("text", True, None, True),
    ("identifier", "", None, True),
    ("identifier", 17, "17", True),
]


@pytest.mark.parametrize("name,raw,expected,noted", CONVERTER_CASES)
def test_converters(name: str, raw: Any, expected: Any, noted: bool) -> None:
    from llmchat_tui import fields

    notes: list[tuple[str, Any, str]] = []
    values = fields.read_fields(
        {"x": raw}, [("x", getattr(fields, name))], lambda *note: notes.append(note)
    )
    assert values.get("x") == expected
    assert type(values.get("x")) is type(expected)
    assert bool(notes) == noted
