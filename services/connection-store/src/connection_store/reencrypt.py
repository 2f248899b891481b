"""``python -m connection_store.reencrypt`` (``make reencrypt``): move every stored ciphertext
to the newest key of ``CREDENTIAL_KEYS`` (``service.rotation``), then print what moved."""

from __future__ import annotations

import asyncio

from hub_keyring import KeyRing
from hub_runtime import CredentialSettings, configure_logging

from connection_store.adapters.database import Database
from connection_store.adapters.store import PostgresStore
from connection_store.service.rotation import Progress, Rotation
from connection_store.settings import StoreSettings


async def _run() -> Progress:
    settings = StoreSettings()
    ring = KeyRing.from_spec(CredentialSettings().credential_keys)
    db = Database()
    await db.open(settings.database_url, size=2)
    try:
        return await Rotation(PostgresStore(db), ring).all()
    finally:
        await db.close()


def main() -> int:
    configure_logging("connection-store", "INFO")
    progress = asyncio.run(_run())
    print(f"re-encrypted {progress.ciphertexts} ciphertexts in {progress.rows} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
