"""``hubctl keys submission-key`` prints an entry the gateway's setting accepts, and the public
half seals what only that entry opens."""

from __future__ import annotations

import uuid

from hub_keyring import Binding, SubmissionKeys, new_submission_key_spec, seal
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


def test_doctor_checks_the_submission_keys_when_the_gateway_has_them() -> None:
    from hub_keyring import new_key_spec
    from hubctl.doctor import secret_checks
    from oauth_gateway.settings import GatewaySettings

    entry = new_submission_key_spec("s1")
    gateway = GatewaySettings(credential_keys=new_key_spec("k1"), submission_keys=entry)
    checks = {c.name: c for c in secret_checks({"oauth-gateway": gateway})}
    assert checks["OAUTH_GATEWAY_SUBMISSION_KEYS"].ok
    assert entry.partition(":")[2] not in " ".join(c.detail for c in checks.values())
    without = GatewaySettings(credential_keys=new_key_spec("k1"))
    names = {c.name for c in secret_checks({"oauth-gateway": without})}
    assert "OAUTH_GATEWAY_SUBMISSION_KEYS" not in names  # optional outside production
