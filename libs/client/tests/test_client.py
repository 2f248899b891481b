"""The client's own behaviour against an httpx MockTransport playing the store's contract:
typed answers, error mapping with the store's message, bounded retries on 503/429."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from hub_client import (
    AccessDenied,
    Credential,
    HubClient,
    HubError,
    HubUnavailable,
    NotConnected,
    ReconnectRequired,
)

ORG = uuid.UUID("3f1c2b6e-8a4d-4f0e-9c1a-2b3c4d5e6f70")
BODY = {
    "organization_id": str(ORG),
    "provider": "klaviyo",
    "auth_type": "api_key",
    "fields": {"private_api_key": "pk_sandbox_123", "public_api_key": "ABC123"},
    "expires_at": None,
    "account": {"id": "acc-1", "name": "Sandbox Klaviyo account"},
    "metadata": {},
    "credential_version": 3,
}


def _error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message}}, headers=headers
    )


class Script:
    """Answers in order, recording every request."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else answer


def _hub(script: Script, slept: list[float] | None = None, **options: object) -> HubClient:
    async def sleep(seconds: float) -> None:
        if slept is not None:
            slept.append(seconds)

    return HubClient(
        "http://store.test/",
        "service-token",
        transport=httpx.MockTransport(script),
        sleep=sleep,
        **options,  # type: ignore[arg-type]
    )


async def test_a_credential_comes_back_typed_and_secret() -> None:
    script = Script(httpx.Response(200, json=BODY))
    async with _hub(script) as hub:
        credential = await hub.credentials(ORG, "klaviyo", min_ttl_s=600)
    assert isinstance(credential, Credential)
    assert credential.value("private_api_key") == "pk_sandbox_123"
    assert credential.account.name == "Sandbox Klaviyo account"
    assert credential.credential_version == 3
    assert "pk_sandbox_123" not in repr(credential)
    (request,) = script.requests
    assert request.url.path == f"/v1/orgs/{ORG}/integrations/klaviyo/credentials"
    assert request.url.params["min_ttl_s"] == "600"
    assert request.headers["authorization"] == "Bearer service-token"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (404, "not_connected", NotConnected),
        (409, "reconnect_required", ReconnectRequired),
        (403, "provider_not_allowed", AccessDenied),
        (401, "invalid_token", AccessDenied),
        (400, "invalid_request", HubError),
    ],
)
async def test_refusals_raise_their_leaf_with_the_stores_message_and_are_not_retried(
    status: int, code: str, kind: type[HubError]
) -> None:
    message = f"the store says {code}: reconnect Klaviyo in Settings → Integrations"
    script = Script(_error(status, code, message))
    async with _hub(script) as hub:
        with pytest.raises(kind) as raised:
            await hub.credentials(ORG, "klaviyo")
    assert type(raised.value) is kind
    assert raised.value.message == message
    assert raised.value.code == code
    assert raised.value.status == status
    assert len(script.requests) == 1


async def test_503_is_retried_after_what_retry_after_says_then_succeeds() -> None:
    slept: list[float] = []
    script = Script(
        _error(503, "refresh_unavailable", "Klaviyo is down", **{"Retry-After": "2"}),
        _error(429, "rate_limited", "slow down", **{"Retry-After": "1"}),
        httpx.Response(200, json=BODY),
    )
    async with _hub(script, slept) as hub:
        credential = await hub.credentials(ORG, "klaviyo")
    assert credential.provider == "klaviyo"
    assert slept == [2.0, 1.0]
    assert len(script.requests) == 3


async def test_retries_are_bounded_and_the_wait_is_capped() -> None:
    slept: list[float] = []
    answers = [_error(503, "refresh_unavailable", "Klaviyo is down", **{"Retry-After": "120"})]
    script = Script(*(answers * 4))
    async with _hub(script, slept, max_attempts=4, max_retry_wait_s=5.0) as hub:
        with pytest.raises(HubUnavailable) as raised:
            await hub.credentials(ORG, "klaviyo")
    assert len(script.requests) == 4
    assert slept == [5.0, 5.0, 5.0]
    assert raised.value.code == "refresh_unavailable"
    assert raised.value.message == "Klaviyo is down"
    assert raised.value.retry_after_s == 120.0


async def test_a_network_failure_is_retried_with_backoff() -> None:
    slept: list[float] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    script = Script(refuse, refuse, httpx.Response(200, json=BODY))
    async with _hub(script, slept) as hub:
        await hub.credentials(ORG, "klaviyo")
    assert slept == [1.0, 2.0]


async def test_an_answer_that_is_not_a_credential_is_an_error_without_its_values() -> None:
    script = Script(httpx.Response(200, json={**BODY, "credential_version": -1}))
    async with _hub(script) as hub:
        with pytest.raises(HubError, match="not a credential") as raised:
            await hub.credentials(ORG, "klaviyo")
    assert "pk_sandbox_123" not in str(raised.value)
