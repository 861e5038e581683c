"""The first-run welcome panel: how to connect, and local servers that answered."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from llmchat_tui.discovery import FoundServer
from llmchat_tui.keymap import Keymap
from llmchat_tui.sanitize import clean_line


class Welcome(Vertical):
    """Shown when nothing is configured: set a key, or pick a local server."""

    @dataclass
    class ServerChosen(Message):
        server: FoundServer

    def __init__(self, config_file: str, keymap: Keymap) -> None:
        super().__init__(id="welcome")
        self.config_file = config_file
        self.keymap = keymap
        self.found: list[FoundServer] = []

    def compose(self) -> ComposeResult:
        yield Static(
            Content.assemble(
                ("Welcome to llmchat-tui", "bold"),
                "\n\nNo server is configured yet. To chat with OpenAI, quit "
                f"({self.keymap.label('quit')}) and run:\n\n",
                ("    OPENAI_API_KEY=sk-... llmchat-tui", "bold $accent"),
                "\n\nor start with any OpenAI-compatible server:\n\n",
                (
                    "    llmchat-tui --base-url http://localhost:11434/v1 --model llama3.2",
                    "bold $accent",
                ),
                "\n\nYour saved conversations are on the left either way.",
            ),
            id="welcome-text",
        )
        yield Static(
            Content.styled("Looking for local servers…", "$text-muted"), id="welcome-status"
        )
        yield OptionList(id="welcome-servers")

    def on_mount(self) -> None:
        self.query_one("#welcome-servers", OptionList).display = False

    def show_found(self, found: list[FoundServer]) -> None:
        self.found = found
        status = self.query_one("#welcome-status", Static)
        servers = self.query_one("#welcome-servers", OptionList)
        if not found:
            status.update(
                Content.styled(
                    "No local server answered on the usual ports (Ollama 11434, llama.cpp 8080, "
                    "LM Studio 1234, vLLM 8000).",
                    "$text-muted",
                )
            )
            return
        status.update(
            Content.assemble(
                "Found on this machine — pick one (Enter) and it is saved to ",
                (clean_line(self.config_file, 80), "bold"),
                ":",
            )
        )
        servers.set_options(
            Option(
                Content.assemble(
                    (server.name, "bold"),
                    f"  {server.base_url}  ",
                    (
                        f"{len(server.models)} model(s): " + ", ".join(server.models[:4]),
                        "$text-muted",
                    ),
                ),
                id=str(index),
            )
            for index, server in enumerate(found)
        )
        servers.display = True
        servers.highlighted = 0
        servers.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.ServerChosen(self.found[event.option_index]))
