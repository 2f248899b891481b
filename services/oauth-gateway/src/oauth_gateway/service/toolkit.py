"""What both connect paths share: the catalog, the key ring, the ports, the clock, and the
pieces of a ``connection.established`` or ``connection.failed`` event."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from hub_catalog import AuthMode, Catalog, Provider
from hub_contracts import Account, ConnectionFailedV1, EncryptedCredential
from hub_keyring import Binding, KeyRing
from pydantic import JsonValue, SecretStr

from oauth_gateway import domain
from oauth_gateway.errors import GatewayError, NotConfiguredError
from oauth_gateway.service.ports import AccountFacts, EventSink, Platform, ProviderPort

log = logging.getLogger(__name__)

_UNSAFE_KEY = re.compile(
    r"token|secret|password|key|code|webhook|url|state|verifier|cookie|auth|signature", re.I
)
MAX_METADATA_JSON = 2000


def utcnow() -> datetime:
    return datetime.now(UTC)


class Toolkit:
    def __init__(
        self,
        *,
        catalog: Catalog,
        ring: KeyRing,
        providers: ProviderPort,
        platform: Platform,
        events: EventSink,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.catalog = catalog
        self.ring = ring
        self.providers = providers
        self.platform = platform
        self.events = events
        self.now = now
        self.sleep = sleep

    def provider(self, slug: str) -> Provider:
        return domain.resolve_provider(self.catalog.providers, slug)

    def platform_values(self, provider: Provider, *, required: bool) -> dict[str, str]:
        missing = self.platform.missing(provider)
        if required and missing:
            raise NotConfiguredError(
                f"{provider.name} cannot be connected yet: the platform operator has not "
                f"configured its app ({', '.join(missing)}).",
                provider=provider.id,
            )
        return self.platform.values(provider)

    def encrypt(
        self, organization_id: uuid.UUID, provider: Provider, field: str, value: SecretStr
    ) -> EncryptedCredential:
        return self.ring.encrypt(value, Binding(organization_id, provider.id, field))

    def decrypt(
        self,
        organization_id: uuid.UUID,
        provider: Provider,
        field: str,
        value: EncryptedCredential,
    ) -> SecretStr:
        return self.ring.decrypt(value, Binding(organization_id, provider.id, field))

    async def identify(
        self, provider: Provider, mode: AuthMode, values: Mapping[str, str]
    ) -> AccountFacts:
        """The catalog's identity request (or the health request when there is none)."""
        spec = provider.checks.identity or provider.checks.health
        if spec is None:
            return AccountFacts()
        return await self.providers.request(provider, mode, spec, values)

    async def publish_failed(
        self,
        organization_id: uuid.UUID,
        provider: str,
        flow_id: uuid.UUID | None,
        error: GatewayError,
        *,
        event_id: uuid.UUID | None = None,
    ) -> None:
        event = ConnectionFailedV1(
            event_id=event_id or uuid.uuid4(),
            organization_id=organization_id,
            provider=provider,
            flow_id=flow_id,
            reason=error.code,
            message=error.message[:2000],
            provider_status=error.provider_status,
            provider_error=error.provider_error[:200] if error.provider_error else None,
        )
        await self.events.publish(event)


def account(facts: AccountFacts) -> Account:
    """The account for "Connected to X": its name, or its id where the provider names none."""
    name = facts.name or facts.id
    return Account(
        id=facts.id[:200] if facts.id else None,
        name=name[:200] if name else None,
    )


def metadata(tenant: Mapping[str, str], extra: Mapping[str, Any]) -> dict[str, JsonValue]:
    """Non-secret facts for the connection: the tenant parameters (``shop``) and the token
    answer's extras, leaving out anything named like a secret or a URL at any depth."""
    found: dict[str, JsonValue] = dict(tenant)
    for key, value in extra.items():
        if key in found or len(key) > 64 or _UNSAFE_KEY.search(key):
            continue
        cleaned = _clean(value)
        if cleaned is not None and len(json.dumps(cleaned)) <= MAX_METADATA_JSON:
            found[key] = cleaned
    return found


def _clean(value: Any) -> JsonValue:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, dict):
        return {
            str(k): _clean(v)
            for k, v in value.items()
            if not _UNSAFE_KEY.search(str(k)) and _clean(v) is not None
        }
    if isinstance(value, list):
        return [item for item in (_clean(v) for v in value[:50]) if item is not None]
    return None
