"""What a brand can pick in a setting (``GET .../resources/{kind}``): listed at the provider with
the connection's stored credential, or the platform's shared account when the brand has none,
and kept briefly in memory."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub_catalog import WHERE, AuthMode, Catalog, PlatformCredentials, Provider, tenant_values
from hub_keyring import Binding, KeyRing, KeyRingError
from hub_providers.errors import ProviderError

from oauth_gateway import domain
from oauth_gateway.errors import (
    InvalidValueError,
    NotConfiguredError,
    UnknownResourceError,
    WrongAuthTypeError,
)
from oauth_gateway.service.ports import Listings, SealedCredentials, StoredCredential

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listed:
    kind: str
    items: list[tuple[str, str]]
    fetched_at: datetime


@dataclass
class Resources:
    catalog: Catalog
    platform: PlatformCredentials
    ring: KeyRing
    credentials: SealedCredentials
    listings: Listings
    ttl_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _cache: dict[tuple[object, ...], tuple[float, Listed]] = field(default_factory=dict)

    async def list(
        self,
        organization_id: uuid.UUID,
        provider_id: str,
        kind: str,
        params: Mapping[str, str],
    ) -> Listed:
        provider = self.catalog.tenant_provider(provider_id)
        listing = provider.resources.get(kind)
        if listing is None:
            kinds = ", ".join(provider.resources) or "none"
            raise UnknownResourceError(
                f"{provider.name} lists no {kind!r}; what it lists: {kinds}.", field="kind"
            )
        chosen: dict[str, str] = {}
        for name in listing.params:
            value = params.get(name)
            setting = next(s for s in provider.settings if s.name == name)
            try:
                if value is None:
                    raise ValueError(name)
                chosen[name] = str(setting.check(value))
            except ValueError:
                raise InvalidValueError(
                    f"Listing {kind} needs {name!r} ({setting.label}) as a query parameter.",
                    code="invalid_field",
                    field=name,
                ) from None
        stored = await self.credentials.get(organization_id, provider.id)
        mode, values, version = self._credential(organization_id, provider, stored)
        key = (organization_id, provider.id, kind, tuple(sorted(chosen.items())), version)
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        try:
            items = await self.listings.list(provider, mode, listing, values | chosen)
        except ProviderError as failure:
            raise domain.explain(
                failure,
                provider,
                refused_code="credentials_rejected",
                refused_message=(
                    f"{provider.name} refused the stored credential; reconnect {provider.name} "
                    f"in {WHERE}."
                ),
            ) from None
        listed = Listed(kind, items, datetime.now(UTC))
        self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self.ttl_s}
        self._cache[key] = (now, listed)
        return listed

    def _credential(
        self, organization_id: uuid.UUID, provider: Provider, stored: StoredCredential | None
    ) -> tuple[AuthMode, dict[str, str], object]:
        """The mode and template values to list with, and what identifies that credential."""
        values = self.platform.values(provider)
        if stored is None:
            shared = self.platform.shared(provider)
            if shared is None:
                raise WrongAuthTypeError(
                    f"Connect {provider.name} in {WHERE} first: its lists come from your account.",
                    code="not_connected",
                )
            return provider.auth, values | shared, "platform"
        mode = provider.auth_mode(stored.auth_type)
        if mode is None:
            raise NotConfiguredError(
                f"The stored {provider.name} connection uses a mode the catalog no longer has.",
                code="misconfigured",
            )
        for name, sealed in stored.sealed.items():
            if name == "refresh_token":
                continue
            try:
                secret = self.ring.decrypt(sealed, Binding(organization_id, provider.id, name))
            except KeyRingError:
                log.error(
                    "stored credential does not decrypt",
                    extra={"provider": provider.id, "field": name},
                )
                raise NotConfiguredError(
                    f"The stored {provider.name} credential cannot be read; reconnect it in "
                    f"{WHERE}.",
                    code="misconfigured",
                ) from None
            values[name] = secret.get_secret_value()
        values |= tenant_values(provider, stored.metadata)
        return mode, values, ("brand", stored.credential_version)
