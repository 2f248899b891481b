"""Every ``hubctl`` command's ``--help`` shows an example of itself (in process: the commands
themselves run against the real stack in tests/ops/test_hubctl.py)."""

from __future__ import annotations

import pytest
from hubctl.cli import app
from typer.testing import CliRunner

COMMANDS = [
    ["connections", "list"],
    ["connections", "show"],
    ["keys", "new"],
    ["keys", "reencrypt"],
    ["keys", "submission-key"],
    ["lag"],
    ["dlq", "list"],
    ["dlq", "show"],
    ["dlq", "replay"],
    ["catalog", "validate"],
    ["catalog", "show"],
    ["token"],
    ["doctor"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    shown = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    assert shown.exit_code == 0, shown.output
    assert "Example" in shown.output, command
    assert f"hubctl {' '.join(command)}" in shown.output, command
