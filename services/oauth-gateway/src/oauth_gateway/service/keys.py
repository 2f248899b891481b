"""Connecting with typed credentials (API keys, client credentials, token exchange).

Two entrances, one path: the HTTP ``credentials`` endpoint (the answer is synchronous: 201, or
422 naming what the provider refused, and nothing is published on a refusal), and
``connection.requested`` events from onboarding that carry a submission (the answer is
``connection.established`` or ``connection.failed``, with event ids derived from the request,
so a redelivered request changes nothing twice downstream). A v2 submission is sealed to the
hub's public submission key; a v1 one is under ``CREDENTIAL_KEYS`` and accepted only where
``accept_symmetric`` (never in production). A submission that cannot be opened at all (another
organization's, an unknown key id, a refused v1) also raises ``SubmissionRefusedError``, so the
consumer dead-letters it with the reason.

A value is first checked against the catalog field's shape, then proven at the provider: the
mode's mint request (Yotpo, PayPal) and/or the catalog's health request; providers whose checks
are ``best_effort`` (GA4, Clarity) are judged by shape alone. The identity request, when it is a
different call, names the account; its failure does not refuse a key the provider accepted.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from hub_catalog import (
    WHERE,
    AuthMode,
    Catalog,
    HealthCheckMode,
    PlatformCredentials,
    PlatformProviderError,
    Provider,
    RequestSpec,
    UnknownProviderError,
)
from hub_contracts import (
    Account,
    ConnectionEstablishedV1,
    ConnectionRequested,
    ConnectionRequestedV2,
    Credentials,
    EncryptedCredential,
)
from hub_contracts import connection_id as derive_connection_id
from hub_keyring import (
    Binding,
    KeyRing,
    KeyRingError,
    SubmissionKeys,
    SubmissionOpenError,
    UnknownSubmissionKeyError,
)
from hub_providers.errors import ProviderError
from pydantic import SecretStr

from oauth_gateway import domain
from oauth_gateway.errors import (
    ConnectRefusedError,
    GatewayError,
    InvalidValueError,
    RetryableError,
    SubmissionRefusedError,
)
from oauth_gateway.service.ports import AccountFacts, Events, IssuedTokens, Providers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connected:
    connection_id: uuid.UUID
    provider: Provider
    auth_type: str
    account: Account
    token_expires_at: datetime | None
    fields: list[str]
    connected_at: datetime


@dataclass(kw_only=True)
class KeyConnections:
    catalog: Catalog
    platform: PlatformCredentials
    ring: KeyRing
    providers: Providers
    events: Events
    retry_attempts: int = 3
    """Submissions: tries of a provider that is down or rate limiting."""
    retry_max_delay_s: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    submission_keys: SubmissionKeys | None = None
    """The private keys v2 submissions are sealed to (``OAUTH_GATEWAY_SUBMISSION_KEYS``)."""
    accept_symmetric: bool = True
    """Whether a v1 submission under ``CREDENTIAL_KEYS`` is still opened (never in production)."""

    async def connect(
        self,
        organization_id: uuid.UUID,
        slug: str,
        fields: Mapping[str, SecretStr],
        *,
        auth_type: str | None = None,
    ) -> Connected:
        """Validate and connect now; raise a ``GatewayError`` saying why not."""
        provider = self.catalog.tenant_provider(slug)
        mode = domain.key_mode(provider, auth_type)
        values = domain.check_fields(mode, fields)
        tenant = domain.tenant_labels(provider, {})
        event = await self._establish(
            organization_id, provider, mode, values, tenant, flow_id=uuid.uuid4(), attempts=1
        )
        return Connected(
            connection_id=event.connection_id,
            provider=provider,
            auth_type=event.auth_type,
            account=event.account,
            token_expires_at=event.token_expires_at,
            fields=sorted(values),
            connected_at=event.occurred_at,
        )

    async def on_requested(self, event: ConnectionRequested) -> None:
        """An onboarding submission: validate it, answer with an event. OAuth starts carry no
        submission and are ignored (the gateway publishes those itself)."""
        if not event.submission:
            return
        try:
            await self._establish_submission(event)
        except GatewayError as error:
            log.info(
                "submission refused",
                extra={
                    "provider": event.provider,
                    "flow_id": str(event.flow_id),
                    "reason": error.code,
                },
            )
            await self.events.publish(
                domain.failed(
                    event.organization_id,
                    event.provider,
                    event.flow_id,
                    error,
                    requested_at=event.occurred_at,
                    event_id=uuid.uuid5(event.event_id, "connection.failed"),
                )
            )
            if isinstance(error, SubmissionRefusedError):
                raise

    async def _establish_submission(self, event: ConnectionRequested) -> None:
        org = event.organization_id
        try:
            provider = self.catalog.tenant_provider(event.provider)
        except (UnknownProviderError, PlatformProviderError) as error:
            raise InvalidValueError(str(error), code=error.code, field="provider") from None
        mode = domain.key_mode(provider, event.auth_type)
        if isinstance(event, ConnectionRequestedV2):
            opened = self._unseal(provider, event)
        elif self.accept_symmetric:
            opened = self._open(provider, event.submission, org)
        else:
            raise SubmissionRefusedError(
                _unreadable(provider),
                code="symmetric_submission_refused",
                provider=provider.id,
                detail="connection.requested v1 submissions under CREDENTIAL_KEYS are refused "
                "here; seal each field to GET /v1/submission-keys and publish v2 "
                "(docs/producers.md)",
            )
        values = domain.check_fields(mode, opened)
        tenant = domain.tenant_labels(provider, event.tenant_params)
        await self._establish(
            org,
            provider,
            mode,
            values,
            tenant,
            flow_id=event.flow_id,
            attempts=self.retry_attempts,
            event_id=uuid.uuid5(event.event_id, "connection.established"),
        )

    def _unseal(self, provider: Provider, event: ConnectionRequestedV2) -> dict[str, SecretStr]:
        keys = self.submission_keys
        if keys is None:
            raise SubmissionRefusedError(
                _unreadable(provider),
                code="submission_keys_missing",
                provider=provider.id,
                detail="a sealed submission arrived, but OAUTH_GATEWAY_SUBMISSION_KEYS is not set",
            )
        try:
            return {
                name: keys.open(value, Binding(event.organization_id, event.provider, name))
                for name, value in event.submission.items()
            }
        except UnknownSubmissionKeyError as exc:
            code, detail = "unknown_submission_key", str(exc)
        except SubmissionOpenError as exc:
            code, detail = "unopenable_submission", str(exc)
        log.warning(
            "sealed submission does not open",
            extra={"provider": provider.id, "reason": code, "error": detail},
        )
        raise SubmissionRefusedError(
            _unreadable(provider), code=code, provider=provider.id, detail=detail
        )

    def _open(
        self,
        provider: Provider,
        submission: Mapping[str, EncryptedCredential],
        organization_id: uuid.UUID,
    ) -> dict[str, SecretStr]:
        try:
            return {
                name: self.ring.decrypt(value, Binding(organization_id, provider.id, name))
                for name, value in submission.items()
            }
        except KeyRingError as exc:
            log.error(
                "submission does not decrypt", extra={"provider": provider.id, "error": str(exc)}
            )
            raise ConnectRefusedError(
                _unreadable(provider),
                code="undecryptable_submission",
                provider=provider.id,
            ) from None

    async def _establish(
        self,
        organization_id: uuid.UUID,
        provider: Provider,
        mode: AuthMode,
        values: dict[str, SecretStr],
        tenant: dict[str, str],
        *,
        flow_id: uuid.UUID,
        attempts: int,
        event_id: uuid.UUID | None = None,
    ) -> ConnectionEstablishedV1:
        template_values = (
            self.platform.values(provider)
            | tenant
            | {name: value.get_secret_value() for name, value in values.items()}
        )
        tokens, facts = await self._validate_with_retries(provider, mode, template_values, attempts)

        def seal(field: str, value: SecretStr) -> EncryptedCredential:
            return self.ring.encrypt(value, Binding(organization_id, provider.id, field))

        event = ConnectionEstablishedV1(
            event_id=event_id or uuid.uuid4(),
            organization_id=organization_id,
            provider=provider.id,
            connection_id=derive_connection_id(organization_id, provider.id),
            flow_id=flow_id,
            auth_type=mode.type.value,
            credentials=Credentials(
                access_token=(
                    seal("access_token", tokens.access_token) if tokens is not None else None
                ),
                fields={name: seal(name, value) for name, value in values.items()},
            ),
            token_expires_at=tokens.expires_at if tokens is not None else None,
            scopes=tokens.scopes if tokens is not None else [],
            account=domain.account(facts.id, facts.name),
            metadata=domain.metadata(tenant, facts.metadata),
        )
        await self.events.publish(event)
        return event

    async def _validate_with_retries(
        self, provider: Provider, mode: AuthMode, values: dict[str, str], attempts: int
    ) -> tuple[IssuedTokens | None, AccountFacts]:
        for attempt in range(1, attempts + 1):
            try:
                return await self._validate(provider, mode, values)
            except RetryableError as error:
                if attempt == attempts:
                    raise
                delay = error.retry_after_s
                if delay is None:
                    delay = 2.0 ** (attempt - 1)
                await self.sleep(min(delay, self.retry_max_delay_s))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _validate(
        self, provider: Provider, mode: AuthMode, values: dict[str, str]
    ) -> tuple[IssuedTokens | None, AccountFacts]:
        checks = provider.checks
        tokens: IssuedTokens | None = None
        facts = AccountFacts()
        try:
            if mode.mint is not None:
                tokens = await self.providers.mint(provider, mode, values)
                values = values | {"access_token": tokens.access_token.get_secret_value()}
            if checks.health_mode == HealthCheckMode.REQUEST and checks.health is not None:
                proof = checks.health
                if checks.identity is not None and _same_request(checks.identity, proof):
                    proof = checks.identity  # one call proves the key and names the account
                facts = await self.providers.request(provider, mode, proof, values)
        except ProviderError as failure:
            raise domain.explain(
                failure,
                provider,
                refused_code="credentials_rejected",
                refused_message=(
                    f"{provider.name} rejected this {domain.label_phrase(mode.fields)}"
                    f"{domain.status_suffix(failure)}. Check that you copied it whole from "
                    f"{provider.name} and that it is still active."
                ),
            ) from None
        identity = checks.identity
        if (
            identity is not None
            and not (checks.health is not None and _same_request(identity, checks.health))
            and checks.health_mode != HealthCheckMode.BEST_EFFORT
        ):
            try:
                named = await self.providers.request(provider, mode, identity, values)
                facts = AccountFacts(named.id or facts.id, named.name or facts.name)
            except ProviderError as failure:
                log.info(
                    "identity request failed; connecting without an account name",
                    extra={
                        "provider": provider.id,
                        "kind": type(failure).__name__,
                        "status": failure.status_code,
                    },
                )
        return tokens, facts


def _unreadable(provider: Provider) -> str:
    return (
        f"The {provider.name} credentials could not be read on our side; enter them again in "
        f"{WHERE}."
    )


def _same_request(one: RequestSpec, other: RequestSpec) -> bool:
    """Whether two catalog requests send the same thing (they may read different fields)."""
    sent = ("method", "url", "auth", "headers", "query", "json_body", "form_body", "success")
    return all(getattr(one, name) == getattr(other, name) for name in sent)
