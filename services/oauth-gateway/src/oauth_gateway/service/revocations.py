"""Disconnect, at the provider too (SECURITY.md 16).

connection-store wipes a disconnected connection's ciphertext and hands it over once, in
``connection.disconnected`` (with the connection's non-secret metadata: Shopify's shop). The
catalog says how each OAuth provider's grant ends: RFC 7009 at its ``revoke_url`` (the refresh
token when there is one, revoking it ends the whole grant, else the access token), or the
provider's own ``revocation`` request (Slack ``auth.revoke``, Meta ``DELETE /me/permissions``,
Stripe's deauthorize, Shopify's uninstall), sent with the access token. A provider with neither
says where the brand removes the app (``manual_removal``; the console shows it). API keys have
no revocation API: the brand deletes them at the provider. A provider outage is raised, so the
consumer retries and finally dead-letters the event; any other refusal is logged and the
disconnect stands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hub_catalog import AuthMode, AuthType, Catalog, PlatformCredentials, Provider, Revocation
from hub_catalog import tenant_values as stored_tenant_values
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
        mode = provider.mode(AuthType.OAUTH2_AUTHORIZATION_CODE)
        oauth = mode.oauth
        if oauth is None or not oauth.revocable:
            return False
        if oauth.revocation is not None:
            field, sealed = "access_token", credentials.access_token
        elif credentials.refresh_token is not None:
            field, sealed = "refresh_token", credentials.refresh_token
        else:
            field, sealed = "access_token", credentials.access_token
        if sealed is None:
            return False
        token = self.ring.decrypt(sealed, Binding(event.organization_id, provider.id, field))
        values = domain.platform_values(self.platform, provider)
        try:
            if oauth.revocation is not None:
                values |= stored_tenant_values(provider, event.metadata)
                values["access_token"] = token.get_secret_value()
                await self._request(provider, mode, oauth.revocation, values)
            else:
                await self.providers.revoke(provider, values, token, hint=field)
        except (*domain.REFUSALS, UnsafeDestinationError) as error:
            log.warning(
                "provider refused the revocation; the disconnect stands",
                extra={"provider": provider.id, "kind": type(error).__name__, "code": error.code},
            )
            return True
        log.info("revoked at the provider", extra={"provider": provider.id, "field": field})
        return True

    async def _request(
        self, provider: Provider, mode: AuthMode, spec: Revocation, values: dict[str, str]
    ) -> None:
        """The provider's own revocation; first the account it names, where it needs one."""
        if spec.account_from_identity:
            identity = provider.checks.identity or provider.checks.health
            assert identity is not None, "the catalog requires an identity request here"
            facts = await self.providers.request(provider, mode, identity, values)
            if not facts.id:
                log.warning(
                    "the provider named no account; nothing to revoke",
                    extra={"provider": provider.id},
                )
                return
            values["account_id"] = facts.id
        await self.providers.revocation(provider, spec, values)
