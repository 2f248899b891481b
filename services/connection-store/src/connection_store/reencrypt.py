"""Key rotation (SECURITY.md 12): move every stored ciphertext to the newest key.

Idempotent (a ciphertext already under the newest key is left alone) and resumable (batches
commit on their own; a rerun picks up what is left). Rows are locked while re-encrypted, so a
concurrent token.refreshed for the same row waits instead of being overwritten. Afterwards the
old key can be removed from CREDENTIAL_KEYS and everything still decrypts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from hub_contracts import EncryptedCredential
from hub_keyring import Binding, KeyRing
from hub_runtime import CredentialSettings, configure_logging

from connection_store.adapters.database import Database, create_pool
from connection_store.settings import StoreSettings

log = logging.getLogger(__name__)

_PENDING = """
    access_token_encrypted->>'key_id' <> $1
    OR refresh_token_encrypted->>'key_id' <> $1
    OR EXISTS (SELECT 1 FROM jsonb_each(credential_fields_encrypted) AS f
               WHERE f.value->>'key_id' <> $1)
"""


@dataclass
class Progress:
    rows: int = 0
    ciphertexts: int = 0


def _moved(ring: KeyRing, value: Any, binding: Binding) -> tuple[Any, bool]:
    if value is None:
        return None, False
    sealed = EncryptedCredential.model_validate(value)
    moved = ring.reencrypt(sealed, binding)
    return moved.model_dump(mode="json"), moved is not sealed


async def reencrypt_batch(db: Database, ring: KeyRing, *, batch_size: int = 200) -> Progress:
    """Re-encrypt one batch of rows still holding an older key."""
    progress = Progress()
    async with db.worker() as connection:
        rows = await connection.fetch(
            f"""SELECT id, organization_id, provider, access_token_encrypted,
                       refresh_token_encrypted, credential_fields_encrypted
                FROM integration_connections WHERE {_PENDING}
                ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED""",  # noqa: S608 - constant
            ring.active_key_id,
            batch_size,
        )
        for row in rows:
            org, provider = row["organization_id"], row["provider"]
            access, a = _moved(
                ring, row["access_token_encrypted"], Binding(org, provider, "access_token")
            )
            refresh, r = _moved(
                ring, row["refresh_token_encrypted"], Binding(org, provider, "refresh_token")
            )
            fields = {}
            changed = a + r
            for name, value in (row["credential_fields_encrypted"] or {}).items():
                fields[name], moved = _moved(ring, value, Binding(org, provider, name))
                changed += moved
            await connection.execute(
                """UPDATE integration_connections SET access_token_encrypted = $2,
                       refresh_token_encrypted = $3, credential_fields_encrypted = $4
                   WHERE id = $1""",
                row["id"],
                access,
                refresh,
                fields,
            )
            progress.rows += 1
            progress.ciphertexts += changed
    return progress


async def reencrypt_all(db: Database, ring: KeyRing, *, batch_size: int = 200) -> Progress:
    """Run batches until no row holds an older key."""
    total = Progress()
    while True:
        step = await reencrypt_batch(db, ring, batch_size=batch_size)
        if step.rows == 0:
            return total
        total.rows += step.rows
        total.ciphertexts += step.ciphertexts
        log.info("re-encrypted", extra={"rows": total.rows, "ciphertexts": total.ciphertexts})


async def _run() -> Progress:
    settings = StoreSettings()
    ring = KeyRing.from_spec(CredentialSettings().credential_keys)
    pool = await create_pool(settings.database_url, size=2)
    try:
        return await reencrypt_all(Database(pool), ring)
    finally:
        await pool.close()


def main() -> int:
    """``python -m connection_store.reencrypt`` (``make reencrypt``): rotate every row."""
    configure_logging("connection-store", "INFO")
    progress = asyncio.run(_run())
    print(f"re-encrypted {progress.ciphertexts} ciphertexts in {progress.rows} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
