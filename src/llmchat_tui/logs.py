"""The log file: private, rotating, and never holding an API key. No Textual import."""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
from pathlib import Path

from llmchat_tui import paths


class RedactSecret(logging.Filter):
    """Replace API keys wherever they would appear in a log line."""

    def __init__(self, secret: str = "") -> None:
        super().__init__()
        self.secrets: set[str] = {secret} if secret else set()

    def _redact(self, text: str) -> str:
        from llmchat_tui.sanitize import redact

        for secret in self.secrets:
            text = redact(text, secret)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            text = "".join(traceback.format_exception(*record.exc_info))
            cleaned = self._redact(text)
            if cleaned != text:
                record.msg = f"{record.msg}\n{cleaned}"
                record.exc_info = None
                record.exc_text = None
        return True


REDACT = RedactSecret()


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file created 0600 whatever the umask, after each rollover too."""

    def _open(self) -> io.TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(self.baseFilename, flags, 0o600)
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(secret: str = "") -> Path | None:
    """Log to a private rotating file (never to the screen), without the key."""
    try:
        paths.ensure_private_dir(paths.log_dir())
        handler = PrivateRotatingFileHandler(
            paths.log_file(), maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if secret:
        REDACT.secrets.add(secret)
    handler.addFilter(REDACT)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    for noisy in ("httpx", "httpx2", "httpcore", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return paths.log_file()
