"""The rules of a connect, with no I/O: signed state and browser binding (``state``), return URLs
and tenant parameters (``urls``), modes, typed fields and the words for provider failures
(``providers``), what a callback must carry (``callback``) and what connection events say
(``connections``)."""

from oauth_gateway.domain.callback import (
    authorization_code,
    check_origin,
    refuse_provider_error,
    single_valued,
)
from oauth_gateway.domain.connections import account, failed, metadata
from oauth_gateway.domain.providers import (
    REFUSALS,
    check_fields,
    explain,
    key_mode,
    label_phrase,
    oauth_mode,
    platform_values,
    provider_error_code,
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
from oauth_gateway.domain.urls import ReturnUrls, shopify_callback_signed, tenant_labels

__all__ = [
    "BROWSER_ID",
    "REFUSALS",
    "ReturnUrls",
    "StateClaims",
    "StateCodec",
    "account",
    "authorization_code",
    "check_fields",
    "check_origin",
    "explain",
    "failed",
    "key_mode",
    "label_phrase",
    "metadata",
    "new_browser_id",
    "new_code_verifier",
    "new_nonce",
    "oauth_mode",
    "pkce_s256",
    "platform_values",
    "provider_error_code",
    "refuse_provider_error",
    "shopify_callback_signed",
    "single_valued",
    "status_suffix",
    "tenant_labels",
]
