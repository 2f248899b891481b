"""Disconnect, at the provider too (SECURITY.md 16).

connection-store wipes a disconnected connection's ciphertext and hands it over once, in
``connection.disconnected``. Where the provider's OAuth mode has a revocation endpoint, the
gateway revokes the grant there: the refresh token when there is one (revoking it ends the
whole grant), else the access token. API keys have no revocation API: the brand deletes them at
the provider. A provider outage is raised, so the consumer retries and finally dead-letters the
event; any other refusal is logged and the disconnect stands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hub_catalog import AuthType, Catalog, PlatformCredentials
from hub_contracts import ConnectionDisconnectedV1
from hub_keyring import Binding, KeyRing
from hub_providers.errors import UnsafeDestinationError

from oauth_gateway import domain
from oauth_gateway.service.ports import Providers

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Revocations:
    catalog: Catalog
    platform: PlatformCredentials
    ring: KeyRing
    providers: Providers

    async def on_disconnected(self, event: ConnectionDisconnectedV1) -> bool:
        """Revoke what the event carries; whether a provider call was made."""
        credentials = event.credentials
        provider = self.catalog.tenant_provider(event.provider)
        if credentials is None or not provider.has_mode(AuthType.OAUTH2_AUTHORIZATION_CODE):
            return False
        oauth = provider.mode(AuthType.OAUTH2_AUTHORIZATION_CODE).oauth
        if oauth is None or oauth.revoke_url is None:
            return False
        field, sealed = (
            ("refresh_token", credentials.refresh_token)
            if credentials.refresh_token is not None
            else ("access_token", credentials.access_token)
        )
        if sealed is None:
            return False
        token = self.ring.decrypt(sealed, Binding(event.organization_id, provider.id, field))
        values = domain.platform_values(self.platform, provider)
        try:
            await self.providers.revoke(provider, values, token, hint=field)
        except (*domain.REFUSALS, UnsafeDestinationError) as error:
            log.warning(
                "provider refused the revocation; the disconnect stands",
                extra={"provider": provider.id, "kind": type(error).__name__, "code": error.code},
            )
            return True
        log.info("revoked at the provider", extra={"provider": provider.id, "field": field})
        return True
