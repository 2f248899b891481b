"""SECURITY.md 25: schemathesis fuzzes every operation of the gateway's OpenAPI document against
the running process; malformed input is a 4xx JSON error, never a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from hub_localstack.fuzz import fuzz_openapi
from hub_localstack.services import ServiceProcess
from schemathesis.generation import GenerationMode

from .conftest import token

pytestmark = pytest.mark.integration
ORG = uuid.UUID("7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
# Operations with nothing to break: no parameters, no body.
PARAMETERLESS = {"GET /healthz", "GET /readyz", "GET /metrics", "GET /v1/submission-keys"}


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
    fuzzed = fuzz_openapi(
        gateway_url,
        {"Authorization": f"Bearer {token(ORG)}"},
        # An OAuth provider, so that starts succeed and the links reach the callback.
        path_parameters={"org_id": str(ORG), "provider": "slack"},
        max_examples=40,
    )
    assert (
        fuzzed.operations == 8
    )  # OAuth start and callback, API-key connect, resources, submission keys, probes, /metrics
    # Malformed input reached every operation that takes input, and each refused some of it;
    # valid input got through, and the stateful run followed the links (start, then callback).
    assert fuzzed.never_refused() == []
    assert fuzzed.unsatisfiable <= PARAMETERLESS
    assert fuzzed.count(GenerationMode.NEGATIVE, 400) >= 20
    assert fuzzed.count(GenerationMode.POSITIVE, 200) > 0
    assert fuzzed.count(GenerationMode.POSITIVE, 300, "GET /v1/oauth/{provider}/callback") > 0
    assert fuzzed.stateful_calls > 0


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
