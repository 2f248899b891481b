"""`hub-stack run`: the development environment handed to every process."""

from pathlib import Path

from hub_catalog import load_catalog
from hub_keyring import SubmissionKeys
from hub_localstack.run import (
    development_environment,
    development_key,
    development_submission_key,
    procfile_names,
)
from hub_localstack.stack import Endpoints
from provider_sandbox import platform_value

ENDPOINTS = Endpoints("postgresql://postgres@127.0.0.1:1/hub", "127.0.0.1:2")


def test_environment_points_services_at_the_stack_and_the_sandbox(tmp_path: Path) -> None:
    env = development_environment(ENDPOINTS, tmp_path, {})
    assert env["DATABASE_URL"] == ENDPOINTS.database_url
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:2"
    assert env["PROVIDER_BASE_URL_OVERRIDE"] == "http://127.0.0.1:8199"
    assert env["KAFKA_FETCH_MAX_WAIT_MS"] == "10"


def test_every_platform_credential_gets_the_sandbox_value(tmp_path: Path) -> None:
    env = development_environment(ENDPOINTS, tmp_path, {})
    for provider in load_catalog().providers:
        for credential in provider.platform_credentials:
            assert env[credential.env] == platform_value(provider.id, credential.name)


def test_the_callers_environment_wins(tmp_path: Path) -> None:
    env = development_environment(
        ENDPOINTS, tmp_path, {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "SANDBOX_PORT": "9999"}
    )
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["PROVIDER_BASE_URL_OVERRIDE"] == "http://127.0.0.1:9999"


def test_development_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = development_key(tmp_path)
    assert first == development_key(tmp_path)
    assert first.startswith("dev1:")
    assert (tmp_path / "dev-credential-keys").stat().st_mode & 0o077 == 0


def test_the_gateway_gets_a_submission_key_kept_across_runs(tmp_path: Path) -> None:
    env = development_environment(ENDPOINTS, tmp_path, {})
    entry = env["OAUTH_GATEWAY_SUBMISSION_KEYS"]
    assert SubmissionKeys.from_spec(entry).key_ids == ("devs1",)
    assert development_submission_key(tmp_path) == entry
    assert (tmp_path / "dev-submission-keys").stat().st_mode & 0o077 == 0
    assert entry != env["CREDENTIAL_KEYS"]


def test_procfile_names_skip_comments(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("# a: comment\nprovider-sandbox: python -m provider_sandbox\n\n")
    assert procfile_names(procfile) == ["provider-sandbox"]
