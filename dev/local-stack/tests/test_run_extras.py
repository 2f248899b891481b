"""What `make run` adds to the development environment: local spans, the notifier's sandbox
channels, console log lines on a terminal."""

from __future__ import annotations

from pathlib import Path

from hub_localstack.run import SANDBOX_SLACK_WEBHOOK, run_extras
from notifier.settings import NotifierSettings


def test_make_run_asks_for_console_lines_only_on_a_terminal(tmp_path: Path) -> None:
    assert run_extras(tmp_path, terminal=True)["LOG_FORMAT"] == "console"
    assert "LOG_FORMAT" not in run_extras(tmp_path, terminal=False)


def test_make_run_gives_the_notifier_channels_it_accepts(tmp_path: Path) -> None:
    extras = run_extras(tmp_path)
    assert extras["OTEL_TRACES_FILE"] == str(tmp_path / "traces.jsonl")
    settings = NotifierSettings(
        resend_api_key=extras["NOTIFIER_RESEND_API_KEY"],
        slack_webhook_url=extras["NOTIFIER_SLACK_WEBHOOK_URL"],
    )
    assert settings.slack_webhook_url is not None
    assert settings.slack_webhook_url.get_secret_value() == SANDBOX_SLACK_WEBHOOK
