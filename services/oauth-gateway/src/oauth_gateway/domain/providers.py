"""Providers and what they answered: which mode a request means, the typed fields' shapes, the
operator's values, and the words for a provider's refusal or outage in each context."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from hub_catalog import AuthMode, AuthType, CredentialField, PlatformCredentials, Provider
from hub_providers.errors import (
    CredentialRevokedError,
    ProviderError,
    ProviderRejectedError,
    RateLimitedError,
    UnsafeDestinationError,
)
from pydantic import SecretStr

from oauth_gateway.errors import (
    ConnectRefusedError,
    GatewayError,
    InvalidValueError,
    NotConfiguredError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
    WrongAuthTypeError,
)


def oauth_mode(provider: Provider) -> AuthMode:
    if not provider.has_mode(AuthType.OAUTH2_AUTHORIZATION_CODE):
        raise WrongAuthTypeError(
            f"{provider.name} does not connect with OAuth; send its credentials to "
            f"POST .../integrations/{provider.id}/credentials instead.",
            field="provider",
        )
    return provider.mode(AuthType.OAUTH2_AUTHORIZATION_CODE)


def key_mode(provider: Provider, auth_type: str | None = None) -> AuthMode:
    """The mode an admin connects by typing values: the one named, or the first with fields."""
    typed = [mode for mode in provider.auth_modes if mode.fields]
    if auth_type is not None:
        typed = [mode for mode in typed if mode.type.value == auth_type]
    if not typed:
        how = "with OAuth: start it at POST .../oauth/start" if not auth_type else "that way"
        raise WrongAuthTypeError(
            f"{provider.name} does not connect {how}.", field="auth_type" if auth_type else None
        )
    return typed[0]


def label_phrase(fields: Sequence[CredentialField]) -> str:
    """``"private API key"``, ``"token ID and token secret"``: what the provider judged."""
    secret = [f for f in fields if f.secret] or list(fields)

    def lower(label: str) -> str:
        return label[0].lower() + label[1:] if len(label) > 1 and label[1].islower() else label

    names = [lower(f.label) for f in secret]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_fields(mode: AuthMode, submitted: Mapping[str, SecretStr]) -> dict[str, SecretStr]:
    """Every field of ``mode``, each of its catalog shape; never echoes a value."""
    known = {f.name: f for f in mode.fields}
    for name in submitted:
        if name not in known:
            raise InvalidValueError(
                f"{name[:64]!r} is not a credential field here; the fields are {', '.join(known)}.",
                code="unknown_field",
                field=f"fields.{name[:64]}",
            )
    checked: dict[str, SecretStr] = {}
    for name, field in known.items():
        value = submitted.get(name)
        if value is None or not value.get_secret_value():
            raise InvalidValueError(
                f"{field.label} is required.", code="missing_field", field=f"fields.{name}"
            )
        if not field.accepts(value.get_secret_value()):
            hint = f" ({field.help})" if field.help and not field.secret else ""
            raise InvalidValueError(
                f"This does not look like a {field.label}{hint}: check that you copied all of "
                "it, without spaces or line breaks.",
                code="invalid_field",
                field=f"fields.{name}",
            )
        checked[name] = value
    return checked


def provider_error_code(value: str) -> str:
    """A provider's ``error=`` value, safe to repeat in a message (letters, digits, _ . -)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "", value)[:64]
    return cleaned or "unknown"


REFUSALS = (CredentialRevokedError, ProviderRejectedError)
"""Provider failures that mean no: the value, code or grant is not good there."""


def platform_values(platform: PlatformCredentials, provider: Provider) -> dict[str, str]:
    """The operator's values for ``provider``; all of them, or ``NotConfiguredError``."""
    missing = platform.missing(provider)
    if missing:
        raise NotConfiguredError(
            f"{provider.name} cannot be connected yet: the platform operator has not "
            f"configured its app ({', '.join(missing)}).",
            provider=provider.id,
        )
    return platform.values(provider)


def explain(
    failure: ProviderError,
    provider: Provider,
    *,
    refused_code: str,
    refused_message: str,
) -> GatewayError:
    """The gateway error for a provider failure; ``refused_*`` say what a refusal means here."""
    name = provider.name
    if isinstance(failure, REFUSALS):
        return ConnectRefusedError(
            refused_message,
            code=refused_code,
            provider=provider.id,
            provider_status=failure.status_code,
            provider_error=failure.code,
        )
    if isinstance(failure, RateLimitedError):
        return ProviderRateLimitedError(
            f"{name} is limiting requests right now; try again in a few minutes.",
            retry_after_s=failure.retry_after_s,
            provider=provider.id,
            provider_status=failure.status_code,
            provider_error=failure.code,
        )
    if isinstance(failure, UnsafeDestinationError):
        return NotConfiguredError(
            f"The {name} integration is misconfigured on our side (a provider address was "
            "refused); contact support.",
            code="misconfigured",
            provider=provider.id,
        )
    return ProviderUnavailableError(
        f"{name} is not answering right now; try again in a few minutes.",
        provider=provider.id,
        provider_status=failure.status_code,
        provider_error=failure.code,
    )


def status_suffix(failure: ProviderError) -> str:
    """`` (HTTP 401, invalid_key)``: what the provider answered, for a refusal's message."""
    parts = [f"HTTP {failure.status_code}" if failure.status_code else None, failure.code]
    shown = ", ".join(p for p in parts if p)
    return f" ({shown})" if shown else ""
