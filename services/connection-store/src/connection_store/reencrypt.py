"""``python -m connection_store.reencrypt`` (``hubctl keys reencrypt``): move every ciphertext
connection-store holds to the newest key of ``CREDENTIAL_KEYS``: the connections' credentials
(``service.rotation``) and the payloads of its outbox (``hub_runtime.reencryption``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from hub_keyring import KeyRing
from hub_runtime.reencryption import CiphertextColumn, Reencryption, Tally, command

from connection_store.adapters.database import Database
from connection_store.adapters.store import PostgresStore
from connection_store.service.rotation import Rotation
from connection_store.settings import StoreSettings

SERVICE = "connection-store"
COLUMNS = [CiphertextColumn("outbox", "payload")]
"""Besides ``integration_connections``: the outbox's events carry the credentials they send."""

KEY_IDS_SQL = """
    SELECT access_token_encrypted->>'key_id' AS access,
           refresh_token_encrypted->>'key_id' AS refresh,
           ARRAY(SELECT f.value->>'key_id' FROM jsonb_each(credential_fields_encrypted) AS f)
               AS fields
    FROM integration_connections"""


@asynccontextmanager
async def _database(dsn: str | None) -> AsyncIterator[Database]:
    db = Database()
    await db.open(dsn or StoreSettings().database_url, size=2)
    try:
        yield db
    finally:
        await db.close()


async def plan(ring: KeyRing, dsn: str | None = None) -> dict[str, Tally]:
    """Per table: rows holding an older key, ciphertexts by key id."""
    async with _database(dsn) as db:
        connections = Tally()
        async with db.worker() as tx:
            for row in await tx.fetch(KEY_IDS_SQL):
                ids = [k for k in (row["access"], row["refresh"], *row["fields"]) if k]
                connections.by_key.update(ids)
                older = sum(k != ring.active_key_id for k in ids)
                connections.rows += older > 0
                connections.ciphertexts += older
        rest = await Reencryption(db.worker, COLUMNS, ring).plan()
    return {"integration_connections": connections, **rest}


async def run(
    ring: KeyRing,
    dsn: str | None = None,
    *,
    batch_size: int = 200,
    max_rows: int | None = None,
    advance: Callable[[int], None] = lambda rows: None,
) -> Tally:
    """Re-encrypt batch by batch until nothing holds an older key (or ``max_rows`` moved)."""
    done = Tally()
    async with _database(dsn) as db:
        rotation = Rotation(PostgresStore(db), ring)
        while max_rows is None or done.rows < max_rows:
            size = batch_size if max_rows is None else min(batch_size, max_rows - done.rows)
            step = await rotation.batch(batch_size=size)
            if step.rows == 0:
                break
            done.rows += step.rows
            done.ciphertexts += step.ciphertexts
            advance(step.rows)
        left = None if max_rows is None else max_rows - done.rows
        if left is None or left > 0:
            rest = await Reencryption(db.worker, COLUMNS, ring).run(
                batch_size=batch_size, max_rows=left, advance=advance
            )
            done.add(rest)
    return done


def main() -> int:
    return command(SERVICE, plan, run)


if __name__ == "__main__":
    raise SystemExit(main())
