"""The LLM layer: an ``openai`` SDK stream turned into typed events. No Textual."""

from llmchat_tui.llm.client import ChatClient
from llmchat_tui.llm.events import (
    Cause,
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    TextDelta,
    UsageReported,
)

__all__ = [
    "Cause",
    "ChatClient",
    "Event",
    "Failed",
    "Finished",
    "ReasoningDelta",
    "TextDelta",
    "UsageReported",
]
