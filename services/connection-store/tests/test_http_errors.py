"""Bad input (SECURITY.md 25): every malformed request gets a 4xx with the JSON error shape."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from connection_store.app import create_app
from connection_store.auth import READ, WRITE, issue_token
from connection_store.settings import StoreSettings
from fastapi import FastAPI

pytestmark = pytest.mark.integration
ORG = uuid.UUID("0b7d4c36-3f0e-4d8e-9d61-5e0a3a6c9f21")
BASE = f"/v1/orgs/{ORG}"
LIMIT = 4096


@pytest.fixture
async def app(store_settings: StoreSettings) -> AsyncIterator[FastAPI]:
    settings = store_settings.model_copy(update={"max_body_bytes": LIMIT})
    app = create_app(settings, run_consumers=False, run_background=False, start_broker=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://store") as http:
        yield http


@pytest.fixture
def auth(store_settings: StoreSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(store_settings.jwt_secret, ORG)}"}


def assert_error_shape(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"code", "message", "field"}
    assert isinstance(body["error"]["code"], str)
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


JSON = {"Content-Type": "application/json"}
MALFORMED = [
    # method, path, extra headers, raw body, status, code
    pytest.param(
        "PATCH",
        f"{BASE}/integrations/meta_ads/settings",
        JSON,
        b'{"a":',
        400,
        "invalid_json",
        id="invalid-json",
    ),
    pytest.param(
        "PATCH",
        f"{BASE}/integrations/meta_ads/settings",
        JSON,
        b"[1, 2]",
        422,
        "invalid_request",
        id="json-array",
    ),
    pytest.param(
        "PATCH",
        f"{BASE}/integrations/meta_ads/settings",
        JSON,
        b'"act_1"',
        422,
        "invalid_request",
        id="json-string",
    ),
    pytest.param(
        "PATCH",
        f"{BASE}/integrations/meta_ads/settings",
        {},
        None,
        422,
        "invalid_request",
        id="no-body",
    ),
    pytest.param(
        "PATCH",
        f"{BASE}/integrations/meta_ads/settings",
        {"Content-Type": "text/plain"},
        b"pixel=1",
        422,
        "invalid_request",
        id="text-body",
    ),
    pytest.param(
        "PATCH",
        f"{BASE}/integrations/meta_ads/settings",
        JSON,
        b'{"pixel_id": "\x00"}',
        400,
        "invalid_json",
        id="nul-in-json",
    ),
    pytest.param(
        "PUT",
        f"{BASE}/flags",
        JSON,
        b'{"flags": {"\xff": true}}',
        400,
        "invalid_json",
        id="not-utf8",
    ),
    pytest.param(
        "PUT",
        f"{BASE}/flags",
        JSON,
        b'{"flags": {"integrations.ga4": "yes"}}',
        422,
        "invalid_request",
        id="flag-not-bool",
    ),
    pytest.param(
        "PUT",
        f"{BASE}/flags",
        JSON,
        b'{"flags": {"integrations.ga4": 1}}',
        422,
        "invalid_request",
        id="flag-as-int",
    ),
    pytest.param(
        "PUT",
        f"{BASE}/flags",
        JSON,
        b'{"flags": ["integrations.ga4"]}',
        422,
        "invalid_request",
        id="flags-not-object",
    ),
    pytest.param(
        "PUT", f"{BASE}/flags", JSON, b'{"flags": {}}', 422, "invalid_request", id="flags-empty"
    ),
    pytest.param("PUT", f"{BASE}/flags", JSON, b"{}", 422, "invalid_request", id="flags-missing"),
    pytest.param(
        "PUT",
        f"{BASE}/flags",
        JSON,
        b'{"flags": {}, "org": "x"}',
        422,
        "invalid_request",
        id="flags-extra-key",
    ),
    pytest.param(
        "PUT",
        f"{BASE}/flags",
        JSON,
        b'{"flags": {"../../etc": true}}',
        422,
        "unknown_flag",
        id="unknown-flag",
    ),
    pytest.param(
        "GET",
        f"{BASE}/integrations/myspace",
        {},
        None,
        404,
        "unknown_provider",
        id="unknown-provider",
    ),
    pytest.param(
        "POST",
        f"{BASE}/integrations/myspace/sync",
        {},
        None,
        404,
        "unknown_provider",
        id="unknown-provider-sync",
    ),
    pytest.param(
        "PATCH",
        f"{BASE}/integrations/myspace/settings",
        JSON,
        b"{}",
        404,
        "unknown_provider",
        id="unknown-provider-settings",
    ),
    pytest.param(
        "DELETE",
        f"{BASE}/integrations/myspace",
        {},
        None,
        404,
        "unknown_provider",
        id="unknown-provider-delete",
    ),
    pytest.param(
        "GET",
        f"{BASE}/integrations/sentry",
        {},
        None,
        404,
        "platform_provider",
        id="platform-provider",
    ),
    pytest.param(
        "POST",
        f"{BASE}/integrations/better_stack/sync",
        {},
        None,
        404,
        "platform_provider",
        id="platform-provider-sync",
    ),
    pytest.param(
        "GET",
        f"{BASE}/integrations/{'x' * 3000}",
        {},
        None,
        404,
        "unknown_provider",
        id="huge-provider",
    ),
    pytest.param(
        "GET", "/v1/orgs/acme/integrations", {}, None, 404, "not_found", id="org-not-uuid"
    ),
    pytest.param(
        "GET", "/v1/orgs/1%27%20OR%201=1--/flags", {}, None, 404, "not_found", id="org-sql"
    ),
    pytest.param("GET", "/v1/nothing", {}, None, 404, "not_found", id="unknown-route"),
    pytest.param(
        "GET",
        f"{BASE}/integrations/meta_ads/secrets",
        {},
        None,
        404,
        "not_found",
        id="unknown-nested",
    ),
    pytest.param("PUT", "/v1/providers", {}, None, 405, "method_not_allowed", id="wrong-method"),
    pytest.param(
        "POST", f"{BASE}/integrations", {}, None, 405, "method_not_allowed", id="wrong-method-org"
    ),
    pytest.param(
        "DELETE", f"{BASE}/flags", {}, None, 405, "method_not_allowed", id="wrong-method-flags"
    ),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "status", "code"), MALFORMED)
async def test_malformed_requests_get_a_4xx_json_error(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    code: str,
) -> None:
    response = await client.request(method, path, headers={**auth, **headers}, content=body)
    assert response.status_code == status, response.text
    assert assert_error_shape(response)["code"] == code


async def test_wrong_method_names_the_allowed_ones(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/providers")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert "allowed: GET" in assert_error_shape(response)["message"]


async def test_validation_errors_name_the_field_and_never_echo_the_input(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    secretish = "sk_live_do_not_echo_me"
    response = await client.put(
        f"{BASE}/flags", headers=auth, json={"flags": {"integrations.ga4": secretish}}
    )
    error = assert_error_shape(response)
    assert error["field"] == "flags.integrations.ga4"
    assert "boolean" in error["message"]
    assert secretish not in response.text


async def test_a_declared_oversized_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = json.dumps({"pixel_id": "1" * LIMIT}).encode()
    response = await client.patch(
        f"{BASE}/integrations/meta_ads/settings", headers={**auth, **JSON}, content=body
    )
    assert response.status_code == 413
    assert assert_error_shape(response)["code"] == "body_too_large"


async def test_a_streamed_oversized_body_without_length_is_refused(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"pixel_id": "'
        for _ in range(4):
            yield b"1" * 2000
        yield b'"}'

    response = await client.patch(
        f"{BASE}/integrations/meta_ads/settings", headers={**auth, **JSON}, content=chunks()
    )
    assert response.status_code == 413
    assert assert_error_shape(response)["code"] == "body_too_large"


async def test_a_streamed_body_under_the_limit_is_served(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"pixel_id": '
        yield b'"123"}'

    response = await client.patch(
        f"{BASE}/integrations/meta_ads/settings", headers={**auth, **JSON}, content=chunks()
    )
    assert response.status_code == 200
    assert response.json()["settings"]["pixel_id"] == "123"


JUNK: list[bytes | None] = [
    None,
    b"",
    b"null",
    b"0",
    b"[]",
    b'{"flags": null}',
    b'{"a": {"b": {"c": {"d": [[[[[]]]]]}}}}',
    b'{"ad_account_id": ["act_1"]}',
    b'{"ad_account_id": 1e309}',
    b"\xef\xbb\xbf{}",
    b'{"' + b"k" * 2000 + b'": 1}',
    b"{" * 2000,
]


async def test_every_operation_of_the_openapi_document_survives_junk(
    app: FastAPI, client: httpx.AsyncClient, store_settings: StoreSettings
) -> None:
    """A small fuzz: each operation with junk bodies, junk path values, with and without a
    token; the answer is always < 500 and every error has the JSON error shape."""
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    token = issue_token(store_settings.jwt_secret, ORG, scopes=[READ, WRITE])
    identities = [
        {},
        {"Authorization": f"Bearer {token}"},
        {"Authorization": f"Bearer {token[:-4]}AAAA"},
    ]
    values = {
        "org_id": [str(ORG), str(uuid.uuid4()), "-1", "%00", "..%2F.."],
        "provider": ["meta_ads", "sentry", "META_ADS", "meta_ads%20", "a" * 300],
    }
    answered = 0
    for template, operations in paths.items():
        for method in operations:
            for index, junk in enumerate(JUNK):
                path = template
                for name, choices in values.items():
                    path = path.replace(f"{{{name}}}", choices[index % len(choices)])
                for identity in identities:
                    response = await client.request(
                        method, path, headers={**identity, **JSON}, content=junk
                    )
                    answered += 1
                    assert response.status_code < 500, (method, path, junk, response.text)
                    if response.status_code >= 400:
                        assert_error_shape(response)
    assert answered == len(JUNK) * len(identities) * sum(len(ops) for ops in paths.values())
