"""Every failure of an HTTP service renders as the JSON envelope, and readiness says why not."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from hub_runtime.api_errors import InsufficientScopeError, UnauthenticatedError
from hub_runtime.bearer import BearerClaims, TokenVerifier
from hub_runtime.http_api import install_error_handlers, require_ready
from pydantic import BaseModel, SecretStr


class _LookupError(KeyError):
    code = "unknown_thing"

    def __str__(self) -> str:
        return "There is no such thing."


class _DatabaseDownError(Exception):
    pass


class _Body(BaseModel):
    name: str


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/lookup")
    async def lookup() -> None:
        raise _LookupError()

    @app.get("/down")
    async def down() -> None:
        raise _DatabaseDownError()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret-looking detail")

    @app.get("/auth")
    async def auth() -> None:
        raise UnauthenticatedError("Send a token.", realm="test-realm", code="missing_token")

    @app.get("/scope")
    async def scope() -> None:
        raise InsufficientScopeError("integrations:write", realm="test-realm")

    @app.post("/body")
    async def body(value: _Body) -> None:
        return None

    install_error_handlers(
        app,
        not_found=(_LookupError,),
        unavailable={_DatabaseDownError: "The database is away; retry."},
    )
    return app


async def _get(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/lookup", {}, 404, "unknown_thing"),
        ("GET", "/down", {}, 503, "unavailable"),
        ("GET", "/boom", {}, 500, "internal_error"),
        ("GET", "/nowhere", {}, 404, "not_found"),
        ("DELETE", "/lookup", {}, 405, "method_not_allowed"),
        (
            "POST",
            "/body",
            {"content": b"{nope", "headers": {"content-type": "application/json"}},
            400,
            "invalid_json",
        ),
        ("POST", "/body", {"json": {"name": 3}}, 422, "invalid_request"),
        ("POST", "/body", {}, 422, "invalid_request"),
        ("GET", "/auth", {}, 401, "missing_token"),
        ("GET", "/scope", {}, 403, "insufficient_scope"),
    ],
)
async def test_every_failure_is_the_json_envelope(
    method: str, path: str, kwargs: dict[str, object], status: int, code: str
) -> None:
    response = await _get(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert "secret-looking" not in response.text


async def test_lookup_and_outage_keep_their_words_and_headers() -> None:
    lookup = (await _get("GET", "/lookup")).json()["error"]
    assert lookup == {
        "code": "unknown_thing",
        "message": "There is no such thing.",
        "field": "provider",
    }
    down = await _get("GET", "/down")
    assert down.json()["error"]["message"] == "The database is away; retry."
    assert down.headers["retry-after"] == "5"
    assert (await _get("GET", "/auth")).headers["www-authenticate"] == 'Bearer realm="test-realm"'
    assert (await _get("GET", "/scope")).headers["www-authenticate"] == (
        'Bearer realm="test-realm", error="insufficient_scope", scope="integrations:write"'
    )
    invalid = (await _get("POST", "/body", json={"name": 3})).json()["error"]
    assert invalid["field"] == "name"
    assert invalid["message"].startswith("name: ")


async def test_readiness_is_503_while_starting_or_when_the_ping_fails_or_hangs() -> None:
    from hub_runtime.api_errors import UnavailableError

    async def ok() -> None:
        return None

    async def failing() -> None:
        raise OSError("refused")

    async def hanging() -> None:
        await asyncio.sleep(10)

    assert (await require_ready(ok, starting="Starting.")).status == "ready"
    for ping, message in ((None, "Starting."), (failing, "PostgreSQL is not reachable.")):
        with pytest.raises(UnavailableError) as caught:
            await require_ready(ping, starting="Starting.")
        assert (caught.value.code, caught.value.message) == ("not_ready", message)
    with pytest.raises(UnavailableError):
        async with asyncio.timeout(5):
            await require_ready(hanging, starting="Starting.")


class _Principal(BearerClaims):
    pass


def test_token_verifier_gives_the_services_principal_or_its_401() -> None:
    import jwt

    secret = SecretStr("s" * 40)
    org = uuid.uuid4()
    token = jwt.encode(
        {"sub": "me", "org": str(org), "scope": "a b", "exp": 4_000_000_000},
        secret.get_secret_value(),
        algorithm="HS256",
    )
    verifier = TokenVerifier(secret, realm="the-realm", principal=_Principal)
    principal = verifier.verify(token)
    assert type(principal) is _Principal
    assert (principal.organization_id, principal.scopes) == (org, frozenset({"a", "b"}))
    with pytest.raises(UnauthenticatedError) as caught:
        verifier.verify(token + "x")
    assert caught.value.headers["WWW-Authenticate"] == (
        'Bearer realm="the-realm", error="invalid_token"'
    )
