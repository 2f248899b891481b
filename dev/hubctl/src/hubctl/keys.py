"""``hubctl keys``: a fresh ``CREDENTIAL_KEYS`` entry, and the re-encryption of every stored
ciphertext under the newest key (``connection_store.service.rotation``), batch by batch.

Re-encryption is idempotent and resumable by construction: a batch takes only rows still holding
an older key (``FOR UPDATE SKIP LOCKED``), so a run stopped anywhere is finished by the next."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from connection_store.adapters.database import Database
from connection_store.adapters.store import PostgresStore
from connection_store.service.rotation import Rotation
from connection_store.settings import StoreSettings
from hub_keyring import KeyRing
from hub_runtime import CredentialSettings

KEY_IDS_SQL = """
    SELECT access_token_encrypted->>'key_id' AS access,
           refresh_token_encrypted->>'key_id' AS refresh,
           ARRAY(SELECT f.value->>'key_id' FROM jsonb_each(credential_fields_encrypted) AS f)
               AS fields
    FROM integration_connections"""


@dataclass(frozen=True)
class Plan:
    """What a run would do: rows still holding an older key, ciphertexts per key id."""

    active_key_id: str
    rows_pending: int
    ciphertexts_by_key: dict[str, int]


@dataclass
class Done:
    rows: int = 0
    ciphertexts: int = 0


async def _open() -> tuple[Database, KeyRing]:
    ring = KeyRing.from_spec(CredentialSettings().credential_keys)
    db = Database()
    await db.open(StoreSettings().database_url, size=2)
    return db, ring


async def plan() -> Plan:
    db, ring = await _open()
    try:
        async with db.worker() as tx:
            rows = await tx.fetch(KEY_IDS_SQL)
    finally:
        await db.close()
    by_key: Counter[str] = Counter()
    pending = 0
    for row in rows:
        ids = [k for k in (row["access"], row["refresh"], *row["fields"]) if k]
        by_key.update(ids)
        pending += any(k != ring.active_key_id for k in ids)
    return Plan(ring.active_key_id, pending, dict(sorted(by_key.items())))


async def reencrypt(
    *,
    batch_size: int,
    max_rows: int | None,
    advance: Callable[[int], None],
) -> Done:
    """Run batches until no row holds an older key (or ``max_rows`` moved), calling
    ``advance(rows)`` after each batch."""
    db, ring = await _open()
    done = Done()
    try:
        rotation = Rotation(PostgresStore(db), ring)
        while max_rows is None or done.rows < max_rows:
            size = batch_size if max_rows is None else min(batch_size, max_rows - done.rows)
            step = await rotation.batch(batch_size=size)
            if step.rows == 0:
                break
            done.rows += step.rows
            done.ciphertexts += step.ciphertexts
            advance(step.rows)
    finally:
        await db.close()
    return done
