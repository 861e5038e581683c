"""Start-up does only what the first frame needs (benchmark B11)."""

from __future__ import annotations

import subprocess
import sys

#: Imported later, when they are used: each is a large share of the start-up time.
DEFERRED = ["openai", "httpx2", "tiktoken"]


def loaded_after(code: str) -> set[str]:
    """Which of :data:`DEFERRED` a fresh interpreter has imported after ``code``."""
    probe = (
        code + "\nimport sys\n" + f"print(','.join(m for m in {DEFERRED!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return {name for name in done.stdout.strip().split(",") if name}


def test_the_modules_of_the_first_frame_defer_the_sdk_and_the_encodings() -> None:
    code = "import llmchat_tui.cli, llmchat_tui.factory, llmchat_tui.app"
    assert loaded_after(code) == set()


def test_building_the_app_and_its_client_defers_the_sdk() -> None:
    code = (
        "from pathlib import Path\n"
        "import tempfile\n"
        "from llmchat_tui.config import Settings\n"
        "from llmchat_tui.factory import build_app\n"
        "from llmchat_tui.store import Store\n"
        "store = Store(Path(tempfile.mkdtemp()))\n"
        "store.open()\n"
        "settings = Settings(base_url='http://127.0.0.1:9/v1', model='m', api_key='x')\n"
        "app = build_app(settings, store, first_run=False)\n"
    )
    assert loaded_after(code) == set()


def test_the_client_builds_the_sdk_on_first_use() -> None:
    code = (
        "from llmchat_tui.llm import ChatClient\n"
        "client = ChatClient(base_url='http://127.0.0.1:9/v1', api_key='x')\n"
        "client.warm()\n"
        "assert client._client is client._client\n"
    )
    assert loaded_after(code) == {"openai", "httpx2"}
