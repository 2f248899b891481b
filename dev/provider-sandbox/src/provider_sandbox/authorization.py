"""The authorize page: checks the request as the catalog's OAuth section describes it, then
sends the user straight back with a single-use code (there is no one to ask for consent).

A wrong client or a missing ``redirect_uri`` is answered on the page (400), never redirected;
every other problem goes back to the client as ``error=...`` (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse
from hub_catalog import OAuthHook, OAuthSpec, Pkce

from provider_sandbox.answers import Refusal, problem
from provider_sandbox.call import Call
from provider_sandbox.state import FaultMode

_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


async def authorize(call: Call) -> RedirectResponse:
    oauth = _oauth(call)
    query = call.incoming.query
    client_id = query.get(oauth.client_id_param)
    if client_id != call.platform_value("client_id"):
        raise Refusal(problem(400, "invalid_client", f"unknown {oauth.client_id_param}"))
    redirect_uri = query.get("redirect_uri")
    if not redirect_uri:
        raise Refusal(problem(400, "invalid_request", "redirect_uri is required"))

    state = {"state": query["state"]} if "state" in query else {}

    def back(params: dict[str, str]) -> RedirectResponse:
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)

    def refuse(error: str, description: str) -> Refusal:
        return Refusal(back({"error": error, "error_description": description} | state))

    if await call.fault() == FaultMode.ACCESS_DENIED:
        raise refuse("access_denied", "The user denied the request (sandbox fault)")
    for name, value in oauth.authorization_params.items():
        if query.get(name) != value:
            raise refuse("invalid_request", f"{name} must be {value!r}")
    response_type = query.get("response_type")
    if response_type != "code" and (
        response_type is not None or OAuthHook.TIKTOK_AUTH_CODE not in oauth.hooks
    ):
        raise refuse("unsupported_response_type", "response_type must be code")
    scopes = tuple(s.strip() for s in query.get(oauth.scope_param, "").split(oauth.scope_separator))
    scopes = tuple(scope for scope in scopes if scope)
    if set(scopes) != set(oauth.scopes):
        raise refuse("invalid_scope", f"scopes must be the catalog's: {oauth.scopes}")
    challenge = query.get("code_challenge")
    if oauth.pkce == Pkce.OFF:
        challenge = None
    elif challenge is None and oauth.pkce == Pkce.REQUIRED:
        raise refuse("invalid_request", "code_challenge is required")
    elif challenge is not None and (
        query.get("code_challenge_method") != "S256" or not _S256_CHALLENGE.fullmatch(challenge)
    ):
        raise refuse("invalid_request", "code_challenge must be an S256 challenge")

    code = call.store.issue_code(
        call.provider.id,
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=challenge,
        scopes=scopes,
        tenant=call.tenant,
    )
    params = {oauth.code_param: code.value} | state
    if oauth.issuer is not None:  # RFC 9207: the provider names itself on the redirect
        params["iss"] = oauth.issuer
    if OAuthHook.SHOPIFY_SHOP_DOMAIN in oauth.hooks:
        params = _shopify_signed(call, params)
    return back(params)


def _oauth(call: Call) -> OAuthSpec:
    mode = call.endpoint.mode
    assert mode is not None, "authorize endpoints carry their mode"
    assert mode.oauth is not None
    return mode.oauth


def _shopify_signed(call: Call, params: dict[str, str]) -> dict[str, str]:
    """Shopify adds the shop and a timestamp, and signs the callback: ``hmac`` is the hex
    HMAC-SHA256 of the sorted ``key=value`` pairs under the app's client secret."""
    params = params | {"shop": call.incoming.host, "timestamp": str(int(time.time()))}
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()))
    secret = call.platform_value("client_secret").encode()
    return params | {"hmac": hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()}
