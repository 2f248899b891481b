"""The rules of a connect, with no I/O: signed state and browser binding (``state``), return URLs
and tenant parameters (``urls``), providers, typed fields and the words for provider failures
(``providers``)."""

from oauth_gateway.domain.providers import (
    FailureKind,
    ProviderCallError,
    check_fields,
    explain,
    key_mode,
    label_phrase,
    oauth_mode,
    provider_error_code,
    resolve_provider,
    status_suffix,
)
from oauth_gateway.domain.state import (
    BROWSER_ID,
    StateClaims,
    StateCodec,
    new_browser_id,
    new_code_verifier,
    new_nonce,
    pkce_s256,
)
from oauth_gateway.domain.urls import (
    ReturnUrls,
    shopify_callback_signed,
    tenant_host,
    tenant_values,
)

__all__ = [
    "BROWSER_ID",
    "FailureKind",
    "ProviderCallError",
    "ReturnUrls",
    "StateClaims",
    "StateCodec",
    "check_fields",
    "explain",
    "key_mode",
    "label_phrase",
    "new_browser_id",
    "new_code_verifier",
    "new_nonce",
    "oauth_mode",
    "pkce_s256",
    "provider_error_code",
    "resolve_provider",
    "shopify_callback_signed",
    "status_suffix",
    "tenant_host",
    "tenant_values",
]
