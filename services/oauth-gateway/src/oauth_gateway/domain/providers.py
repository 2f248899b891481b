"""Providers and what they answered: which provider and mode a request means, the typed fields'
shapes, and the words for a provider's refusal or outage in each context."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from hub_catalog import AuthMode, AuthType, CredentialField, Provider, Scope
from pydantic import SecretStr

from oauth_gateway.errors import (
    ConnectRefusedError,
    GatewayError,
    InvalidRequestError,
    NotConfiguredError,
    NotFoundError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
    WrongAuthTypeError,
)


def resolve_provider(providers: Iterable[Provider], slug: str) -> Provider:
    """The tenant-level provider named by ``slug`` (``meta_ads`` or ``meta-ads``)."""
    wanted = slug.replace("-", "_")
    for provider in providers:
        if provider.id == wanted:
            if provider.scope == Scope.PLATFORM:
                raise NotFoundError(
                    f"{provider.name} is configured once for the whole platform by its operator, "
                    "not per organization, so there is nothing to connect here.",
                    code="platform_provider",
                    field="provider",
                )
            return provider
    raise NotFoundError(
        f"There is no provider {slug[:64]!r}; the catalog lists the known ones.",
        code="unknown_provider",
        field="provider",
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
            raise InvalidRequestError(
                f"{name[:64]!r} is not a credential field here; the fields are {', '.join(known)}.",
                code="unknown_field",
                field=f"fields.{name[:64]}",
            )
    checked: dict[str, SecretStr] = {}
    for name, field in known.items():
        value = submitted.get(name)
        if value is None or not value.get_secret_value():
            raise InvalidRequestError(
                f"{field.label} is required.", code="missing_field", field=f"fields.{name}"
            )
        if not field.accepts(value.get_secret_value()):
            hint = f" ({field.help})" if field.help and not field.secret else ""
            raise InvalidRequestError(
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


FailureKind = Literal["refused", "rate_limited", "unavailable", "unsafe"]


class ProviderCallError(Exception):
    """What went wrong calling a provider, before it is put in words for a context."""

    def __init__(
        self,
        kind: FailureKind,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"provider call {kind}")
        self.kind = kind
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s


def explain(
    failure: ProviderCallError,
    provider: Provider,
    *,
    refused_code: str,
    refused_message: str,
) -> GatewayError:
    """The gateway error for a provider failure; ``refused_*`` say what a refusal means here."""
    provider_status, provider_error = failure.status, failure.code
    name = provider.name
    if failure.kind == "refused":
        return ConnectRefusedError(
            refused_message,
            code=refused_code,
            provider=provider.id,
            provider_status=provider_status,
            provider_error=provider_error,
        )
    if failure.kind == "rate_limited":
        return ProviderRateLimitedError(
            f"{name} is limiting requests right now; try again in a few minutes.",
            retry_after_s=failure.retry_after_s,
            provider=provider.id,
            provider_status=provider_status,
            provider_error=provider_error,
        )
    if failure.kind == "unavailable":
        return ProviderUnavailableError(
            f"{name} is not answering right now; try again in a few minutes.",
            provider=provider.id,
            provider_status=provider_status,
            provider_error=provider_error,
        )
    return NotConfiguredError(
        f"The {name} integration is misconfigured on our side (a provider address was refused); "
        "contact support.",
        code="misconfigured",
        provider=provider.id,
    )


def status_suffix(failure: ProviderCallError) -> str:
    parts = [f"HTTP {failure.status}" if failure.status else None, failure.code]
    shown = ", ".join(p for p in parts if p)
    return f" ({shown})" if shown else ""
