"""The token and revoke endpoints: authorization-code, refresh and (Meta) long-lived exchanges.

Answers are standard OAuth JSON unless a named hook says otherwise: Slack's ``oauth.v2.access``
answers ``{"ok": ...}`` with HTTP 200, TikTok's ``{"code": 0, "data": {...}}``. A refused refresh
or re-exchange is the provider's recorded ``refresh_refused`` answer (Meta's OAuthException 190,
Slack's ``invalid_refresh_token``): whether the refresher reads it as revoked is the catalog's to
get right, and the recordings' test checks it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from hub_catalog import AuthMode, OAuthHook, OAuthSpec, RefreshStrategy

from provider_sandbox.answers import Account, refresh_refused
from provider_sandbox.call import Call
from provider_sandbox.state import FaultMode, Grant, Token, TokenKind

SHORT_LIVED_S = 3600
"""Meta's short-lived user token, before the long-lived exchange."""
REFRESHING = frozenset({RefreshStrategy.REFRESH_GRANT, RefreshStrategy.ROTATING_REFRESH_GRANT})
RENEWALS = frozenset({"refresh_token", "fb_exchange_token"})
GRANT_TYPES = RENEWALS | {"authorization_code"}
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_SLACK_ERRORS = {
    "invalid_grant": "invalid_code",
    "invalid_client": "invalid_client_id",
    "invalid_request": "invalid_arguments",
    "unsupported_grant_type": "invalid_grant_type",
}
_TIKTOK_CODES = {
    "invalid_grant": 40110,
    "invalid_client": 40101,
    "invalid_request": 40002,
    "unsupported_grant_type": 40002,
}


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Issued:
    access: Token
    refresh: Token | None
    expires_in: int | None


async def token(call: Call) -> JSONResponse:
    mode, oauth = _mode(call)
    grant_type: str | None = None
    try:
        fields = _fields(call, oauth)
        grant_type = fields.get("grant_type")
        if grant_type is None and OAuthHook.TIKTOK_AUTH_CODE in oauth.hooks:
            grant_type = "authorization_code"
        if grant_type in GRANT_TYPES:
            call.store.count(call.provider.id, f"token.{grant_type}")
        _authenticate_client(call, oauth, fields)
        issued = await _grant(call, mode, oauth, grant_type, fields)
    except OAuthError as error:
        return _error_answer(call, oauth, error, grant_type)
    return JSONResponse(_issued_body(call, oauth, issued))


async def revoke(call: Call) -> JSONResponse:
    """Revoke every issued token the request names (RFC 7009 ``token``, a bearer header, or
    any other parameter), with everything of its grant."""
    incoming = call.incoming
    body = incoming.json()
    named = [*incoming.query.values(), *(incoming.form() or {}).values()]
    if isinstance(body, dict):
        named += [value for value in body.values() if isinstance(value, str)]
    named.append((incoming.header("authorization") or "").rpartition(" ")[2])
    for value in named:
        call.store.revoke_token(call.provider.id, value)
    _, oauth = _mode(call)
    slack = OAuthHook.SLACK_OAUTH_V2 in oauth.hooks
    return JSONResponse({"ok": True, "revoked": True} if slack else {})


async def _grant(
    call: Call, mode: AuthMode, oauth: OAuthSpec, grant_type: str | None, fields: dict[str, str]
) -> Issued:
    if grant_type == "authorization_code":
        return await _exchange_code(call, mode, oauth, fields)
    if grant_type == "refresh_token" and mode.refresh in REFRESHING:
        return await _refresh(call, mode, fields.get("refresh_token"))
    if grant_type == "fb_exchange_token" and OAuthHook.META_LONG_LIVED_EXCHANGE in oauth.hooks:
        return await _long_lived(call, mode, fields.get("fb_exchange_token"))
    raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r}")


async def _exchange_code(
    call: Call, mode: AuthMode, oauth: OAuthSpec, fields: dict[str, str]
) -> Issued:
    tiktok = OAuthHook.TIKTOK_AUTH_CODE in oauth.hooks
    value = fields.get(oauth.code_param)
    code = call.store.codes.get(value or "")
    if code is None or code.provider != call.provider.id:
        raise OAuthError("invalid_grant", "unknown authorization code")
    if await call.fault([value]) == FaultMode.INVALID_GRANT:
        raise OAuthError("invalid_grant", "sandbox fault")
    if code.presented:
        if code.grant is not None:
            code.grant.revoked = True
        raise OAuthError("invalid_grant", "code already used; what it issued is now revoked")
    code.presented = True
    if code.expires_at <= time.time():
        raise OAuthError("invalid_grant", "code expired")
    if code.client_id != call.platform_value("client_id"):
        raise OAuthError("invalid_grant", "code issued to another client")
    if not tiktok and fields.get("redirect_uri") != code.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorize request's")
    if code.tenant != call.tenant:
        raise OAuthError("invalid_grant", "code issued for another tenant")
    if code.code_challenge is not None and not _verifies(
        fields.get("code_verifier"), code.code_challenge
    ):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    grant = Grant(provider=call.provider.id, tenant=code.tenant, scopes=code.scopes)
    code.grant = grant
    meta = OAuthHook.META_LONG_LIVED_EXCHANGE in oauth.hooks
    lifetime = call.lifetime(SHORT_LIVED_S if meta else mode.access_token_lifetime_s)
    refresh = (
        None if meta or mode.refresh not in REFRESHING else call.store.issue(grant, "refresh", None)
    )
    return Issued(call.store.issue(grant, "access", lifetime), refresh, lifetime)


async def _redeem(call: Call, value: str | None, kind: TokenKind, what: str) -> Token:
    """The usable ``kind`` token ``value`` names, or ``invalid_grant`` (faults included)."""
    if await call.fault([value]) in (FaultMode.REVOKED, FaultMode.INVALID_GRANT):
        raise OAuthError("invalid_grant", f"{what} revoked (sandbox fault)")
    old = call.store.token(call.provider.id, value, kind)
    if old is None or not old.usable(call.provider.id, call.tenant):
        raise OAuthError("invalid_grant", f"unknown, used, expired or revoked {what}")
    return old


async def _refresh(call: Call, mode: AuthMode, value: str | None) -> Issued:
    old = await _redeem(call, value, "refresh", "refresh token")
    lifetime = call.lifetime(mode.access_token_lifetime_s)
    refresh = None
    if mode.refresh == RefreshStrategy.ROTATING_REFRESH_GRANT:
        old.revoked = True
        refresh = call.store.issue(old.grant, "refresh", None)
    return Issued(call.store.issue(old.grant, "access", lifetime), refresh, lifetime)


async def _long_lived(call: Call, mode: AuthMode, value: str | None) -> Issued:
    """Meta: a valid (short- or long-lived) user token for a new long-lived one."""
    old = await _redeem(call, value, "access", "fb_exchange_token")
    lifetime = call.lifetime(mode.access_token_lifetime_s)
    return Issued(call.store.issue(old.grant, "access", lifetime), None, lifetime)


def _mode(call: Call) -> tuple[AuthMode, OAuthSpec]:
    mode = call.endpoint.mode
    assert mode is not None, "token endpoints carry their mode"
    assert mode.oauth is not None
    return mode, mode.oauth


def _fields(call: Call, oauth: OAuthSpec) -> dict[str, str]:
    """The request's parameters, from the body in the catalog's format (or Meta's GET query)."""
    incoming = call.incoming
    if incoming.method == "GET":
        return dict(incoming.query)
    if oauth.token_request_format == "json":
        body = incoming.json()
        if not isinstance(body, dict):
            raise OAuthError("invalid_request", "the token request must be a JSON object")
        return {name: value for name, value in body.items() if isinstance(value, str)}
    form = incoming.form()
    if form is None:
        raise OAuthError("invalid_request", "the token request must be form-encoded")
    return form


def _authenticate_client(call: Call, oauth: OAuthSpec, fields: dict[str, str]) -> None:
    expected = (
        call.platform_value("client_id"),
        call.platform_value("client_secret"),
    )
    presented: tuple[str | None, str | None] | None
    if oauth.client_auth == "client_secret_basic" and call.incoming.method == "POST":
        presented = call.incoming.basic(form_encoded=oauth.basic_encoding == "form")
    else:
        presented = (fields.get(oauth.client_id_param), fields.get(oauth.client_secret_param))
    if presented != expected:
        raise OAuthError("invalid_client", f"client authentication failed ({oauth.client_auth})")


def _verifies(verifier: str | None, challenge: str) -> bool:
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        return False
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge


def _issued_body(call: Call, oauth: OAuthSpec, issued: Issued) -> dict[str, Any]:
    scopes = issued.access.grant.scopes
    account = Account.of(call.provider, call.incoming.host, call.tenant)
    if OAuthHook.TIKTOK_AUTH_CODE in oauth.hooks:
        data = {
            "access_token": issued.access.value,
            "advertiser_ids": [account.id],
            "scope": list(scopes),
        }
        return {"code": 0, "message": "OK", "data": data}
    body: dict[str, Any] = {"access_token": issued.access.value}
    if OAuthHook.SLACK_OAUTH_V2 in oauth.hooks:
        body = {
            "ok": True,
            **body,
            "token_type": "bot",
            "bot_user_id": f"sbx-{call.provider.id}-bot",
            "app_id": f"sbx-{call.provider.id}-app",
            "team": {"id": account.id, "name": account.name},
        }
    else:
        body["token_type"] = "Bearer"
    body["scope"] = oauth.scope_separator.join(scopes)
    if issued.expires_in is not None:
        body["expires_in"] = issued.expires_in
    if issued.refresh is not None:
        body["refresh_token"] = issued.refresh.value
    return body


def _error_answer(
    call: Call, oauth: OAuthSpec, error: OAuthError, grant_type: str | None
) -> JSONResponse:
    if error.error == "invalid_grant" and grant_type in RENEWALS:
        answer = refresh_refused(call.recordings, error.description)
        if answer is not None:
            return answer
    body: dict[str, Any]
    if OAuthHook.SLACK_OAUTH_V2 in oauth.hooks:
        slack_error = _SLACK_ERRORS.get(error.error, error.error)
        if error.error == "invalid_grant" and grant_type == "refresh_token":
            slack_error = "invalid_refresh_token"
        status, body = 200, {"ok": False, "error": slack_error}
    elif OAuthHook.TIKTOK_AUTH_CODE in oauth.hooks:
        code = _TIKTOK_CODES.get(error.error, 40002)
        status, body = 200, {"code": code, "message": error.description, "data": {}}
    else:
        status = 401 if error.error == "invalid_client" else 400
        body = {"error": error.error, "error_description": error.description}
    return JSONResponse(body, status_code=status)
