"""Every provider of the catalog, through its default auth mode, end to end: as the catalog grows,
so does this test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hub_catalog import AuthType, RequestSpec, classify, load_catalog, succeeded, value_at
from provider_sandbox import accepts

PROVIDERS = [provider.id for provider in load_catalog().providers]


def _proofs(client: Any) -> list[RequestSpec]:
    checks = client.provider.checks
    return [request for request in (checks.health, checks.identity) if request is not None]


@pytest.mark.parametrize("provider_id", PROVIDERS)
async def test_default_mode_connects_and_checks(
    provider_id: str, sandbox: Callable[[str], Any]
) -> None:
    client = sandbox(provider_id)
    provider = client.provider
    mode = provider.auth
    credentials = await client.connect(mode)

    for request in _proofs(client):
        answer = await client.check(request, mode, credentials)
        body = answer.json()
        assert succeeded(request, answer.status_code, body), (request.url, answer.text)
        if request.account_name_path:
            assert value_at(body, request.account_name_path).startswith("Sandbox ")
        if request.account_id_path:
            assert value_at(body, request.account_id_path)


@pytest.mark.parametrize("provider_id", PROVIDERS)
async def test_default_mode_refuses_a_bad_credential_as_revoked(
    provider_id: str, sandbox: Callable[[str], Any]
) -> None:
    client = sandbox(provider_id)
    provider = client.provider
    mode = provider.auth
    if mode.type == AuthType.OAUTH2_AUTHORIZATION_CODE:
        refused = {"access_token": "sbx-never-issued"}
    else:
        typed = client.typed_values(mode)
        refused = {name: f"rejected-{value}" for name, value in typed.items()}
    if mode.mint is not None:
        answer = await client.mint(mode, refused)
        assert classify(provider, answer.status_code, answer.json()) == "revoked", answer.text
        return
    proofs = _proofs(client)
    if not proofs:
        # best_effort: nothing can prove the values, the gateway checks their shape only.
        for field in mode.fields:
            assert not accepts(field, refused[field.name])
        return
    for request in proofs:
        answer = await client.check(request, mode, refused)
        assert classify(provider, answer.status_code, answer.json()) == "revoked", answer.text
