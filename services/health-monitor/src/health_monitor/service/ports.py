"""What a check needs from the outside: a provider call and a way to publish the verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from hub_catalog import AuthMode, Provider
from hub_contracts import Event

from health_monitor.domain import Plan


class Prober(Protocol):
    async def probe(
        self, provider: Provider, mode: AuthMode, plan: Plan, values: Mapping[str, str]
    ) -> None:
        """Send the catalog's proving request (or mint); return when it proved the credential,
        raise ``hub_providers.errors.ProviderError`` otherwise."""


class Publisher(Protocol):
    async def publish(self, event: Event) -> None:
        """Put ``event`` on its topic; raise ``errors.EventNotPublishedError`` when that fails."""
