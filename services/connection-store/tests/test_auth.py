"""Bearer tokens: what is accepted, what is refused and how, and the development token CLI."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from connection_store import issuer
from connection_store.app import create_app
from connection_store.auth import (
    AUDIENCE,
    CREDENTIALS_READ,
    READ,
    WRITE,
    ServiceTokens,
    issue_service_token,
    issue_token,
    user_verifier,
    verify_service_token,
)
from connection_store.settings import StoreSettings
from hub_keyring import new_key_spec
from hub_runtime.api_errors import UnauthenticatedError
from pydantic import SecretStr

SECRET = SecretStr("a-test-secret-of-at-least-thirty-two-bytes-0123456789")
ORG = uuid.UUID("6f1c2a52-9a0e-4f8e-b5a4-1c1b2d3e4f50")


def _token(secret: str = SECRET.get_secret_value(), **claims: Any) -> str:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "sub": "ada",
        "org": str(ORG),
        "scope": f"{READ} {WRITE}",
        "exp": now + timedelta(minutes=5),
        **claims,
    }
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm="HS256")


def test_a_valid_token_names_its_subject_organization_and_scopes() -> None:
    principal = user_verifier(SECRET).verify(_token())
    assert (principal.subject, principal.organization_id, principal.scopes) == (
        "ada",
        ORG,
        frozenset({READ, WRITE}),
    )
    assert principal.owns(str(ORG))
    assert principal.owns(str(ORG).upper())
    assert not principal.owns(str(uuid.uuid4()))
    assert not principal.owns("not-a-uuid")


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        (_token(secret="another-secret-that-is-also-thirty-two-bytes-long"), "signature"),
        (_token(exp=datetime.now(UTC) - timedelta(minutes=5)), "expired"),
        (_token(exp=None), '"exp"'),
        (_token(org=None), '"org"'),
        (_token(sub=None), '"sub"'),
        (_token(org="acme"), "organization UUID"),
        (_token(org=123), "organization UUID"),
        (_token(scope=["integrations:read"]), "'scope'"),
        (_token(sub=""), "'sub'"),
        (_token(nbf=datetime.now(UTC) + timedelta(hours=1)), "not yet valid"),
        (jwt.encode({"sub": "ada", "org": str(ORG)}, key="", algorithm="none"), "not valid"),
        ("not.a.jwt", "well-formed"),
        ("", "well-formed"),
    ],
)
def test_a_token_that_does_not_hold_up_is_refused_with_the_reason(
    token: str, fragment: str
) -> None:
    with pytest.raises(UnauthenticatedError) as refused:
        user_verifier(SECRET).verify(token)
    assert fragment in refused.value.message
    assert refused.value.status_code == 401
    assert "Bearer" in refused.value.headers["WWW-Authenticate"]


def test_audience_and_issuer_are_checked_when_configured() -> None:
    verifier = user_verifier(SECRET, audience="integrations-hub", issuer="https://platform.test")
    good = _token(aud="integrations-hub", iss="https://platform.test")
    assert verifier.verify(good).subject == "ada"
    for bad in (
        _token(aud="billing", iss="https://platform.test"),
        _token(iss="https://platform.test"),
        _token(aud="integrations-hub", iss="https://evil.test"),
        _token(aud="integrations-hub"),
    ):
        with pytest.raises(UnauthenticatedError):
            verifier.verify(bad)


def test_a_token_with_an_audience_is_accepted_when_none_is_configured() -> None:
    assert user_verifier(SECRET).verify(_token(aud="anything")).subject == "ada"


def test_issued_tokens_verify_with_the_same_settings() -> None:
    token = issue_token(SECRET, ORG, scopes=[READ], audience="hub", issuer="https://p")
    principal = user_verifier(SECRET, audience="hub", issuer="https://p").verify(token)
    assert (principal.organization_id, principal.scopes) == (ORG, frozenset({READ}))


@pytest.fixture
async def client(store_settings: StoreSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store_settings, run_consumers=False, run_background=False, start_broker=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://store") as http,
    ):
        yield http


def _bearer(settings: StoreSettings, *scopes: str, org: uuid.UUID = ORG) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings.jwt_secret, org, scopes=scopes)}"}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Basic YWRhOnNlY3JldA=="}, "missing_token"),
        ({"Authorization": "Bearer"}, "missing_token"),
        ({"Authorization": "Bearer not-a-token"}, "invalid_token"),
        ({"Authorization": f"Bearer {_token()}"}, "invalid_token"),  # another secret
    ],
)
async def test_requests_without_a_valid_token_get_a_401_json_error(
    client: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    for path in ("/v1/providers", f"/v1/orgs/{ORG}/integrations", f"/v1/orgs/{ORG}/flags"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.integration
async def test_a_read_only_token_cannot_change_anything(
    client: httpx.AsyncClient, store_settings: StoreSettings
) -> None:
    headers = _bearer(store_settings, READ)
    base = f"/v1/orgs/{ORG}"
    assert (await client.get(f"{base}/integrations", headers=headers)).status_code == 200
    for method, path, body in [
        ("PATCH", f"{base}/integrations/meta_ads/settings", {"pixel_id": "1"}),
        ("POST", f"{base}/integrations/meta_ads/sync", None),
        ("DELETE", f"{base}/integrations/meta_ads", None),
        ("PUT", f"{base}/flags", {"flags": {"integrations.ga4": False}}),
    ]:
        response = await client.request(method, path, headers=headers, json=body)
        assert response.status_code == 403, (method, path)
        error = response.json()["error"]
        assert (error["code"], "integrations:write" in error["message"]) == (
            "insufficient_scope",
            True,
        )
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


@pytest.mark.integration
async def test_a_write_only_token_cannot_read(
    client: httpx.AsyncClient, store_settings: StoreSettings
) -> None:
    headers = _bearer(store_settings, WRITE)
    for path in ("/v1/providers", f"/v1/orgs/{ORG}/integrations", f"/v1/orgs/{ORG}/flags"):
        response = await client.get(path, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (
            403,
            "insufficient_scope",
        )


@pytest.mark.integration
async def test_configured_audience_is_enforced_by_the_api(store_settings: StoreSettings) -> None:
    settings = store_settings.model_copy(update={"jwt_audience": "integrations-hub"})
    app = create_app(settings, run_consumers=False, run_background=False, start_broker=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as http,
    ):
        without = _bearer(settings, READ)
        with_aud = issue_token(settings.jwt_secret, ORG, scopes=[READ], audience="integrations-hub")
        assert (await http.get("/v1/providers", headers=without)).status_code == 401
        ok = await http.get("/v1/providers", headers={"Authorization": f"Bearer {with_aud}"})
        assert ok.status_code == 200


def test_token_cli_prints_a_token_the_api_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert issuer.main(["--org", str(ORG), "--scope", READ]) == 0
    token = capsys.readouterr().out.strip()
    settings = StoreSettings()
    principal = user_verifier(settings.jwt_secret, settings.jwt_audience, settings.jwt_issuer)
    verified = principal.verify(token)
    assert (verified.organization_id, verified.scopes) == (ORG, frozenset({READ}))


def test_token_cli_refuses_to_run_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_ENVIRONMENT", "production")
    monkeypatch.setenv("PLATFORM_JWT_SECRET", SECRET.get_secret_value())
    assert issuer.main(["--org", str(ORG)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "production" in captured.err


def test_token_cli_refuses_an_organization_that_is_not_a_uuid(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        issuer.main(["--org", "acme"])
    assert "invalid UUID" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"jwt_audience": None}, "PLATFORM_JWT_AUDIENCE must be set"),
        ({"jwt_secret": "j" * 31}, "PLATFORM_JWT_SECRET needs at least 32 bytes"),
        ({"service_token_secret": "j" * 40}, "HUB_SERVICE_TOKEN_SECRET must differ"),
        ({"provider_base_url_override": "http://127.0.0.1:8199"}, "PROVIDER_BASE_URL_OVERRIDE"),
        ({"credential_keys": None}, "CREDENTIAL_KEYS must be set"),
    ],
)
def test_production_refuses_weak_settings(changes: dict[str, object], complaint: str) -> None:
    values: dict[str, object] = {
        "environment": "production",
        "jwt_secret": "j" * 40,
        "jwt_audience": "integrations-hub",
        "service_token_secret": "s" * 40,
        "credential_keys": new_key_spec("k1"),
    }
    assert StoreSettings.model_validate(values).jwt_audience == "integrations-hub"
    with pytest.raises(ValueError, match=complaint):
        StoreSettings.model_validate(values | changes)


def test_token_cli_prints_a_service_token_naming_its_providers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert issuer.main(["--service", "spend-sync", "--providers", "google_ads meta-ads"]) == 0
    token = capsys.readouterr().out.strip()
    principal = verify_service_token(token, StoreSettings().service_token_secret)
    assert principal.service == "spend-sync"
    assert principal.scopes == frozenset({CREDENTIALS_READ})
    assert principal.providers == frozenset({"google_ads", "meta_ads"})
    with pytest.raises(UnauthenticatedError):  # signed with the service secret, not the user one
        user_verifier(StoreSettings().jwt_secret).verify(token)


@pytest.mark.parametrize("providers", ["google_ads", [1, 2], {"a": 1}])
def test_a_service_token_with_a_malformed_providers_claim_is_refused(providers: object) -> None:
    secret = StoreSettings().service_token_secret
    now = datetime.now(UTC)
    claims = {
        "sub": "spend-sync",
        "aud": AUDIENCE,
        "scope": CREDENTIALS_READ,
        "providers": providers,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    token = jwt.encode(claims, secret.get_secret_value(), algorithm="HS256")
    with pytest.raises(UnauthenticatedError, match="providers"):
        verify_service_token(token, secret)


def test_service_tokens_remember_a_verified_token_only_until_it_expires() -> None:
    secret = StoreSettings().service_token_secret
    now = [time.time()]
    tokens = ServiceTokens(secret, clock=lambda: now[0])
    token = issue_service_token(secret, "spend-sync", (CREDENTIALS_READ,), providers=["slack"])
    assert tokens.verify(token).providers == frozenset({"slack"})
    assert tokens.verify(token).service == "spend-sync"  # from memory
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(UnauthenticatedError):
        tokens.verify(forged)
    tokens.secret = SecretStr("another-secret-that-signed-nothing-0123456789")
    assert tokens.verify(token).service == "spend-sync"  # still from memory
    now[0] += 301  # past exp: checked again (against the other secret now), and refused
    with pytest.raises(UnauthenticatedError):
        tokens.verify(token)
