"""Every recorded provider answer, read by ``hub_catalog`` as the services read it.

The recordings come from the providers' documentation, not from the catalog: where one of these
fails, the catalog misreads the provider and the catalog is what gets fixed (never the recording).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hub_catalog import (
    MISSING,
    AuthMode,
    Catalog,
    OAuthHook,
    Provider,
    RefreshStrategy,
    RequestSpec,
    ResourceListing,
    classify,
    load_catalog,
    resource_items,
    succeeded,
    value_at,
)
from provider_sandbox.recordings import REQUIRED, Recording, Recordings, fill, load_recordings

SAMPLE = {
    "account_name": "Recorded account",
    "account_id": "recorded-account",
    "access_token": "recorded-access-token",
    "expires_in": 3600,
}
CASES = [
    (provider_id, name, recording)
    for provider_id, recordings in sorted(load_recordings().items())
    for name, recording in sorted(recordings.answers.items())
]


def _requests(provider: Provider, name: str) -> list[RequestSpec]:
    """The catalog requests a success recording answers."""
    health, identity = provider.checks.health, provider.checks.identity
    if name == "health":
        assert health is not None, f"{provider.id} has no health request to record"
        shared = identity is not None and (identity.method, identity.url) == (
            health.method,
            health.url,
        )
        return [health, identity] if shared and identity is not None else [health]
    if name == "identity":
        assert identity is not None, f"{provider.id} has no identity request to record"
        assert health is None or (health.method, health.url) != (identity.method, identity.url), (
            f"{provider.id}'s identity shares health's URL: record it once, as health"
        )
        return [identity]
    if name.startswith("resource."):
        kind = name.removeprefix("resource.")
        assert kind in provider.resources, f"{provider.id} lists no {kind}"
        return [provider.resources[kind]]
    if name == "mint":
        mints = [mode.mint for mode in provider.auth_modes if mode.mint is not None]
        assert mints, f"{provider.id} mints no token"
        return mints
    if name == "revocation":
        revocations = [
            mode.oauth.revocation
            for mode in provider.auth_modes
            if mode.oauth is not None and mode.oauth.revocation is not None
        ]
        assert revocations, f"{provider.id} has no revocation request to record"
        return list(revocations)
    return []


def _renews(mode: AuthMode) -> bool:
    """Whether the token endpoint takes a refresh or re-exchange grant for this mode."""
    if mode.oauth is None:
        return False
    refreshes = mode.refresh in (
        RefreshStrategy.REFRESH_GRANT,
        RefreshStrategy.ROTATING_REFRESH_GRANT,
    )
    return refreshes or OAuthHook.META_LONG_LIVED_EXCHANGE in mode.oauth.hooks


def _scalar(body: Any, path: str) -> bool:
    found = value_at(body, path)
    return found is not MISSING and found is not None and not isinstance(found, dict | list)


@pytest.mark.parametrize(
    ("provider_id", "name", "recording"), CASES, ids=[f"{p}-{n}" for p, n, _ in CASES]
)
def test_the_catalog_reads_each_recorded_answer_as_documented(
    catalog: Catalog, provider_id: str, name: str, recording: Recording
) -> None:
    provider = catalog.get(provider_id)
    body = fill(recording.body, SAMPLE)
    signal = classify(provider, recording.status, body)
    if recording.expect in ("revoked", "rate_limited"):
        assert signal == recording.expect, f"{provider_id} {name}: read as {signal}"
        return
    assert signal is None, f"{provider_id} {name}: read as {signal}"
    if recording.expect == "error":
        assert recording.status >= 500, f"{provider_id} {name}: a server error is a 5xx"
        return
    for request in _requests(provider, name):
        assert succeeded(request, recording.status, body), f"{provider_id} {name}: not a success"
        for path in (request.account_name_path, request.account_id_path, request.token_path):
            if path is not None:
                assert _scalar(body, path), f"{provider_id} {name}: nothing at {path!r}"
        if request.expires_in_path is not None:
            assert isinstance(value_at(body, request.expires_in_path), int), provider_id
        if isinstance(request, ResourceListing):
            items = resource_items(request, body)
            assert items, f"{provider_id} {name}: no items at {request.items_path!r}"
            assert all(ident and label for ident, label in items), items
            for setting in provider.settings:
                if setting.resource == name.removeprefix("resource.") and setting.pattern:
                    for ident, _ in items:  # a listed id must be a value the setting accepts
                        assert re.fullmatch(setting.pattern, ident), (setting.name, ident)


def test_every_catalog_provider_has_its_recordings(catalog: Catalog) -> None:
    recorded = load_recordings()
    assert sorted(recorded) == sorted(p.id for p in catalog.providers)
    for provider in catalog.providers:
        recordings = recorded[provider.id]
        expected = set(REQUIRED)
        if provider.checks.health is not None:
            expected.add("health")
        identity, health = provider.checks.identity, provider.checks.health
        if identity is not None and (
            health is None or (identity.method, identity.url) != (health.method, health.url)
        ):
            expected.add("identity")
        if any(mode.mint is not None for mode in provider.auth_modes):
            expected.add("mint")
        if any(m.oauth is not None and m.oauth.revocation is not None for m in provider.auth_modes):
            expected.add("revocation")
        if any(
            mode.refresh.value in ("refresh_grant", "rotating_refresh_grant")
            for mode in provider.auth_modes
            if mode.oauth is not None
        ) or any(
            "meta_long_lived_exchange" in [h.value for h in mode.oauth.hooks]
            for mode in provider.auth_modes
            if mode.oauth is not None
        ):
            expected.add("refresh_refused")
        present = set(recordings.answers) | set(recordings.undocumented)
        assert expected <= present, f"{provider.id} lacks {sorted(expected - present)}"


def test_every_recording_names_its_source() -> None:
    for recordings in load_recordings().values():
        assert isinstance(recordings, Recordings)
        for name, recording in recordings.answers.items():
            assert recording.source.strip(), f"{recordings.provider} {name}"


LISTINGS = [
    (provider.id, kind) for provider in load_catalog().providers for kind in provider.resources
]


@pytest.mark.parametrize(("provider_id", "kind"), LISTINGS, ids=[f"{p}-{k}" for p, k in LISTINGS])
async def test_the_sandbox_plays_every_listing_as_recorded(
    sandbox: Callable[[str], Any], provider_id: str, kind: str
) -> None:
    client = sandbox(provider_id)
    mode = client.mode()
    credential = await client.connect(mode)
    listing = client.provider.resources[kind]
    params = dict.fromkeys(listing.params, "act_1000000001")  # Meta pixels: an ad account
    answer = await client.check(listing, mode, credential | params)
    assert answer.status_code == 200, answer.text
    items = resource_items(listing, answer.json())
    assert items, answer.text
    revoked = await client.check(listing, mode, credential | params | _refused(credential))
    assert classify(client.provider, revoked.status_code, revoked.json()) == "revoked"


def _refused(credential: dict[str, str]) -> dict[str, str]:
    return {name: "rejected-" + value for name, value in credential.items()}
