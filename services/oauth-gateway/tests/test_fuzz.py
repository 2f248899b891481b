"""SECURITY.md 25: schemathesis fuzzes every operation of the gateway's OpenAPI document against
the running process; malformed input is a 4xx JSON error, never a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hub_localstack.services import ServiceProcess
from hypothesis import HealthCheck, given, settings

from .conftest import token

pytestmark = pytest.mark.integration
ORG = uuid.UUID("7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f")


@pytest.fixture(scope="module")
def gateway_url(hub_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gateway = ServiceProcess(
        "oauth-gateway",
        "oauth_gateway",
        hub_env,
        port_variable="OAUTH_GATEWAY_PORT",
        log_dir=tmp_path_factory.mktemp("fuzz"),
    )
    with gateway:
        yield gateway.url


def test_no_operation_answers_malformed_input_with_a_server_error(gateway_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")
    headers = {"Authorization": f"Bearer {token(ORG)}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 5

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_cleanly(case: Any) -> None:
            if "org_id" in (case.path_parameters or {}):
                case.path_parameters["org_id"] = str(ORG)
            response = case.call(base_url=gateway_url, headers=headers)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code >= 400:
                assert set(response.json()["error"]) >= {"code", "message"}

        answers_cleanly()


@pytest.mark.parametrize(
    "body", [b"\xff\xfe", b"{", b"[]", b'{"fields": {"api_key": ["x"]}}', b"x" * 200_000]
)
def test_raw_garbage_bodies_are_refused_cleanly(gateway_url: str, body: bytes) -> None:
    auth = {"Authorization": f"Bearer {token(ORG)}", "Content-Type": "application/json"}
    for path in ("oauth/start", "credentials"):
        response = httpx.post(
            f"{gateway_url}/v1/orgs/{ORG}/integrations/resend/{path}",
            content=body,
            headers=auth,
            timeout=10,
        )
        assert 400 <= response.status_code < 500, (body[:20], response.text)
        assert "error" in response.json()
