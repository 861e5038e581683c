"""Every folder the app creates is 0700 and every file 0600, whatever the umask.

The writers run in a child process started with ``umask 000`` (umask is
process-wide, so the test process's own umask is never changed), with every
XDG folder pointing into a fresh temporary home whose parents do not exist
yet. Then every path under that home is checked on disk.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import logging, os, sys
    from pathlib import Path

    os.umask(0)
    home, out = Path(sys.argv[1]), Path(sys.argv[2])

    from llmchat_tui import cli, logs, tokens
    from llmchat_tui.config_file import remember_server
    from llmchat_tui.models import Conversation, Message
    from llmchat_tui.paths import default_config_file
    from llmchat_tui.store import Store

    # state/log: the rotating log file, before and after a rollover
    log_file = logs.setup_logging("sk-secret")
    logging.getLogger("llmchat_tui").warning("one line")
    for handler in logging.getLogger().handlers:
        if hasattr(handler, "doRollover"):
            handler.doRollover()
    logging.getLogger("llmchat_tui").warning("after the rollover")
    assert log_file is not None and log_file.with_name(log_file.name + ".1").exists()

    # cache: the token data seeded for tiktoken
    tokens.seed_cache("cl100k_base")

    # config: the file written when a local server is picked at first run
    remember_server(default_config_file(), "http://127.0.0.1:8080/v1", "local")

    # data: conversations, index, lock, trash
    store = Store(Path(os.environ["LLMCHAT_DATA_DIR"]))
    store.open()
    store.acquire_lock()
    conv = Conversation()
    conv.add(Message(role="user", content="hello"))
    store.save(conv)
    kept = Conversation()
    kept.add(Message(role="user", content="kept"))
    store.save(kept)
    store.trash(conv.id)
    store.trash_message(kept, kept.messages[0])
    store.close()

    # exports: `llmchat-tui export -o FILE`
    code = cli.main(["export", "--last", "-o", str(out / "chat.md")])
    assert code == 0, code
    """
)


def test_folders_0700_files_0600_under_umask_000(tmp_path: Path) -> None:
    home = tmp_path / "home"  # does not exist: the app creates every level
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    env = dict(os.environ)
    env.update(
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        LLMCHAT_DATA_DIR=str(home / "data" / "llmchat-tui"),
        PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.pop("TIKTOKEN_CACHE_DIR", None)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(home), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

    wrong = []
    seen = {"dirs": 0, "files": 0}
    for folder, dirs, files in os.walk(home):
        for name in dirs:
            path = Path(folder, name)
            seen["dirs"] += 1
            if stat.S_IMODE(path.lstat().st_mode) != 0o700:
                wrong.append(f"{oct(stat.S_IMODE(path.lstat().st_mode))} {path}")
        for name in files:
            path = Path(folder, name)
            seen["files"] += 1
            if stat.S_IMODE(path.lstat().st_mode) != 0o600:
                wrong.append(f"{oct(stat.S_IMODE(path.lstat().st_mode))} {path}")
    if stat.S_IMODE(home.stat().st_mode) != 0o700:
        wrong.append(f"{oct(stat.S_IMODE(home.stat().st_mode))} {home}")
    export = out / "chat.md"
    if stat.S_IMODE(export.stat().st_mode) != 0o600:
        wrong.append(f"{oct(stat.S_IMODE(export.stat().st_mode))} {export}")
    assert wrong == [], "\n".join(wrong)
    # What was checked: state/llmchat-tui/log + 2 log files, cache/llmchat-tui/tiktoken
    # + 1 file, config/llmchat-tui + config.toml, data/llmchat-tui/{conversations,trash}
    # + 1 conversation, index, lock, 2 trash entries.
    names = {p.name for p in home.rglob("*")}
    assert {"log", "tiktoken", "conversations", "trash", "config.toml", "index.json"} <= names
    assert seen["files"] >= 9 and seen["dirs"] >= 11, seen
