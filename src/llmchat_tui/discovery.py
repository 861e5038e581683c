"""Find OpenAI-compatible servers on this machine (first run). No Textual import.

Probes the usual local ports on 127.0.0.1 with a short timeout and keeps
those that answer ``GET /v1/models`` with a model list.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmchat_tui.sanitize import clean_line

if TYPE_CHECKING:
    # The openai SDK 3.x's HTTP client (a fork of httpx), imported by probe():
    # the welcome widget imports FoundServer before the first frame (B11).
    import httpx2 as _httpx

#: (name, port) of the servers people usually run locally.
LOCAL_SERVERS: list[tuple[str, int]] = [
    ("Ollama", 11434),
    ("llama.cpp server", 8080),
    ("LM Studio", 1234),
    ("vLLM", 8000),
]


@dataclass(frozen=True)
class FoundServer:
    """A local server that answered, and its models (sanitized)."""

    name: str
    base_url: str
    models: list[str]


async def probe_one(client: _httpx.AsyncClient, name: str, base_url: str) -> FoundServer | None:
    import httpx2 as _httpx

    try:
        response = await client.get(base_url + "/models")
        if response.status_code != 200:
            return None
        data = response.json()
    except (_httpx.HTTPError, OSError, ValueError, json.JSONDecodeError):
        return None
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None
    models = sorted(
        clean_line(str(entry["id"]), 120)
        for entry in entries
        if isinstance(entry, dict) and entry.get("id")
    )
    return FoundServer(clean_line(name, 40), base_url, models)


async def probe(
    servers: list[tuple[str, int]] | None = None, *, timeout: float = 0.6
) -> list[FoundServer]:
    """Every server in ``servers`` (default :data:`LOCAL_SERVERS`) that answers."""
    import httpx2 as _httpx

    servers = LOCAL_SERVERS if servers is None else servers
    limits = _httpx.Timeout(timeout)
    async with _httpx.AsyncClient(timeout=limits, trust_env=False) as client:
        results = await asyncio.gather(
            *(probe_one(client, name, f"http://127.0.0.1:{port}/v1") for name, port in servers)
        )
    return [found for found in results if found is not None]
