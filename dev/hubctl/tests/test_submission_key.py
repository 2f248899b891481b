"""``hubctl keys submission-key`` prints an entry the gateway's setting accepts, and the public
half seals what only that entry opens."""

from __future__ import annotations

import uuid

from hub_keyring import Binding, SubmissionKeys, seal
from hubctl.cli import app
from typer.testing import CliRunner


def test_submission_key_prints_a_fresh_working_entry() -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["keys", "submission-key", "s2027q1"])
    second = runner.invoke(app, ["keys", "submission-key"])
    assert first.exit_code == 0, first.output
    entry = first.stdout.strip()
    assert entry.startswith("s2027q1:")
    assert entry.partition(":")[2] != second.stdout.strip().partition(":")[2]
    keys = SubmissionKeys.from_spec(entry)
    binding = Binding(uuid.uuid4(), "klaviyo", "private_api_key")
    sealed = seal("pk", keys.public_keys()[0], binding)
    assert keys.open(sealed, binding).get_secret_value() == "pk"
    assert second.stdout.startswith("s20")
