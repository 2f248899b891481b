"""SECURITY.md 25: schemathesis fuzzes every operation of the published OpenAPI document
against the running store; malformed input is a 4xx JSON error, never a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from connection_store.auth import (
    CREDENTIALS_READ,
    MAX_SERVICE_LIFETIME_S,
    SCOPES,
    issue_service_token,
    issue_token,
)
from connection_store.settings import StoreSettings
from hub_catalog import load_catalog
from hub_localstack.fuzz import fuzz_openapi
from hub_localstack.services import ServiceProcess
from schemathesis.generation import GenerationMode

pytestmark = pytest.mark.integration
ORG = uuid.UUID("3f2a9d4e-5b6c-4d7e-8f90-a1b2c3d4e5f6")


@pytest.fixture(scope="module")
def store_url(hub_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = ServiceProcess(
        "connection-store",
        "connection_store",
        hub_env,
        port_variable="CONNECTION_STORE_PORT",
        log_dir=tmp_path_factory.mktemp("fuzz"),
    )
    with store:
        yield store.url


def _token() -> str:
    secret = StoreSettings().jwt_secret
    return issue_token(
        secret, ORG, scopes=list(SCOPES), subject="fuzz", lifetime=timedelta(hours=1)
    )


# Operations with nothing to break: no parameters, no body.
PARAMETERLESS = {
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /v1/providers",
    "GET /v1/onboarding",
}


def test_no_operation_answers_malformed_input_with_a_server_error(store_url: str) -> None:
    fuzzed = fuzz_openapi(
        store_url,
        {"Authorization": f"Bearer {_token()}"},
        path_parameters={"org_id": str(ORG)},
        max_examples=25,
    )
    assert fuzzed.operations >= 9
    # Malformed input reached every operation that takes input, and each refused some of it;
    # valid input reached the handlers, and the stateful run followed the links.
    assert fuzzed.never_refused() == []
    assert fuzzed.unsatisfiable <= PARAMETERLESS
    assert fuzzed.count(GenerationMode.NEGATIVE, 400) >= 20
    assert fuzzed.count(GenerationMode.POSITIVE, 200) > 0
    assert fuzzed.stateful_calls > 0


def test_the_credentials_api_answers_a_service_cleanly(store_url: str) -> None:
    """The credentials API as its real callers reach it: a service token naming every provider."""
    token = issue_service_token(
        StoreSettings().service_token_secret,
        "fuzz-sync",
        (CREDENTIALS_READ,),
        providers=[p.id for p in load_catalog().providers],
        lifetime=timedelta(seconds=MAX_SERVICE_LIFETIME_S),
    )
    fuzzed = fuzz_openapi(
        store_url,
        {"Authorization": f"Bearer {token}"},
        path_parameters={"org_id": str(ORG)},
        max_examples=40,
        tag="credentials",
    )
    credentials = "GET /v1/orgs/{org_id}/integrations/{provider}/credentials"
    assert fuzzed.count(GenerationMode.NEGATIVE, 400, credentials) > 0
    # Past the checks: the fuzzed organization has no connection.
    assert fuzzed.count(GenerationMode.POSITIVE, 400, credentials) > 0
    assert fuzzed.never_refused() == []


def test_raw_garbage_bodies_are_refused_cleanly(store_url: str, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {_token()}", "Content-Type": "application/json"}
    for body in (
        b"\xff\xfe",
        b"{",
        b"[]",
        b'{"flags": {"integrations.meta_ads": "yes"}}',
        b"x" * 200_000,
    ):
        response = httpx.put(
            f"{store_url}/v1/orgs/{ORG}/flags", content=body, headers=auth, timeout=10
        )
        assert 400 <= response.status_code < 500, (body[:20], response.text)
        assert "error" in response.json()
