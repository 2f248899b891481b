"""The ``connection.check_due`` consumer: decode (``hub_runtime``), check, map errors once.

Records come in batches and are checked concurrently (``subscribe_batch``); offsets are committed
when a batch is done, so a crash re-checks rather than loses. Undecodable events, and events that
cannot be checked (unknown provider, a ciphertext no key opens), go to
``connection.check_due.dlq`` with the reason; the consumer goes on.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from hub_contracts import ConnectionCheckDueV1, Topic
from hub_runtime import PermanentHandlerError, subscribe_batch

from health_monitor.errors import MonitorError, PermanentCheckError
from health_monitor.service import HealthMonitor
from health_monitor.settings import MonitorSettings

GROUP = "health-monitor.on_check_due"


def register(broker: KafkaBroker, settings: MonitorSettings, monitor: HealthMonitor) -> None:
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

    subscribe_batch(
        broker,
        settings,
        topic=Topic.CONNECTION_CHECK_DUE,
        group=GROUP,
        handler=on_check_due,
        max_records=settings.batch_size,
        batch_timeout_ms=settings.batch_timeout_ms,
    )
