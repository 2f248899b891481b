"""What a provider's callback must carry before its code is exchanged: each parameter once, no
``error=`` (SECURITY.md 6), the provider's own marks (``iss``, Shopify's signature and shop), and
an authorization code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hub_catalog import WHERE, OAuthHook, OAuthSpec, Provider, tenant_host

from oauth_gateway.domain.providers import provider_error_code
from oauth_gateway.domain.urls import shopify_callback_signed
from oauth_gateway.errors import ConnectRefusedError, StateRefusedError

MAX_CODE_CHARS = 4096


def refuse_provider_error(provider: Provider, params: dict[str, str]) -> None:
    """``error=`` from the provider ends the flow before any token call (SECURITY.md 6)."""
    if "error" not in params:
        return
    error = provider_error_code(params["error"])
    if error == "access_denied":
        raise ConnectRefusedError(
            f"You declined access on {provider.name}. Start again from {WHERE} and approve the "
            "permissions to connect.",
            code="access_denied",
            provider_error=error,
        )
    raise ConnectRefusedError(
        f"{provider.name} could not complete the sign-in ({error}). Start again from {WHERE}.",
        code="provider_error",
        provider_error=error,
    )


def check_origin(
    provider: Provider,
    spec: OAuthSpec,
    tenant: Mapping[str, str],
    params: dict[str, str],
    platform: dict[str, str],
) -> None:
    """The callback comes from the provider: ``iss`` (RFC 9207) where the catalog names an
    issuer; Shopify's signature and the flow's shop (hook ``shopify_shop_domain``)."""
    unverified = (
        f"The answer claiming to come from {provider.name} could not be verified, so nothing was "
        f"connected. Start again from {WHERE}."
    )
    if spec.issuer is not None and params.get("iss") != spec.issuer:
        raise ConnectRefusedError(unverified, code="issuer_mismatch")
    if OAuthHook.SHOPIFY_SHOP_DOMAIN not in spec.hooks:
        return
    if not shopify_callback_signed(params, platform["client_secret"]):
        raise ConnectRefusedError(unverified, code="callback_signature_invalid")
    for param, value in tenant.items():
        if params.get(param) != tenant_host(provider, param, value):
            raise ConnectRefusedError(unverified, code="shop_mismatch")


def authorization_code(provider: Provider, spec: OAuthSpec, params: dict[str, str]) -> str:
    code = params.get(spec.code_param, "")
    if not code or len(code) > MAX_CODE_CHARS:
        raise ConnectRefusedError(
            f"{provider.name} sent an incomplete answer (no authorization code). Start again "
            f"from {WHERE}.",
            code="invalid_callback",
        )
    return code


def single_valued(query: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The callback's parameters; a repeated one makes the answer ambiguous: refused."""
    params: dict[str, str] = {}
    for key, value in query:
        if key in params:
            raise StateRefusedError(
                f"The answer from the provider repeats {key[:32]!r}; start connecting again "
                f"from {WHERE}.",
                code="invalid_callback",
            )
        params[key] = value
    return params
