"""Regenerate the screenshots in this folder from the real app.

    python screenshots/make.py

Runs the real app headless against the scripted loopback server from
``tests/openai_server.py`` with a throw-away data folder, and saves SVGs (and
PNGs when ``cairosvg`` is installed) next to this file.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from openai_server import OpenAIServer, Reply  # noqa: E402

REPLY = """\
A **lighthouse** guides ships with a light that is easy to tell apart from \
any other: each one has its own *characteristic* (a pattern of flashes).

Why they still matter:

1. GPS can fail; a light cannot be jammed.
2. Small boats rarely carry radar.
3. They mark hazards, not just harbours.

```python
def characteristic(flashes: int, period_s: float) -> str:
    \"\"\"Describe a light, e.g. 'Fl(3) 10s'.\"\"\"
    return f"Fl({flashes}) {period_s:g}s"

print(characteristic(3, 10))
```

| Light | Characteristic | Range |
|-------|----------------|-------|
| Eddystone | Fl(2) 10s | 17 nmi |
| Fastnet | Fl 5s | 18 nmi |
"""

TITLES = [
    "Lighthouse facts",
    "Rust lifetimes, explained",
    "Sourdough starter schedule",
    "Refactor the billing module",
    "Trip plan: Lisbon in 3 days",
    "SQL window functions",
    "Explain the CAP theorem",
    "Cover letter draft",
    "Why is my Docker image 2 GB?",
    "Kubernetes liveness vs readiness",
    "Regex for ISO dates",
    "Birthday gift ideas",
    "Bash: loop over files with spaces",
    "Summarise this RFC",
    "Tax questions (Germany)",
    "Translate to Portuguese",
    "asyncio cancellation rules",
    "Garden layout",
]


def build_app(server: OpenAIServer, data: Path, **settings_overrides):
    from llmchat_tui.config import Settings
    from llmchat_tui.factory import build_app as build
    from llmchat_tui.store import Store

    settings = Settings(base_url=server.base_url, model="gpt-4o-mini", api_key="demo")
    first_run = settings_overrides.pop("first_run", False)
    probe_servers = settings_overrides.pop("probe_servers", None)
    for key, value in settings_overrides.items():
        setattr(settings, key, value)
    store = Store(data)
    skipped = store.open()
    app = build(settings, store, skipped=skipped, first_run=first_run, probe_servers=probe_servers)
    app.settings.base_url = "http://localhost:11434/v1"  # stable text in pictures
    return app


def populate(data: Path) -> None:
    from llmchat_tui.models import Conversation, Message
    from llmchat_tui.store import Store

    store = Store(data)
    store.open()
    now = time.time()
    for index, title in enumerate(reversed(TITLES)):
        conversation = Conversation(model="gpt-4o-mini" if index % 3 else "llama3.2")
        conversation.add(Message(role="user", content=title))
        conversation.add(Message(role="assistant", content=f"About {title.lower()}…"))
        stamp = time.strftime(
            "%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(now - (len(TITLES) - index) ** 2.6 * 600)
        )
        conversation.created_at = conversation.updated_at = stamp
        store.save(conversation)
    store.close()


async def shoot(
    name: str,
    server: OpenAIServer,
    data: Path,
    steps: Callable[[object, object], Awaitable[None]],
    *,
    first_run: bool = False,
    probe: list | None = None,
) -> Path:
    app = build_app(server, data, first_run=first_run, probe_servers=probe)
    async with app.run_test(size=(120, 40)) as pilot:
        await steps(app, pilot)
        path = HERE / f"{name}.svg"
        app.save_screenshot(str(path))
        await app.shutdown()
    return path


async def wait(pilot, predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        await pilot.pause(0.02)


async def main() -> None:
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("XDG_CACHE_HOME", str(Path(tmp) / "cache"))
        with OpenAIServer() as server:
            data = Path(tmp) / "chats"
            populate(data)

            async def streaming(app, pilot):
                server.queue(
                    Reply.text(
                        REPLY,
                        delay=0.004,
                        first_delay=0.2,
                        usage={"prompt_tokens": 31, "completion_tokens": 190, "total_tokens": 221},
                    )
                )
                app.chat.prompt.insert("Why do lighthouses still matter? Show a code example.")
                await pilot.press("enter")
                generation = app.session.generation(app.chat.conversation.id)
                await wait(pilot, lambda: "print(" in generation.text())
                await pilot.pause(0.1)

            made.append(await shoot("streaming", server, data, streaming))

            async def finished(app, pilot):
                server.queue(
                    Reply.text(
                        REPLY,
                        usage={"prompt_tokens": 31, "completion_tokens": 190, "total_tokens": 221},
                    )
                )
                app.chat.prompt.insert("Why do lighthouses still matter? Show a code example.")
                await pilot.press("enter")
                generation = app.session.generation(app.chat.conversation.id)
                await wait(pilot, lambda: not generation.active)
                await pilot.pause(0.2)

            made.append(await shoot("finished", server, data, finished))

            async def fresh(app, pilot):
                await pilot.pause(0.3)

            made.append(await shoot("sidebar", server, data, fresh))

            async def retrying(app, pilot):
                server.queue(Reply(status=429, headers={"Retry-After": "7"}))
                app.chat.prompt.insert("Summarise the meeting notes I pasted earlier")
                await pilot.press("enter")
                generation = app.session.generation(app.chat.conversation.id)
                await wait(pilot, lambda: generation.state.value == "retrying")
                await pilot.pause(0.3)

            made.append(await shoot("retry-countdown", server, data, retrying))

            async def picker(app, pilot):
                server.models = [
                    "gpt-4o-mini",
                    "gpt-4.1",
                    "llama3.2",
                    "qwen2.5:7b",
                    "mistral-small",
                    "deepseek-r1:8b",
                ]
                await pilot.press("f3")
                await wait(
                    pilot, lambda: "available" in str(app.screen.query_one("#picker-note").render())
                )
                await pilot.press("l")
                await pilot.pause(0.2)

            made.append(await shoot("model-picker", server, data, picker))

        with OpenAIServer() as local:
            local.models = ["llama3.2", "qwen2.5:7b", "gemma3"]
            empty = Path(tmp) / "empty"

            async def welcome(app, pilot):
                await wait(
                    pilot,
                    lambda: (
                        "Found on this machine"
                        in str(app.chat.query_one("#welcome-status").render())
                    ),
                )
                await pilot.pause(0.2)

            app_args = {"first_run": True, "probe": [("Ollama", local.port)]}
            made.append(await shoot("welcome", local, empty, welcome, **app_args))
    try:
        import cairosvg
    except ImportError:
        cairosvg = None
    for svg in made:
        print(svg.relative_to(ROOT))
        if cairosvg is not None:
            png = svg.with_suffix(".png")
            cairosvg.svg2png(url=str(svg), write_to=str(png), output_width=1400)
            print(png.relative_to(ROOT))


if __name__ == "__main__":
    asyncio.run(main())
