"""``python -m oauth_gateway.reencrypt`` (``hubctl keys reencrypt``): move every ciphertext the
gateway holds to the newest key of ``CREDENTIAL_KEYS``: the pending flows' PKCE verifiers and the
payloads of its outbox (``hub_runtime.reencryption``)."""

from __future__ import annotations

from collections.abc import Callable

from hub_keyring import KeyRing
from hub_runtime.reencryption import (
    CiphertextColumn,
    DatabaseSettings,
    Reencryption,
    Tally,
    command,
)

from oauth_gateway.adapters.pending_flows import OUTBOX, PostgresPendingFlows

SERVICE = "oauth-gateway"
COLUMNS = [
    CiphertextColumn(
        "oauth_flows", "code_verifier_encrypted", field="code_verifier", key="flow_id"
    ),
    CiphertextColumn(OUTBOX.name, "payload"),
]


def _database(dsn: str | None) -> PostgresPendingFlows:
    return PostgresPendingFlows(dsn or DatabaseSettings().database_url, pool_size=2)


async def plan(ring: KeyRing, dsn: str | None = None) -> dict[str, Tally]:
    db = _database(dsn)
    await db.open()
    try:
        return await Reencryption(db.transaction, COLUMNS, ring).plan()
    finally:
        await db.close()


async def run(
    ring: KeyRing,
    dsn: str | None = None,
    *,
    batch_size: int = 200,
    max_rows: int | None = None,
    advance: Callable[[int], None] = lambda rows: None,
) -> Tally:
    db = _database(dsn)
    await db.open()
    try:
        reencryption = Reencryption(db.transaction, COLUMNS, ring)
        return await reencryption.run(batch_size=batch_size, max_rows=max_rows, advance=advance)
    finally:
        await db.close()


def main() -> int:
    return command(SERVICE, plan, run)


if __name__ == "__main__":
    raise SystemExit(main())
