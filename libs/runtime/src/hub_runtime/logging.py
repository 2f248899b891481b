"""Structured JSON logs with secrets redacted, and the current trace id on every line; on a
terminal (``LOG_FORMAT=console``, or ``auto`` with a tty) one short coloured line per record."""

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


_COLOURS = {"debug": "2", "info": "32", "warning": "33", "error": "31", "critical": "1;31"}
KEY_FIELDS = (
    "provider",
    "organization_id",
    "connection_id",
    "outcome",
    "reason",
    "status",
    "topic",
    "group",
    "error",
    "trace_id",
)
"""What a console line shows after the message, when the record has it."""


class ConsoleFormatter(JsonFormatter):
    """``12:03:04 notifier  WARN  delivery retry  provider=slack reason=...``: the JSON entry
    (so the same redaction), shortened to one coloured line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = json.loads(super().format(record))
        level = entry["level"]
        colour = _COLOURS.get(level, "0")
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        fields = []
        for name in KEY_FIELDS:
            value = entry.get(name)
            if value in (None, ""):
                continue
            text = str(value)
            if name in ("organization_id", "connection_id", "trace_id"):
                text = text[:8]
            fields.append(f"\033[2m{name}=\033[0m{text}")
        message = str(entry["message"]).splitlines()[0] if entry["message"] else ""
        line = (
            f"\033[2m{when}\033[0m \033[36m{self.service:<16}\033[0m "
            f"\033[{colour}m{level[:4].upper():<4}\033[0m {message}"
        )
        if fields:
            line += "  " + " ".join(fields)
        if "exception" in entry:
            line += "\n" + str(entry["exception"])
        return line


def configure_logging(
    service: str, level: str = "INFO", log_format: str = "json", stream: Any = None
) -> None:
    """Send every log record to ``stream`` (stderr) redacted: one JSON object per line, or with
    ``console`` (``auto`` on a terminal) one short coloured line; hold the
    ``QUIET_LOGGERS`` at WARNING or above whatever the level."""
    stream = stream or sys.stderr
    console = log_format == "console" or (log_format == "auto" and stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ConsoleFormatter(service) if console else JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
