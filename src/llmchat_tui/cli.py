"""Command line: parse flags, load settings, open the store, run the app."""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.handlers
import os
import sys
from pathlib import Path

from llmchat_tui import __version__, paths

EPILOG = """\
examples:
  OPENAI_API_KEY=sk-... llmchat-tui
  llmchat-tui --base-url http://localhost:11434/v1 --model llama3.2     # Ollama
  llmchat-tui --base-url http://127.0.0.1:8080/v1 --model local         # llama.cpp server
  llmchat-tui --config ~/my-llmchat.toml --data-dir /tmp/scratch-chats

keys: Enter sends, Ctrl+J (or Shift+Enter) adds a line, Esc stops a reply,
Ctrl+N new chat, Ctrl+F filter, Ctrl+B sidebar/prompt, Ctrl+Q quits.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmchat-tui",
        description="A full-screen terminal chat client for OpenAI-compatible LLM servers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"llmchat-tui {__version__}")
    parser.add_argument("--model", "-m", help="model name (env LLMCHAT_MODEL; default gpt-4o-mini)")
    parser.add_argument(
        "--base-url",
        help="API base URL, e.g. http://localhost:11434/v1 "
        "(env OPENAI_BASE_URL; default https://api.openai.com/v1)",
    )
    parser.add_argument(
        "--config", type=Path, help=f"config file (default {paths.default_config_file()})"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=f"folder for saved conversations (env LLMCHAT_DATA_DIR; default {paths.data_dir()})",
    )
    return parser


class RedactSecret(logging.Filter):
    """Replace the API key wherever it would appear in a log line."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        from llmchat_tui.sanitize import redact

        message = record.getMessage()
        if self.secret and self.secret in message:
            record.msg, record.args = redact(message, self.secret), None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            text = "".join(traceback.format_exception(*record.exc_info))
            if self.secret and self.secret in text:
                record.msg = f"{record.msg}\n{redact(text, self.secret)}"
                record.exc_info = None
                record.exc_text = None
        return True


def setup_logging(secret: str = "") -> Path | None:
    """Log to a private rotating file (never to the screen), without the key."""
    try:
        paths.ensure_private_dir(paths.log_dir())
        handler = logging.handlers.RotatingFileHandler(
            paths.log_file(), maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecret(secret))
    with contextlib.suppress(OSError):
        os.chmod(paths.log_file(), 0o600)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    for noisy in ("httpx", "httpx2", "httpcore", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return paths.log_file()


def fail(message: str) -> int:
    print(f"llmchat-tui: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``llmchat-tui`` command."""
    args = build_parser().parse_args(argv)

    from llmchat_tui.config import (
        ConfigError,
        api_key_hint,
        config_file_exposes_key,
        load_settings,
        resolve_api_key,
    )

    flags = {
        "model": args.model,
        "base_url": args.base_url,
        "data_dir": str(args.data_dir) if args.data_dir else None,
    }
    try:
        settings = load_settings(flags=flags, config_path=args.config)
        api_key = resolve_api_key(settings)
    except ConfigError as error:
        return fail(str(error))
    warnings = []
    if settings.api_key and settings.config_file and config_file_exposes_key(settings.config_file):
        warnings.append(
            f"{settings.config_file} holds an API key and other users can read it: "
            f"chmod 600 it, or use api_key_command."
        )

    setup_logging(api_key)

    from llmchat_tui.store import Store, StoreError, StoreLocked

    data_dir = Path(settings.data_dir).expanduser() if settings.data_dir else paths.data_dir()
    store = Store(data_dir)
    try:
        store.acquire_lock()
    except StoreLocked as error:
        return fail(str(error))
    except (OSError, StoreError) as error:
        return fail(f"cannot use data folder {data_dir}: {error}")
    try:
        try:
            skipped = store.open()
        except (OSError, StoreError) as error:
            return fail(f"cannot read data folder {data_dir}: {error}")
        for item in skipped:
            logging.getLogger("llmchat_tui").warning("skipped %s: %s", item.path, item.reason)

        from llmchat_tui.app import ChatApp
        from llmchat_tui.llm import ChatClient
        from llmchat_tui.session import ChatSession

        client = ChatClient(
            base_url=settings.base_url,
            api_key=api_key,
            stream_usage=settings.stream_usage,
            connect_timeout=settings.connect_timeout,
            stall_timeout=settings.stall_timeout,
            key_hint=api_key_hint(settings),
        )
        session = ChatSession(settings, store, client)
        app = ChatApp(session, skipped=skipped, warnings=warnings)
        result = app.run()
        if app.return_code:
            return app.return_code
        return result if isinstance(result, int) else 0
    finally:
        store.close()
