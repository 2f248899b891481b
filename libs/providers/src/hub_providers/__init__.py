"""Talking to providers from catalog data: guarded outbound HTTP, credential placement,
answers read with the catalog's signals, OAuth token endpoints through Authlib.

``hub_providers.errors`` imports nothing but the standard library, and this package loads its
HTTP modules only when one of their names is first used, so service layers catch the provider
failure type without pulling in httpx.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from hub_providers.errors import (
    CredentialRevokedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RateLimitedError,
    ResponseTooLargeError,
    UnsafeDestinationError,
)

if TYPE_CHECKING:
    from hub_providers.calls import (
        Answer,
        apply_placements,
        build_request,
        raise_for_answer,
        send,
    )
    from hub_providers.checks import CheckResult, check, mint, revoke
    from hub_providers.oauth import OAuthClient
    from hub_providers.outbound import (
        GuardedTransport,
        OutboundHttp,
        OutboundPolicy,
        PinnedTransport,
        policy_for,
    )
    from hub_providers.resources import list_resources
    from hub_providers.tokens import TokenSet

_HTTP_MODULES = ("calls", "checks", "oauth", "outbound", "resources", "tokens")


def __getattr__(name: str) -> Any:
    """Load the HTTP side on first use of one of its names."""
    if name in __all__:
        for module in map(import_module, (f"hub_providers.{m}" for m in _HTTP_MODULES)):
            if name in vars(module):
                return getattr(module, name)
    raise AttributeError(f"module 'hub_providers' has no attribute {name!r}")


__all__ = [
    "Answer",
    "CheckResult",
    "CredentialRevokedError",
    "GuardedTransport",
    "OAuthClient",
    "OutboundHttp",
    "OutboundPolicy",
    "PinnedTransport",
    "ProviderError",
    "ProviderRejectedError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ResponseTooLargeError",
    "TokenSet",
    "UnsafeDestinationError",
    "apply_placements",
    "build_request",
    "check",
    "list_resources",
    "mint",
    "policy_for",
    "raise_for_answer",
    "revoke",
    "send",
]
