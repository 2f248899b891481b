"""Structured JSON logs with secrets redacted, and the current trace id on every line."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"token|secret|password|api_?key|authorization|code_verifier|cookie", re.I)
_SECRET_NAME = r"[A-Za-z0-9_.-]*(?:token|secret|password|api_?key)|code|state|code_verifier"
_PATTERNS = [
    re.compile(r"(?i)\b(bearer|basic|klaviyo-api-key)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(rf"(?i)(?<![A-Za-z0-9_.-])({_SECRET_NAME})=[^&\s\"']+"),
]
_JSON_SECRET = re.compile(
    rf"""(?i)((["'])(?:{_SECRET_NAME})\2\s*:\s*)(["'])(?:(?!\3)[^\\]|\\.)*\3"""
)
_SLACK_WEBHOOK = re.compile(r"(?i)(hooks\.slack\.com/services/)[^\s\"'?#]+")
_SLACK_TOKEN = re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]+")
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact_text(text: str) -> str:
    """Mask credential-shaped substrings: Authorization values, ``name=value`` pairs whose name
    says secret (``fb_exchange_token=``, ``api_secret=``, ``code=``...), the same as JSON
    members (``"access_token": "..."``), Slack incoming-webhook paths and Slack tokens."""
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _JSON_SECRET.sub(lambda m: f"{m.group(1)}{m.group(3)}{REDACTED}{m.group(3)}", text)
    text = _SLACK_WEBHOOK.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _SLACK_TOKEN.sub(REDACTED, text)


def redact(value: Any, key: str = "") -> Any:
    """Mask values under secret-looking keys, recursively; scrub strings."""
    if key and _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(redact(entry), default=str)


QUIET_LOGGERS = ("httpx", "httpcore")
"""Held at WARNING or above: httpx logs each request line, and a URL can carry a secret (a Slack
webhook path, Meta's ``fb_exchange_token=`` query)."""


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log record to stderr as one redacted JSON object per line; hold the
    ``QUIET_LOGGERS`` at WARNING or above whatever the level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
