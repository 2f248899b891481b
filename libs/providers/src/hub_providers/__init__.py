"""Talking to providers from catalog data: guarded outbound HTTP, credential placement,
answers read with the catalog's signals, OAuth token endpoints through Authlib."""

from hub_providers.calls import Answer, apply_placements, build_request, raise_for_answer, send
from hub_providers.checks import CheckResult, check, mint
from hub_providers.errors import (
    CredentialRevokedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RateLimitedError,
    ResponseTooLargeError,
    UnsafeDestinationError,
)
from hub_providers.oauth import OAuthClient
from hub_providers.outbound import GuardedTransport, OutboundHttp, OutboundPolicy, policy_for
from hub_providers.tokens import TokenSet

__all__ = [
    "Answer",
    "CheckResult",
    "CredentialRevokedError",
    "GuardedTransport",
    "OAuthClient",
    "OutboundHttp",
    "OutboundPolicy",
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
    "mint",
    "policy_for",
    "raise_for_answer",
    "send",
]
