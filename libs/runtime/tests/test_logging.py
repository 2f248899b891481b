"""Log lines are JSON, carry the trace id, and never a secret."""

from __future__ import annotations

import json
import logging

import pytest
from hub_runtime.logging import (
    QUIET_LOGGERS,
    JsonFormatter,
    configure_logging,
    redact,
    redact_text,
)
from opentelemetry.sdk.trace import TracerProvider

CANARY = "canary-4f1d9c2e7b"


def _format(record: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter("test-service").format(record)
    assert CANARY not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"msg": msg, "levelname": "INFO", "name": "t"})
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {CANARY}",
        f"Authorization: Klaviyo-API-Key {CANARY}",
        f"GET /cb?code={CANARY}&state={CANARY}",
        f"refresh_token={CANARY} grant_type=refresh_token",
        f"client_secret={CANARY}",
        f"GET /oauth/access_token?grant_type=fb_exchange_token&fb_exchange_token={CANARY}",
        f"GET /v1/events?api_secret={CANARY}&measurement_id=G-1",
        f'body {{"access_token": "{CANARY}", "token_type": "bearer"}}',
        f"{{'refresh_token':'{CANARY}'}}",
        f'"client_secret" : "a\\"{CANARY}"',
        f'HTTP Request: POST https://hooks.slack.com/services/T0/B0/{CANARY} "HTTP/1.1 200 OK"',
        f"slack said invalid_auth for xoxb-1234-{CANARY}",
    ],
)
def test_credential_shaped_text_is_masked(text: str) -> None:
    assert CANARY not in redact_text(text)


def test_harmless_pairs_are_kept() -> None:
    text = "grant_type=refresh_token&token_type=bearer&provider=slack zipcode=1"
    assert redact_text(text) == text


def test_httpx_and_httpcore_stay_below_info_whatever_the_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("test-service", "DEBUG")
        logging.getLogger("httpx").info("HTTP Request: POST https://example.test/%s", CANARY)
        logging.getLogger("httpcore.http11").debug("send_request_headers %s", CANARY)
        logging.getLogger("hub").debug("still logged")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
    err = capsys.readouterr().err
    assert "still logged" in err
    assert CANARY not in err


def test_values_under_secret_keys_are_masked_recursively() -> None:
    masked = redact(
        {"headers": {"X-Shopify-Access-Token": CANARY}, "nested": [{"api_key": CANARY}]}
    )
    assert CANARY not in json.dumps(masked)
    assert masked["headers"] == {"X-Shopify-Access-Token": "[redacted]"}


def test_json_line_masks_extra_fields_and_message() -> None:
    entry = _format(_record(f"token={CANARY}", access_token=CANARY, provider="slack"))
    assert entry["provider"] == "slack"
    assert entry["access_token"] == "[redacted]"
    assert entry["service"] == "test-service"


def test_json_line_carries_the_current_trace_id() -> None:
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("work") as span:
        entry = _format(_record("inside a span"))
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
