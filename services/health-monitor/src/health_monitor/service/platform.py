"""The platform's shared accounts (Resend, Retell, Lob...): checked on a timer, and an unhealthy
one is the operators' problem (a metric their alert rule reads, an error log), never a brand's
event."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from hub_catalog import Catalog, Provider

from health_monitor import domain
from health_monitor.domain import Outcome, Verdict
from health_monitor.metrics import Metrics
from health_monitor.service.monitor import HealthMonitor

log = logging.getLogger(__name__)

UNKNOWN = frozenset({Outcome.RATE_LIMITED, Outcome.UNVERIFIABLE})
"""Outcomes that prove nothing either way: the account keeps the state it had."""


@dataclass
class PlatformAccounts:
    catalog: Catalog
    monitor: HealthMonitor
    metrics: Metrics

    def __post_init__(self) -> None:
        self.healthy: dict[str, bool] = {}

    @property
    def configured(self) -> list[Provider]:
        shared = self.monitor.platform_credentials.shared_providers(self.catalog)
        return [p for p in self.catalog.providers if p.id in shared]

    async def tick(self) -> bool:
        """Check every configured shared account once (concurrently); never more waiting."""
        providers = self.configured
        verdicts = await asyncio.gather(
            *(self.monitor.check_platform_account(p) for p in providers)
        )
        for provider, verdict in zip(providers, verdicts, strict=True):
            if verdict is not None:
                self._record(provider, verdict)
        return False

    def _record(self, provider: Provider, verdict: Verdict) -> None:
        self.metrics.platform_checked(provider.id, verdict.outcome.value)
        if verdict.outcome in UNKNOWN:
            return
        healthy = verdict.reason is None
        before = self.healthy.get(provider.id)
        self.healthy[provider.id] = healthy
        self.metrics.platform_healthy(provider.id, healthy)
        if not healthy:
            log.error(
                "platform account unhealthy",
                extra={
                    "provider": provider.id,
                    "outcome": verdict.outcome.value,
                    "provider_status": verdict.status_code,
                    "provider_code": verdict.code,
                    "action": domain.platform_message(provider, verdict),
                    "repeated": before is False,
                },
            )
        elif before is False:
            log.info("platform account recovered", extra={"provider": provider.id})
