"""Development logs: one short coloured line per record on a terminal, JSON elsewhere."""

from __future__ import annotations

import io
import json
import logging

from hub_runtime.logging import ConsoleFormatter, JsonFormatter, configure_logging


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "notifier.worker", "levelname": "WARNING", "levelno": 30, "msg": "delivery retry"}
    )
    record.__dict__.update(extra)
    return record


def test_a_console_line_is_short_coloured_and_redacted() -> None:
    line = ConsoleFormatter("notifier").format(
        _record(
            provider="slack",
            organization_id="3f1c2b6e-8a4d-4f0e-9c1a-2b3c4d5e6f70",
            access_token="xoxb-canary-1234",
            error="Bearer abc.def.ghi failed",
        )
    )
    assert "\n" not in line
    assert "\033[" in line
    assert "notifier" in line
    assert "WARN" in line
    assert "delivery retry" in line
    assert "provider=\033[0mslack" in line
    assert "3f1c2b6e" in line
    assert "3f1c2b6e-8a4d" not in line  # ids shortened
    assert "xoxb-canary" not in line
    assert "abc.def.ghi" not in line


def test_auto_is_console_on_a_terminal_and_json_elsewhere() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        terminal, pipe = _Terminal(), io.StringIO()
        configure_logging("store", "INFO", "auto", stream=terminal)
        assert isinstance(root.handlers[0].formatter, ConsoleFormatter)
        configure_logging("store", "INFO", "auto", stream=pipe)
        assert type(root.handlers[0].formatter) is JsonFormatter
        logging.getLogger("x").warning("hello", extra={"provider": "slack"})
        assert json.loads(pipe.getvalue())["provider"] == "slack"
        configure_logging("store", "INFO", "console", stream=pipe)
        assert isinstance(root.handlers[0].formatter, ConsoleFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
