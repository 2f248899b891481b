"""``hubctl keys``: a fresh ``CREDENTIAL_KEYS`` entry, and the re-encryption of every stored
ciphertext under the newest key. Each service owns the re-encryption of its own tables (its
``reencrypt`` module, over its own ``DATABASE_URL``); this calls each in turn.

Re-encryption is idempotent and resumable by construction: a batch takes only rows still holding
an older key (``FOR UPDATE SKIP LOCKED``), so a run stopped anywhere is finished by the next."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from connection_store import reencrypt as store
from hub_keyring import KeyRing
from hub_runtime import CredentialSettings
from hub_runtime.reencryption import Tally
from oauth_gateway import reencrypt as gateway
from token_refresher import reencrypt as refresher

OWNERS: tuple[ModuleType, ...] = (store, gateway, refresher)
"""Every service that stores ciphertext. The notifier stores none: it asks connection-store for
the brand's sealed key at send time and keeps it in memory for that one request."""


@dataclass(frozen=True)
class Plan:
    """What a run would do: per service and table, rows holding an older key; ciphertexts per
    key id over everything."""

    active_key_id: str
    tables: dict[str, dict[str, Tally]]

    @property
    def rows_pending(self) -> int:
        return sum(t.rows for tables in self.tables.values() for t in tables.values())

    @property
    def ciphertexts_by_key(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for tables in self.tables.values():
            for tally in tables.values():
                total.update(tally.by_key)
        return dict(sorted(total.items()))


def _ring() -> KeyRing:
    return KeyRing.from_spec(CredentialSettings().credential_keys)


async def plan() -> Plan:
    ring = _ring()
    tables: dict[str, dict[str, Tally]] = {
        owner.SERVICE: await owner.plan(ring) for owner in OWNERS
    }
    return Plan(ring.active_key_id, tables)


async def reencrypt(
    *,
    batch_size: int,
    max_rows: int | None,
    advance: Callable[[int], None],
) -> Tally:
    """Each service's tables in turn until nothing holds an older key (or ``max_rows`` moved),
    calling ``advance(rows)`` after each batch."""
    ring = _ring()
    done = Tally()
    for owner in OWNERS:
        left = None if max_rows is None else max_rows - done.rows
        if left is not None and left <= 0:
            break
        step: Tally = await owner.run(ring, batch_size=batch_size, max_rows=left, advance=advance)
        done.add(step)
    return done
