"""Regenerate the screenshots in this folder from the real app.

    python screenshots/make.py

Runs the real app headless (120x40) against the scripted loopback server from
``tests/openai_server.py``, each picture from its own copy of a throw-away data
folder, and saves the SVG that Textual exports next to this file. Each SVG is
then drawn to PNG by headless Chromium (``chromium`` from the OS packages, with
the Fira Code font the SVG asks for: ``apt-get install chromium fonts-firacode``)
at the SVG's own size, so the pictures look like the terminal. The pictures show
no path or port of the machine that made them.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from openai_server import OpenAIServer, Reply, echo_reply  # noqa: E402

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


COMPARE_ANSWERS = (
    "A **Fresnel lens** bends the lamp's light with rings of prisms, so a thin lens "
    "does the work of a thick one.\n\nThe rings gather light that would escape up "
    "and down and send it out as one flat, bright beam.\n\nThe lens turns, so a ship "
    "sees a flash at a rhythm that names the lighthouse.",
    "It uses a *Fresnel lens*: concentric glass rings, each a slice of a curved lens, "
    "stacked flat.\n\n- the rings refract light toward the horizon\n- prisms at the "
    "edges reflect what would be lost\n\nThe result is a beam visible for about 20 "
    "nautical miles.",
    "Light from a small lamp passes through `stepped` glass rings (a Fresnel lens) "
    "that focus it into a horizontal beam.\n\nPrisms above and below catch the stray "
    "light. A clockwork or motor turns the lens, giving each light its own flash.",
)


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
    # Stable text in the pictures: no test port, no folder of this machine.
    app.settings.base_url = "http://localhost:11434/v1"
    app.settings.config_file = Path("~/.config/llmchat-tui/config.toml")
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
    own = data.parent / f"{data.name}-{name}"  # each picture from its own copy
    if data.exists():
        shutil.copytree(data, own)
    app = build_app(server, own, first_run=first_run, probe_servers=probe)
    async with app.run_test(size=(120, 40)) as pilot:
        await steps(app, pilot)
        path = HERE / f"{name}.svg"
        app.save_screenshot(str(path))
        await app.shutdown()
    return path


def local_server() -> OpenAIServer:
    """The "found on this machine" server: on Ollama's port when it is free, so the
    picture shows what a user would see."""
    try:
        return OpenAIServer(port=11434).start()
    except OSError:
        return OpenAIServer()


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

            usage = {"prompt_tokens": 31, "completion_tokens": 190, "total_tokens": 221}

            async def streaming(app, pilot):
                # Held mid-stream, so the picture shows one consistent moment.
                release = threading.Event()
                server.queue(
                    Reply.text(REPLY, delay=0.02, first_delay=0.4, stall_after=60, resume=release)
                )
                app.chat.prompt.insert("Why do lighthouses still matter? Show a code example.")
                await pilot.press("enter")
                generation = app.session.generation(app.chat.conversation.id)
                await wait(pilot, lambda: "Why they still matter" in generation.text())
                await wait(
                    pilot, lambda: len(server.streams) and server.streams[-1].content_sent >= 60
                )
                await pilot.pause(0.4)
                release.set()

            made.append(await shoot("streaming", server, data, streaming))

            async def finished(app, pilot):
                server.queue(Reply.text(REPLY, delay=0.012, first_delay=0.35, usage=usage))
                app.chat.prompt.insert("Why do lighthouses still matter? Show a code example.")
                await pilot.press("enter")
                generation = app.session.generation(app.chat.conversation.id)
                await wait(pilot, lambda: not generation.active)
                await pilot.pause(0.3)

            made.append(await shoot("finished", server, data, finished))

            async def find(app, pilot):
                server.queue(Reply.text(REPLY, delay=0.005, first_delay=0.3, usage=usage))
                app.chat.prompt.insert("Why do lighthouses still matter? Show a code example.")
                await pilot.press("enter")
                generation = app.session.generation(app.chat.conversation.id)
                await wait(pilot, lambda: not generation.active)
                await pilot.press("ctrl+s", *"light")
                await wait(pilot, lambda: "/" in str(app.chat.query_one("#find-count").render()))
                await pilot.press("enter", "enter")
                await pilot.pause(0.3)

            made.append(await shoot("find", server, data, find))

            async def compare(app, pilot):
                answers = {
                    "gpt-4o-mini": COMPARE_ANSWERS[0],
                    "llama3.2": COMPARE_ANSWERS[1],
                    "qwen2.5:7b": COMPARE_ANSWERS[2],
                }
                release = threading.Event()

                def reply(request):
                    model = request.body["model"]
                    pace = {"gpt-4o-mini": 0.01, "llama3.2": 0.03, "qwen2.5:7b": 0.02}[model]
                    if model == "llama3.2":  # still streaming in the picture
                        return Reply.text(
                            answers[model], delay=pace, stall_after=40, resume=release
                        )
                    return Reply.text(answers[model], delay=pace, first_delay=0.2)

                server.default_reply = reply
                # As a [prices] table in the config would: each column and the sum show cost.
                app.settings.prices = {
                    "gpt-4o-mini": {"input": 0.15, "output": 0.6},
                    "llama3.2": {"input": 0.0, "output": 0.0},
                    "qwen2.5:7b": {"input": 0.05, "output": 0.1},
                }
                app.chat.action_toggle_sidebar()
                app.session.set_compare(app.chat.conversation, list(answers))
                await app.chat.redraw()
                app.chat.prompt.insert("How does a lighthouse lens work? Three sentences.")
                await pilot.press("enter")
                replies = app.session.generations_of(app.chat.conversation.id)
                await wait(pilot, lambda: sum(not g.active for g in replies) == 2)
                await wait(pilot, lambda: any(s.content_sent >= 40 for s in server.streams[-3:]))
                await pilot.pause(0.5)
                release.set()

            made.append(await shoot("compare", server, data, compare))
            server.default_reply = echo_reply

            async def options(app, pilot):
                await pilot.press("ctrl+t", *"0.4", "tab", "tab", *"800")
                await pilot.pause(0.3)

            made.append(await shoot("request-options", server, data, options))

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

        with local_server() as local:
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
    browser = next((found for name in BROWSERS if (found := shutil.which(name)) is not None), None)
    for svg in made:
        print(svg.relative_to(ROOT))
        if browser is None:
            continue
        png = svg.with_suffix(".png")
        to_png(browser, svg, png)
        print(png.relative_to(ROOT))
    if browser is None:
        print("No Chromium found, so no PNGs: apt-get install chromium fonts-firacode")


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def to_png(browser: str, svg: Path, png: Path) -> None:
    """Draw ``svg`` at its own size with headless Chromium (fonts from the system only:
    the web fonts it names are dropped, so nothing is fetched)."""
    text = svg.read_text(encoding="utf-8")
    match = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', text)
    width, height = (math.ceil(float(v)) for v in match.groups()) if match else (1482, 1026)
    offline = re.sub(r',\s*url\([^)]*\) format\("[^"]*"\)', "", text)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / svg.name
        page.write_text(offline, encoding="utf-8")
        subprocess.run(
            [
                browser,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                f"--window-size={width},{height}",
                f"--screenshot={png}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


if __name__ == "__main__":
    asyncio.run(main())
