"""SECURITY.md 25: schemathesis fuzzes every operation of the published OpenAPI document
against the running store; malformed input is a 4xx JSON error, never a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from connection_store.auth import SCOPES, issue_token
from connection_store.settings import StoreSettings
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


def test_no_operation_answers_malformed_input_with_a_server_error(store_url: str) -> None:
    fuzzed = fuzz_openapi(
        store_url,
        {"Authorization": f"Bearer {_token()}"},
        path_parameters={"org_id": str(ORG)},
        max_examples=25,
    )
    assert fuzzed.operations >= 9
    # Malformed input really arrived and was refused, and valid input reached the handlers.
    assert fuzzed.count(GenerationMode.NEGATIVE, 400) >= 20
    assert fuzzed.count(GenerationMode.POSITIVE, 200) > 0


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
