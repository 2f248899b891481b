"""Bearer JWT verification: the claims it accepts and the words of every refusal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from hub_runtime.bearer import BearerClaims, BearerTokenError, decode_bearer
from pydantic import SecretStr

SECRET = SecretStr("unit-test-secret-of-thirty-two-bytes!")
ORG = uuid.UUID("0b6f3c1e-2a4d-4e5f-8a9b-0c1d2e3f4a5b")


def _token(secret: SecretStr = SECRET, **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "sub": "ada",
        "org": str(ORG),
        "scope": "integrations:read integrations:write",
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, secret.get_secret_value(), algorithm="HS256")


def test_a_valid_token_gives_its_claims() -> None:
    claims = decode_bearer(_token(), SECRET)
    assert claims == BearerClaims(
        "ada", ORG, frozenset({"integrations:read", "integrations:write"})
    )


def test_owns_compares_the_path_organization_as_a_uuid() -> None:
    claims = decode_bearer(_token(), SECRET)
    assert claims.owns(str(ORG).upper())
    assert not claims.owns(str(uuid.uuid4()))
    assert not claims.owns("not-a-uuid")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (
            _token(exp=datetime.now(UTC) - timedelta(minutes=5)),
            "The bearer token has expired; get a new one.",
        ),
        (
            _token(SecretStr("another-secret-of-thirty-two-bytes!!")),
            "The bearer token is not valid: its signature does not match.",
        ),
        ("not.a.jwt", "The bearer token is not valid: it is not a well-formed JWT."),
        (_token(exp=None), 'The bearer token is not valid: Token is missing the "exp" claim.'),
        (_token(sub=""), "The bearer token's 'sub' claim must be a non-empty string."),
        (_token(org="acme"), "The bearer token's 'org' claim must be an organization UUID."),
        (
            _token(scope=["a", "b"]),
            "The bearer token's 'scope' claim must be a space-separated string.",
        ),
    ],
)
def test_refusals_say_what_failed(token: str, message: str) -> None:
    with pytest.raises(BearerTokenError) as refused:
        decode_bearer(token, SECRET)
    assert refused.value.message == message


def test_the_scope_wording_is_the_callers() -> None:
    with pytest.raises(BearerTokenError, match="must be a string"):
        decode_bearer(_token(scope=1), SECRET, scope_claim="a string")


def test_audience_and_issuer_are_checked_only_when_configured() -> None:
    token = _token(aud="hub", iss="https://platform.test")
    assert decode_bearer(token, SECRET).subject == "ada"
    assert decode_bearer(token, SECRET, audience="hub", issuer="https://platform.test")
    with pytest.raises(BearerTokenError, match="Audience doesn't match"):
        decode_bearer(token, SECRET, audience="other")
    with pytest.raises(BearerTokenError, match="Invalid issuer"):
        decode_bearer(token, SECRET, issuer="https://elsewhere")
