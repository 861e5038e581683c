"""Error wording for causes that are hard to produce on loopback, and crash handling."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import httpx2
import openai
import pytest

from conftest import wait_until
from llmchat_tui.config import Settings, config_file_exposes_key
from llmchat_tui.llm.errors import classify, retry_after_seconds, word
from llmchat_tui.llm.events import Facts

URL = "https://api.example.test/v1"
REQUEST = httpx2.Request("POST", URL + "/chat/completions")


def connection_error(cause: BaseException) -> openai.APIConnectionError:
    error = openai.APIConnectionError(request=REQUEST)
    error.__cause__ = cause
    return error


def test_dns_failure_names_the_url():
    error = connection_error(OSError("[Errno -2] Name or service not known"))
    cause = classify(error, base_url=URL, model="m", key_hint="")
    assert cause.kind == "dns" and URL in cause.message


def test_tls_failure_names_the_url_and_what_to_check():
    error = connection_error(ssl.SSLCertVerificationError("certificate verify failed"))
    cause = classify(error, base_url=URL, model="m", key_hint="")
    assert cause.kind == "tls" and URL in cause.message
    assert "SSL_CERT_FILE" in cause.hint


def test_forbidden_names_the_key_source():
    response = httpx2.Response(403, request=REQUEST, json={"error": {"message": "nope"}})
    error = openai.PermissionDeniedError(
        "nope", response=response, body={"error": {"message": "nope"}}
    )
    cause = classify(error, base_url=URL, model="gpt-4o", key_hint="set MY_KEY")
    assert cause.kind == "permission" and "MY_KEY" in cause.hint


def test_retry_after_in_seconds_or_as_an_http_date():
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    date = "Wed, 21 Oct 2015 07:28:03 GMT"
    assert retry_after_seconds({"retry-after": date}, now=now) == 3.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, now=now) == 0.0
    assert retry_after_seconds(httpx2.Headers({"Retry-After": date}), now=now) == 3.0
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "-5"}) == 0.0
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "nan"}) is None
    assert retry_after_seconds({}) is None


def test_progress_is_counted_in_chunks_until_tokens_are_known():
    facts = Facts("connection_lost", base_url=URL, received=1)
    assert word(facts).text == "connection lost after 1 chunk — regenerate or continue"
    tokens = Facts("connection_lost", base_url=URL, received=3, tokens=1_234)
    assert word(tokens).message == "connection lost after 1,234 tokens"


def test_every_cause_has_a_short_label():
    kinds = ["rate_limit", "server", "cut", "html_page", "stalled", "connection_refused"]
    labels = [word(Facts(kind, base_url=URL)).label for kind in kinds]
    assert labels == [
        "rate limited",
        "server error",
        "stream cut",
        "not an API answer",
        "stalled",
        "connection refused",
    ]


def test_config_holding_a_key_readable_by_others_is_flagged(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('api_key = "sk-x"\n')
    path.chmod(0o644)
    assert config_file_exposes_key(path)
    path.chmod(0o600)
    assert not config_file_exposes_key(path)


async def test_a_bug_never_shows_a_traceback_and_saves_everything(
    make_app, server, data_dir, capsys
):
    app = make_app()

    def boom() -> None:
        raise ZeroDivisionError("a bug")

    from llmchat_tui.app import AppCrashed

    with pytest.raises(AppCrashed) as crashed:
        async with app.run_test(size=(120, 40)) as pilot:
            app.chat.prompt.insert("hello")
            await pilot.press("enter")
            generation = app.session.generation(app.chat.conversation.id)
            await wait_until(pilot, lambda: not generation.active)
            app.call_later(boom)
            await pilot.pause()
    assert isinstance(crashed.value.__cause__, ZeroDivisionError)
    assert app.return_code == 1
    printed = capsys.readouterr()
    shown = " ".join((printed.out + printed.err).split())
    assert "llmchat-tui stopped after an unexpected error (ZeroDivisionError)" in shown
    assert "conversations are saved" in shown
    assert "Traceback" not in shown and "─" not in shown  # no Rich traceback panel
    assert list((data_dir / "conversations").glob("*.json"))


def test_settings_default_retry_policy():
    settings = Settings()
    assert (settings.retry_attempts, settings.retry_base, settings.retry_cap) == (4, 1.0, 30.0)
