"""The end-to-end harness: services as processes in the development environment."""

from pathlib import Path

import httpx
import pytest
from hub_localstack.processes import StartError
from hub_localstack.services import ServiceProcess

pytestmark = pytest.mark.integration


def test_sandbox_process_is_shared_and_answers(sandbox_url: str) -> None:
    assert httpx.get(f"{sandbox_url}/_sandbox/calls", timeout=5).status_code == 200


def test_hub_env_points_services_at_the_test_servers(
    hub_env: dict[str, str],
    login_database_url: str,
    owner_database_url: str,
    kafka_bootstrap: str,
    sandbox_url: str,
) -> None:
    assert hub_env["DATABASE_URL"] == login_database_url
    assert hub_env["DATABASE_MIGRATION_URL"] == owner_database_url
    assert login_database_url.startswith("postgresql://hub_login@")
    assert owner_database_url.startswith("postgresql://hub_owner@")
    assert hub_env["KAFKA_BOOTSTRAP_SERVERS"] == kafka_bootstrap
    assert hub_env["PROVIDER_BASE_URL_OVERRIDE"] == sandbox_url
    assert hub_env["CREDENTIAL_KEYS"].startswith("dev1:")
    assert hub_env["KAFKA_FETCH_MAX_WAIT_MS"] == "10"


def test_a_process_that_dies_reports_its_log(tmp_path: Path, hub_env: dict[str, str]) -> None:
    broken = ServiceProcess(
        "broken", "hub_localstack.no_such_module", hub_env, port_variable="X_PORT", log_dir=tmp_path
    )
    with pytest.raises(StartError, match="No module named"):
        broken.start()
