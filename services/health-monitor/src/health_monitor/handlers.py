"""The ``connection.check_due`` consumer: decode (``hub_runtime``), check, map errors once.

Records come in batches and are checked concurrently; offsets are committed when a batch is done.
What cannot be decoded or checked goes to ``connection.check_due.dlq`` with the reason.
"""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from hub_contracts import (
    ConnectionCheckDueV1,
    ConnectionCheckedV1,
    ConnectionRecoveredV1,
    ConnectionUnhealthyV1,
    Topic,
)
from hub_runtime.bus import PermanentHandlerError, publishes, subscribe_batch

from health_monitor.errors import MonitorError, PermanentCheckError
from health_monitor.service import HealthMonitor
from health_monitor.settings import MonitorSettings

GROUP = "health-monitor.on_check_due"


def router(settings: MonitorSettings, monitor: HealthMonitor) -> KafkaRouter:
    async def on_check_due(event: ConnectionCheckDueV1) -> None:
        try:
            await monitor.check(event)
        except PermanentCheckError as exc:
            monitor.metrics.failed(exc.reason)
            failure = PermanentHandlerError(str(exc))
            failure.reason = exc.reason
            raise failure from None
        except MonitorError as exc:
            monitor.metrics.failed(exc.reason)
            raise

    router = KafkaRouter()
    subscribe_batch(
        router,
        settings,
        topic=Topic.CONNECTION_CHECK_DUE,
        group=GROUP,
        handler=on_check_due,
        max_records=settings.batch_size,
        batch_timeout_ms=settings.batch_timeout_ms,
        tracer_provider=monitor.tracer_provider,
    )
    publishes(router, ConnectionUnhealthyV1, ConnectionRecoveredV1, ConnectionCheckedV1)
    return router
