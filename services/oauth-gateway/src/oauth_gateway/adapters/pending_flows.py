"""``PendingFlows`` in PostgreSQL: the gateway's own tables (flows and outbox), its own migrations.

Claiming is one statement (``UPDATE ... WHERE claimed_at IS NULL AND consumed_at IS NULL AND
expires_at > now() RETURNING``), so of any number of concurrent callbacks on any number of
replicas exactly one gets the flow. Its result is written to the outbox in the transaction that
consumes it (``finish``); ``start`` writes the flow and ``connection.requested`` together.
Expiry is judged by the database clock, the one clock all replicas share.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from hub_contracts import EncryptedCredential, Event
from hub_runtime.migrations import migrate as _migrate
from hub_runtime.outbox import OutboxMessage
from hub_runtime.outbox.relay import Connection, OutboxTable, enqueue_many
from hub_runtime.postgres import DATABASE_ERRORS, PostgresPool

from oauth_gateway.errors import PublishFailedError
from oauth_gateway.service.ports import PendingFlow

LOCK_ID = 0x0A07_6A7E  # pg_advisory_lock key of oauth-gateway migrations
HISTORY_TABLE = "oauth_gateway_migrations"
OUTBOX = OutboxTable("oauth_gateway_outbox", lock_id=0x0A07_0B0C)
"""The gateway's outbox and the advisory-lock key of its relay (one relaying replica)."""

_COLUMNS = """flow_id, organization_id, provider, auth_type, nonce, browser_binding,
              code_verifier_encrypted, return_to, tenant_params, requested_by, created_at,
              expires_at"""


async def migrate(dsn: str) -> list[str]:
    """Apply oauth-gateway's missing migrations; return the names applied now."""
    return await _migrate(
        dsn, package="oauth_gateway.migrations", history_table=HISTORY_TABLE, lock_id=LOCK_ID
    )


class PostgresPendingFlows(PostgresPool):
    """Opens its pool with ``open`` (the app's start) and closes it with ``close``."""

    async def create(self, flow: PendingFlow, requested: Event) -> None:
        verifier = (
            json.loads(flow.code_verifier.model_dump_json())
            if flow.code_verifier is not None
            else None
        )
        try:
            async with self.transaction() as tx:
                await self._insert(tx, flow, verifier)
                await enqueue_many(tx, [OutboxMessage.of(requested)], table=OUTBOX)
        except DATABASE_ERRORS:
            raise PublishFailedError() from None

    async def _insert(self, tx: Connection, flow: PendingFlow, verifier: Any) -> None:
        await tx.execute(
            f"INSERT INTO oauth_flows ({_COLUMNS}) "  # noqa: S608 - constant column list
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            flow.flow_id,
            flow.organization_id,
            flow.provider,
            flow.auth_type,
            flow.nonce,
            flow.browser_binding,
            verifier,
            flow.return_to,
            flow.tenant_params,
            flow.requested_by,
            flow.created_at,
            flow.expires_at,
        )

    async def claim(self, flow_id: uuid.UUID, provider: str) -> PendingFlow | None:
        row = await self.pool.fetchrow(
            "UPDATE oauth_flows SET claimed_at = now() "  # noqa: S608 - constant column list
            "WHERE flow_id = $1 AND provider = $2 AND claimed_at IS NULL "
            f"AND consumed_at IS NULL AND expires_at > now() RETURNING {_COLUMNS}",
            flow_id,
            provider,
        )
        return _flow(row) if row is not None else None

    async def return_to(
        self, flow_id: uuid.UUID, organization_id: uuid.UUID, provider: str
    ) -> str | None:
        try:
            value: str | None = await self.pool.fetchval(
                "SELECT return_to FROM oauth_flows "
                "WHERE flow_id = $1 AND organization_id = $2 AND provider = $3",
                flow_id,
                organization_id,
                provider,
            )
        except DATABASE_ERRORS:
            return None  # the default return URL then: the person still gets an answer
        return value

    async def finish(self, flow: PendingFlow, result: Event) -> bool:
        try:
            async with self.transaction() as tx:
                consumed = await tx.fetchval(
                    "UPDATE oauth_flows SET consumed_at = now() "
                    "WHERE flow_id = $1 AND consumed_at IS NULL RETURNING true",
                    flow.flow_id,
                )
                if not consumed:
                    return False
                await enqueue_many(tx, [OutboxMessage.of(result)], table=OUTBOX)
        except DATABASE_ERRORS:
            raise PublishFailedError() from None
        return True

    async def end(
        self, flow_id: uuid.UUID, provider: str, organization_id: uuid.UUID, result: Event
    ) -> bool:
        try:
            async with self.transaction() as tx:
                consumed = await tx.fetchval(
                    "UPDATE oauth_flows SET consumed_at = now() WHERE flow_id = $1 "
                    "AND provider = $2 AND organization_id = $3 AND consumed_at IS NULL "
                    "RETURNING true",
                    flow_id,
                    provider,
                    organization_id,
                )
                if not consumed:
                    return False
                await enqueue_many(tx, [OutboxMessage.of(result)], table=OUTBOX)
        except DATABASE_ERRORS:
            raise PublishFailedError() from None
        return True

    async def expire(
        self, result: Callable[[PendingFlow], Event], *, limit: int, claim_grace_s: float
    ) -> int:
        """One statement picks the flows (``FOR UPDATE SKIP LOCKED``: replicas share the work,
        a callback finishing its flow meanwhile is waited for by nobody); the same transaction
        consumes them and writes their results."""
        async with self.transaction() as tx:
            rows = await tx.fetch(
                f"SELECT {_COLUMNS} FROM oauth_flows "  # noqa: S608 - constant column list
                "WHERE consumed_at IS NULL AND expires_at <= now() "
                "AND (claimed_at IS NULL OR claimed_at <= now() - make_interval(secs => $2)) "
                "ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
                float(claim_grace_s),
            )
            if not rows:
                return 0
            flows = [_flow(row) for row in rows]
            await tx.execute(
                "UPDATE oauth_flows SET consumed_at = now() WHERE flow_id = ANY($1::uuid[])",
                [flow.flow_id for flow in flows],
            )
            await enqueue_many(tx, [OutboxMessage.of(result(f)) for f in flows], table=OUTBOX)
        return len(flows)

    async def record(self, event: Event) -> None:
        """``event`` to the outbox in a transaction of its own (the ``Events`` port)."""
        try:
            async with self.transaction() as tx:
                await enqueue_many(tx, [OutboxMessage.of(event)], table=OUTBOX)
        except DATABASE_ERRORS:
            raise PublishFailedError() from None

    async def purge(self, retention_s: int) -> int:
        """Delete flows that expired more than ``retention_s`` ago; return how many."""
        status: str = await self.pool.execute(
            "DELETE FROM oauth_flows WHERE expires_at < now() - make_interval(secs => $1)",
            float(retention_s),
        )
        return int(status.rsplit(" ", 1)[-1])

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")


def _flow(row: Any) -> PendingFlow:
    verifier = row["code_verifier_encrypted"]
    return PendingFlow(
        flow_id=row["flow_id"],
        organization_id=row["organization_id"],
        provider=row["provider"],
        auth_type=row["auth_type"],
        nonce=row["nonce"],
        browser_binding=row["browser_binding"],
        code_verifier=(
            EncryptedCredential.model_validate_json(json.dumps(verifier))
            if verifier is not None
            else None
        ),
        return_to=row["return_to"],
        tenant_params=dict(row["tenant_params"]),
        requested_by=row["requested_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )
