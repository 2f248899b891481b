"""Key rotation (SECURITY.md 12): move every stored ciphertext to the newest key, batch by batch
(idempotent and resumable; rows locked while re-encrypted)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub_contracts import EncryptedCredential
from hub_keyring import Binding, KeyRing

from connection_store.domain import ConnectionRow
from connection_store.service.ports import Store

log = logging.getLogger(__name__)


@dataclass
class Progress:
    rows: int = 0
    ciphertexts: int = 0


@dataclass
class Rotation:
    store: Store
    ring: KeyRing

    async def batch(self, *, batch_size: int = 200) -> Progress:
        """Re-encrypt one batch of rows still holding an older key."""
        progress = Progress()
        async with self.store.worker() as tx:
            for row in await tx.ciphertexts.pending(self.ring.active_key_id, batch_size):
                sealed, moved = self._moved(row)
                await tx.ciphertexts.save(row.id, sealed)
                progress.rows += 1
                progress.ciphertexts += moved
        return progress

    async def all(self, *, batch_size: int = 200) -> Progress:
        """Run batches until no row holds an older key."""
        total = Progress()
        while True:
            step = await self.batch(batch_size=batch_size)
            if step.rows == 0:
                return total
            total.rows += step.rows
            total.ciphertexts += step.ciphertexts
            log.info("re-encrypted", extra={"rows": total.rows, "ciphertexts": total.ciphertexts})

    def _moved(self, row: ConnectionRow) -> tuple[dict[str, Any], int]:
        """The row's ``sealed`` under the newest key, and how many ciphertexts changed."""
        moved = 0

        def one(value: Mapping[str, Any] | None, field: str) -> Any:
            nonlocal moved
            if value is None:
                return None
            sealed = EncryptedCredential.model_validate(value)
            binding = Binding(row.organization_id, row.provider, field)
            again = self.ring.reencrypt(sealed, binding)
            moved += again is not sealed
            return again.model_dump(mode="json")

        fields = row.sealed.get("fields") or {}
        sealed = {
            "access_token": one(row.sealed.get("access_token"), "access_token"),
            "refresh_token": one(row.sealed.get("refresh_token"), "refresh_token"),
            "fields": {name: one(value, name) for name, value in fields.items()},
        }
        return sealed, moved
