"""Health, identity and mint endpoints: a credential sent where the catalog says proves itself.

A health or identity request carries its mode's ``transport`` and its own ``auth`` placements; a
mint request only its ``auth``. Of the provider's modes whose credential is where it belongs, the
one it is plausibly for is judged (a token the sandbox issued goes to a token mode, anything else to
an API-key mode: Wise takes ``Bearer`` for both). Issued tokens must be known, unexpired,
unrevoked and of the same tenant; typed values follow the API-key rule (``conventions``). A
credential that is missing, misplaced or refused gets the provider's revoked answer; a request that
differs otherwise (Klaviyo's ``revision``, the platform's developer token) gets a 400.

Every answer is the provider's recorded one (``recordings``): ``health``, ``identity`` (or
``health`` when they share a URL), ``mint``, ``revoked``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.responses import JSONResponse
from hub_catalog import AuthMode, Placement, RequestSpec

from provider_sandbox.answers import Account, Refusal, mismatch, problem, recorded, revoked
from provider_sandbox.call import Call
from provider_sandbox.conventions import accepts
from provider_sandbox.endpoints import EndpointKind
from provider_sandbox.expectations import Reading, expectations, read
from provider_sandbox.state import FaultMode, Grant, TokenKind

CHECKS = (EndpointKind.HEALTH, EndpointKind.IDENTITY)
TOKEN_KINDS: dict[str, TokenKind] = {"access_token": "access", "refresh_token": "refresh"}


async def check(call: Call) -> JSONResponse:
    """A health or identity request."""
    request = _request(call)
    mode, reading = authenticate(call, request)
    await judge(call, mode, reading)
    names = [call.endpoint.kind.value, EndpointKind.HEALTH.value]
    return _play(call, names, _account(call).values())


async def mint(call: Call) -> JSONResponse:
    """A mint request (client credentials, token exchange): typed values → an access token."""
    request, mode = _request(call), call.endpoint.mode
    assert mode is not None, "mint endpoints carry their mode"
    reading = _reading(call, request, mode, request.auth)
    if reading is None:
        raise Refusal(revoked(call.recordings, "credentials missing"))
    await judge(call, mode, reading)
    lifetime = call.lifetime(mode.access_token_lifetime_s)
    grant = Grant(provider=call.provider.id, tenant=call.tenant, scopes=())
    token = call.store.issue(grant, "access", lifetime)
    values = {**_account(call).values(), "access_token": token.value}
    if lifetime is not None:
        values["expires_in"] = lifetime
    return _play(call, [EndpointKind.MINT.value], values)


def _play(call: Call, names: list[str], values: dict[str, object]) -> JSONResponse:
    for name in names:
        answer = recorded(call.recordings, name, values)
        if answer is not None:
            return answer
    return problem(501, "not_recorded", f"{call.provider.id} has no recorded {names[0]} answer")


def _request(call: Call) -> RequestSpec:
    request = call.endpoint.request
    assert request is not None, "check and mint endpoints carry their catalog request"
    return request


def _reading(
    call: Call, request: RequestSpec, mode: AuthMode, placements: Sequence[Placement]
) -> Reading | None:
    """What the request carries for ``mode``; ``None`` if its credential is not all there."""
    expected = expectations(request, placements)
    names = _credential_names(mode)
    if not any(expectation.names & names for expectation in expected):
        return None
    reading = read(call.incoming, expected, call.url_values)
    return None if reading.lacks(names) else reading


def authenticate(call: Call, request: RequestSpec) -> tuple[AuthMode, Reading]:
    present = [
        (mode, reading)
        for mode in call.provider.auth_modes
        if (reading := _reading(call, request, mode, [*mode.transport, *request.auth]))
    ]
    if not present:
        raise Refusal(revoked(call.recordings, "no credential where the catalog puts it"))
    for mode, reading in present:
        credentials = _credentials(mode, reading)
        issued = any(value in call.store.tokens for value in credentials.values())
        if issued == any(name in TOKEN_KINDS for name in credentials):
            return mode, reading
    return present[0]


async def judge(call: Call, mode: AuthMode, reading: Reading) -> None:
    """Refuse unless every presented credential is good and the rest of the request is as the
    catalog describes it."""
    credentials = _credentials(mode, reading)
    if await call.fault(credentials.values()) == FaultMode.REVOKED:
        raise Refusal(revoked(call.recordings, "revoked (sandbox fault)"))
    for name, value in credentials.items():
        if not _good(call, mode, name, value):
            raise Refusal(revoked(call.recordings, f"{name} refused"))
    problems = reading.problems() + [
        f"platform credential {name!r} is not the sandbox's value"
        for name, value in reading.values.items()
        if name in _platform_names(call) - credentials.keys() and value != call.platform_value(name)
    ]
    if problems:
        raise Refusal(mismatch(problems))


def _good(call: Call, mode: AuthMode, name: str, value: str) -> bool:
    if name in TOKEN_KINDS:
        token = call.store.token(call.provider.id, value, TOKEN_KINDS[name])
        return token is not None and token.usable(call.provider.id, call.tenant)
    field = next(field for field in mode.fields if field.name == name)
    return accepts(field, value) and (call.provider.id, value) not in call.store.revoked_values


def _credential_names(mode: AuthMode) -> set[str]:
    """A connection's own credentials: tokens and the values an admin types (a field named
    like a platform credential, as for Better Stack, is judged as a field)."""
    return set(TOKEN_KINDS) | {field.name for field in mode.fields}


def _credentials(mode: AuthMode, reading: Reading) -> dict[str, str]:
    names = _credential_names(mode)
    return {name: value for name, value in reading.values.items() if name in names}


def _platform_names(call: Call) -> set[str]:
    return {credential.name for credential in call.provider.platform_credentials}


def _account(call: Call) -> Account:
    return Account.of(call.provider, call.incoming.host, call.tenant)
