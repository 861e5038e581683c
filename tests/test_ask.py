"""``llmchat-tui ask``: the installed executable in a subprocess, against the loopback server.

Each test asserts stdout, stderr, the exit status, what the server received and
what is on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from app_pty import EXECUTABLE
from conftest import wait_for
from openai_server import OpenAIServer, Reply
from test_attachments import png

pytestmark = pytest.mark.skipif(EXECUTABLE is None, reason="llmchat-tui is not installed")


def ask(
    *args: str | Path,
    env: dict[str, str],
    data_dir: Path,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    assert EXECUTABLE is not None
    return subprocess.run(
        [EXECUTABLE, "ask", "--data-dir", str(data_dir), *map(str, args)],
        env=env,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=30,
    )


def saved(data_dir: Path) -> list[dict]:
    """Every conversation file in the data folder, oldest first."""
    folder = data_dir / "conversations"
    if not folder.is_dir():
        return []
    files = [json.loads(p.read_text("utf-8")) for p in folder.glob("*.json")]
    return sorted(files, key=lambda c: c["created_at"])


def contents(conversation: dict) -> list[tuple[str, str, str]]:
    return [(m["role"], m["content"], m["status"]) for m in conversation["messages"]]


def sent(server: OpenAIServer, index: int = -1) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in server.chat_requests[index].messages]


def test_prompt_streams_to_stdout_and_is_saved_where_the_app_lists_it(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    server.queue(Reply.text("Hello **world**, \x1b[31mred\x1b[0m.", delay=0.01))
    tee = tmp_path / "replies.md"
    result = ask("what", "is", "this?", "--tee", tee, env=app_env, data_dir=data_dir)
    assert (result.returncode, result.stderr) == (0, "")
    # Plain text through a pipe (no Markdown rendering), sanitized, with a final newline.
    assert result.stdout == "Hello **world**, ␛[31mred␛[0m.\n"
    assert sent(server) == [("user", "what is this?")]
    assert server.chat_requests[0].body["stream"] is True
    [conversation] = saved(data_dir)
    assert conversation["title"] == "what is this?"
    assert contents(conversation) == [
        ("user", "what is this?", "complete"),
        ("assistant", "Hello **world**, ␛[31mred␛[0m.", "complete"),
    ]
    assert "Hello **world**" in tee.read_text("utf-8")
    assert EXECUTABLE is not None
    listed = subprocess.run(
        [EXECUTABLE, "list", "--data-dir", str(data_dir)],
        env=app_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.stdout.split("\t")[0] == conversation["id"]


def test_prompt_from_stdin_and_piped_text_after_the_prompt(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path
) -> None:
    result = ask(env=app_env, data_dir=data_dir, stdin="only from the pipe\n")
    assert (result.returncode, result.stdout) == (0, "Echo: only from the pipe\n"), result.stderr
    assert sent(server) == [("user", "only from the pipe")]

    result = ask("-", env=app_env, data_dir=data_dir, stdin="dash\r\nmeans stdin\n")
    assert result.returncode == 0, result.stderr
    assert sent(server) == [("user", "dash\nmeans stdin")]

    diff = "diff --git a/x b/x\n-old\n+new\n"
    result = ask("review this", env=app_env, data_dir=data_dir, stdin=diff)
    assert result.returncode == 0, result.stderr
    assert sent(server) == [("user", "review this\n\ndiff --git a/x b/x\n-old\n+new")]
    assert [c["title"] for c in saved(data_dir)] == [
        "only from the pipe",
        "dash",
        "review this",
    ]


def test_continue_the_last_or_a_given_conversation_with_model_and_system(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path
) -> None:
    assert ask("first question", env=app_env, data_dir=data_dir).returncode == 0
    assert ask("other chat", env=app_env, data_dir=data_dir).returncode == 0
    first, other = saved(data_dir)

    result = ask("-c", "follow up", "-m", "model-b", env=app_env, data_dir=data_dir)
    assert (result.returncode, result.stdout) == (0, "Echo: follow up\n"), result.stderr
    assert sent(server) == [
        ("user", "other chat"),
        ("assistant", "Echo: other chat"),
        ("user", "follow up"),
    ]
    assert server.chat_requests[-1].body["model"] == "model-b"

    result = ask(
        "--conversation", first["id"][:20], "-s", "Be brief.", "second question",
        env=app_env, data_dir=data_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sent(server) == [
        ("system", "Be brief."),
        ("user", "first question"),
        ("assistant", "Echo: first question"),
        ("user", "second question"),
    ]
    first, other = saved(data_dir)
    assert len(first["messages"]) == 4 and first["system_prompt"] == "Be brief."
    assert [m["content"] for m in other["messages"]][-1] == "Echo: follow up"
    assert other["model"] == "model-b"


def test_no_save_writes_nothing(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path
) -> None:
    result = ask("--no-save", "a secret", env=app_env, data_dir=data_dir)
    assert (result.returncode, result.stdout, result.stderr) == (0, "Echo: a secret\n", "")
    assert not data_dir.exists()
    # Continuing without saving: the earlier conversation is read, and left as it was.
    assert ask("kept", env=app_env, data_dir=data_dir).returncode == 0
    [before] = saved(data_dir)
    result = ask("--no-save", "-c", "not kept", env=app_env, data_dir=data_dir)
    assert (result.returncode, result.stdout) == (0, "Echo: not kept\n"), result.stderr
    assert sent(server)[-1] == ("user", "not kept") and len(sent(server)) == 3
    assert saved(data_dir) == [before]


def test_exit_statuses_and_errors_on_stderr(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    # A failed request: 1, the reason on stderr, nothing on stdout, saved as an error.
    server.queue(Reply.http_error(401, "Incorrect API key provided"))
    result = ask("hello", env=app_env, data_dir=data_dir)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("llmchat-tui: ") and "API key" in result.stderr
    assert "Traceback" not in result.stderr
    [conversation] = saved(data_dir)
    assert conversation["messages"][-1]["status"] == "error"

    # A retry is said on stderr, and the reply that follows succeeds: 0.
    server.queue(Reply.http_error(503, "overloaded", retry_after=0), Reply.text("fine now"))
    result = ask("again", env=app_env, data_dir=data_dir)
    assert (result.returncode, result.stdout) == (0, "fine now\n"), result.stderr
    assert re.search(r"retrying in \d+\.\d s \(attempt 1 of \d+\)", result.stderr), result.stderr

    # Usage errors: 2.
    assert ask(env=app_env, data_dir=data_dir, stdin="  \n").returncode == 2  # empty prompt
    assert ask(env=app_env, data_dir=data_dir).returncode == 2  # nothing at all
    assert ask("--bogus", "x", env=app_env, data_dir=data_dir).returncode == 2
    assert ask("-c", "--conversation", "x", "y", env=app_env, data_dir=data_dir).returncode == 2
    broken = tmp_path / "broken.toml"
    broken.write_text("model = = 1\n")
    result = ask("--config", broken, "x", env=app_env, data_dir=data_dir)
    assert result.returncode == 2 and str(broken) in result.stderr

    # A conversation that is not there: 1.
    result = ask("--conversation", "01NOPE", "x", env=app_env, data_dir=data_dir)
    assert result.returncode == 1
    assert result.stderr == "llmchat-tui: no saved conversation 01NOPE (see llmchat-tui list)\n"
    empty = tmp_path / "empty"
    result = ask("-c", "x", env=app_env, data_dir=empty)
    assert result.returncode == 1 and "no saved conversation to continue" in result.stderr
    assert len(server.chat_requests) == 3  # none of these reached the server


def test_stats_go_to_stderr(server: OpenAIServer, app_env: dict[str, str], data_dir: Path) -> None:
    server.queue(
        Reply.text(
            "one two three four", delay=0.03, usage={"prompt_tokens": 7, "completion_tokens": 4}
        )
    )
    result = ask("--stats", "count", env=app_env, data_dir=data_dir)
    assert (result.returncode, result.stdout) == (0, "one two three four\n"), result.stderr
    assert re.fullmatch(
        r"llmchat-tui: gpt-4o-mini · TTFT \d+\.\d\d s · \d+\.\d tok/s · "
        r"7 prompt \+ 4 completion tokens\n",
        result.stderr,
    ), result.stderr


@pytest.mark.parametrize(
    ("signum", "status", "saved_as"),
    [(signal.SIGINT, 130, "cancelled"), (signal.SIGTERM, 143, "interrupted")],
)
def test_a_signal_mid_stream_keeps_the_partial_reply(
    server: OpenAIServer,
    app_env: dict[str, str],
    data_dir: Path,
    signum: int,
    status: int,
    saved_as: str,
) -> None:
    """Ctrl+C (SIGINT) stops the reply as cancelled, 130; kill (SIGTERM) as interrupted, 143."""
    resume = threading.Event()
    server.queue(Reply.text("alpha beta gamma delta", stall_after=2, resume=resume))
    assert EXECUTABLE is not None
    proc = subprocess.Popen(
        [EXECUTABLE, "ask", "--data-dir", str(data_dir), "stall please"],
        env=app_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out = bytearray()

    def read() -> None:
        assert proc.stdout is not None
        while chunk := os.read(proc.stdout.fileno(), 4096):
            out.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: bytes(out) == b"alpha beta ", 10, "the first two words on stdout")
        proc.send_signal(signum)
        assert proc.wait(10) == status
    finally:
        resume.set()
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert bytes(out) == b"alpha beta \n"
    assert "Traceback" not in err and "stopped" in err
    [conversation] = saved(data_dir)
    assert contents(conversation)[-1] == ("assistant", "alpha beta ", saved_as)
    wait_for(lambda: server.streams[0].client_disconnected, 5, "the server to see the hang-up")


# -- on a terminal -------------------------------------------------------------------

MARKDOWN = "# Plan\n\nSome **bold** words.\n\n- one\n- two\n\n```python\nx = 1\n```\n\nThe end."


def test_on_a_terminal_the_reply_is_rendered_markdown_and_raw_forces_plain(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path
) -> None:
    from terminal import Terminal

    assert EXECUTABLE is not None
    server.queue(Reply.text(MARKDOWN, delay=0.01), Reply.text(MARKDOWN))
    argv = [EXECUTABLE, "ask", "--data-dir", str(data_dir)]
    with Terminal([*argv, "render this"], env=app_env, columns=60, lines=24) as term:
        assert term.wait_for_exit() == 0
        screen = term.screen_text()
    lines = [line.rstrip() for line in screen.splitlines()]
    assert "Some bold words." in lines and " • one" in lines and " • two" in lines, screen
    assert "**" not in screen and "```" not in screen and "x = 1" in screen
    assert lines.index("Some bold words.") == lines.index(" • one") - 2  # one blank line
    assert "\x1b[1m" in term.raw.decode(errors="replace")  # bold, by escape sequence
    # The saved reply is the model's Markdown, not the rendering.
    assert saved(data_dir)[0]["messages"][-1]["content"] == MARKDOWN

    with Terminal([*argv, "--raw", "plain please"], env=app_env, columns=60, lines=24) as term:
        assert term.wait_for_exit() == 0
        assert "Some **bold** words." in term.screen_text()

    # No prompt, and stdin is the terminal: a usage error, nothing sent.
    with Terminal(argv, env=app_env, columns=80, lines=24) as term:
        assert term.wait_for_exit() == 2
        assert "give a PROMPT, or pipe one in" in term.screen_text()
    assert len(server.chat_requests) == 2


def test_ctrl_c_typed_on_the_terminal_stops_the_reply(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path
) -> None:
    from terminal import Terminal

    assert EXECUTABLE is not None
    resume = threading.Event()
    server.queue(Reply.text("first second third fourth", stall_after=2, resume=resume))
    argv = [EXECUTABLE, "ask", "--data-dir", str(data_dir), "stall"]
    try:
        with Terminal(argv, env=app_env, columns=80, lines=24) as term:
            term.wait_for_text("first second")
            term.send(b"\x03")  # the terminal turns it into SIGINT
            assert term.wait_for_exit() == 130
            screen = term.screen_text()
    finally:
        resume.set()
    assert "third" not in screen
    # Once, on one row: the echoed ^C did not leave a stale copy of the live row.
    assert screen.count("first second") == 1, screen
    assert "stopped; the partial reply is saved" in screen
    [conversation] = saved(data_dir)
    assert contents(conversation)[-1] == ("assistant", "first second ", "cancelled")


def test_attached_text_files_follow_the_prompt_as_fenced_blocks(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("buy milk\r\ncall Bob\n")
    readme = tmp_path / "README.md"
    readme.write_text("Run:\n\n```sh\nmake\n```\n")
    result = ask(
        "merge", "these", "-a", notes, "--attach", readme,
        env=app_env, data_dir=data_dir, stdin="piped\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = (
        "merge these\n\npiped\n\nnotes.txt:\n```\nbuy milk\ncall Bob\n```\n\n"
        "README.md:\n````\nRun:\n\n```sh\nmake\n```\n````"
    )
    assert sent(server) == [("user", expected)]
    [message] = saved(data_dir)[0]["messages"][:1]
    assert message["content"] == "merge these\n\npiped"
    assert [a["name"] for a in message["attachments"]] == ["notes.txt", "README.md"]

    image = tmp_path / "cat.png"
    image.write_bytes(png(8, 8))
    result = ask("what is this", "-a", image, "--no-save", env=app_env, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    text_part, image_part = server.chat_requests[-1].body["messages"][-1]["content"]
    assert text_part == {"type": "text", "text": "what is this"}
    assert image_part["image_url"]["url"].startswith("data:image/png;base64,")
    kept = data_dir / "attachments" / hashlib.sha256(png(8, 8)).hexdigest()
    assert not kept.exists(), "--no-save writes nothing, attachments included"

    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02")
    for path, why in (
        (binary, "is not a text file"),
        (tmp_path / "missing.txt", "cannot be read"),
    ):
        result = ask("x", "-a", path, env=app_env, data_dir=data_dir)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.startswith("llmchat-tui: ") and why in result.stderr, result.stderr
    assert len(server.chat_requests) == 2


def test_a_data_folder_in_use_is_refused_unless_nothing_is_saved(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path
) -> None:
    from llmchat_tui.store import Store

    app = Store(data_dir)  # holds the lock as the running app would
    app.acquire_lock()
    try:
        result = ask("hello", env=app_env, data_dir=data_dir)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == (
            f"llmchat-tui: another llmchat-tui (pid {os.getpid()}) is using {data_dir}; "
            "close it or use --data-dir, or use --no-save\n"
        )
        assert server.chat_requests == []
        result = ask("--no-save", "hello", env=app_env, data_dir=data_dir)
        assert (result.returncode, result.stdout) == (0, "Echo: hello\n"), result.stderr
    finally:
        app.close()


def test_bytes_that_are_not_utf8_are_replaced_with_a_warning(
    server: OpenAIServer, app_env: dict[str, str], data_dir: Path
) -> None:
    assert EXECUTABLE is not None
    env = {**app_env, "LC_ALL": "C", "LANG": "C"}  # Python's UTF-8 mode: surrogateescape
    done = subprocess.run(
        [EXECUTABLE, "ask", "--no-save", "--data-dir", str(data_dir), "caf\udce9"],
        env=env,
        input=b"latin-1 \xe9t\xe9\n",
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert sent(server) == [("user", "caf\ufffd\n\nlatin-1 \ufffdt\ufffd")]
    assert done.stderr.decode().splitlines() == [
        "llmchat-tui: the prompt is not all UTF-8: the bytes that are not are sent as �",
        "llmchat-tui: stdin is not all UTF-8: the bytes that are not are sent as �",
    ]
