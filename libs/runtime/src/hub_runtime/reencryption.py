"""Key rotation of JSONB columns, shared by every service that stores ciphertext: count what
still holds an older key and move it to the newest, batch by batch (rows locked ``FOR UPDATE
SKIP LOCKED``, so runs are idempotent, resumable and safe beside the running services).

A service lists its columns (``CiphertextColumn``) in its own ``reencrypt`` module and runs
``Reencryption`` over a transaction that may read every row (``Transaction``, as the relay's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub_keyring import KeyRing
from hub_keyring.documents import key_ids, reencrypt_document
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub_runtime.logging import configure_logging
from hub_runtime.outbox.relay import Transaction
from hub_runtime.settings import CredentialSettings

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_OLDER = """jsonb_path_exists({column}, '$.** ? (exists(@.ciphertext) && @.key_id != $k)',
                              jsonb_build_object('k', $1::text))"""


class DatabaseSettings(BaseSettings):
    """Only ``DATABASE_URL``: a re-encryption job needs no other secret of its service."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:55432/integrations_hub", validation_alias="DATABASE_URL"
    )


@dataclass(frozen=True)
class CiphertextColumn:
    """A JSONB column holding ciphertext: an event payload (each ciphertext bound to the event's
    organization and provider), or with ``field`` one ciphertext bound to the row's
    ``organization_id`` and ``provider`` columns and that field."""

    table: str
    column: str
    field: str | None = None
    key: str = "id"

    def __post_init__(self) -> None:
        for name in (self.table, self.column, self.key):
            if not _NAME.fullmatch(name):
                raise ValueError(f"bad identifier {name!r}")

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"

    def _select(self) -> str:
        binding = ", organization_id, provider" if self.field else ""
        return (
            f"SELECT {self.key} AS key, {self.column}::text AS document{binding} "  # noqa: S608
            f"FROM {self.table} WHERE {self.column} IS NOT NULL AND "
            + _OLDER.format(column=self.column)
            + f" ORDER BY {self.key} LIMIT $2 FOR UPDATE SKIP LOCKED"
        )


@dataclass
class Tally:
    """Rows holding an older key (or moved), their ciphertexts, and ciphertexts by key id."""

    rows: int = 0
    ciphertexts: int = 0
    by_key: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.rows += other.rows
        self.ciphertexts += other.ciphertexts
        self.by_key.update(other.by_key)


@dataclass
class Reencryption:
    transaction: Transaction
    columns: Sequence[CiphertextColumn]
    ring: KeyRing

    async def plan(self) -> dict[str, Tally]:
        """Per column: rows holding an older key, and every ciphertext by key id."""
        found: dict[str, Tally] = {}
        async with self.transaction() as connection:
            for column in self.columns:
                tally = Tally()
                rows = await connection.fetch(
                    f"SELECT {column.column}::text AS document FROM {column.table} "  # noqa: S608
                    f"WHERE {column.column} IS NOT NULL"
                )
                for row in rows:
                    ids = key_ids(json.loads(row["document"]))
                    tally.by_key.update(ids)
                    older = sum(k != self.ring.active_key_id for k in ids)
                    tally.rows += older > 0
                    tally.ciphertexts += older
                found[column.label] = tally
        return found

    async def batch(self, column: CiphertextColumn, *, batch_size: int) -> Tally:
        """Move one batch of ``column``'s rows holding an older key."""
        done = Tally()
        async with self.transaction() as connection:
            rows = await connection.fetch(column._select(), self.ring.active_key_id, batch_size)
            for row in rows:
                document: Any = json.loads(row["document"])
                if column.field:
                    moved, count = reencrypt_document(
                        self.ring,
                        document,
                        organization_id=row["organization_id"],
                        provider=row["provider"],
                        field=column.field,
                    )
                else:
                    moved, count = reencrypt_document(self.ring, document)
                await connection.execute(
                    f"UPDATE {column.table} SET {column.column} = $1::text::jsonb "  # noqa: S608
                    f"WHERE {column.key} = $2",
                    json.dumps(moved),
                    row["key"],
                )
                done.rows += 1
                done.ciphertexts += count
        return done

    async def run(
        self,
        *,
        batch_size: int = 200,
        max_rows: int | None = None,
        advance: Callable[[int], None] = lambda rows: None,
    ) -> Tally:
        """Batches over every column until none holds an older key (or ``max_rows`` moved)."""
        total = Tally()
        for column in self.columns:
            while max_rows is None or total.rows < max_rows:
                size = batch_size if max_rows is None else min(batch_size, max_rows - total.rows)
                step = await self.batch(column, batch_size=size)
                if step.rows == 0:
                    break
                total.add(step)
                advance(step.rows)
        return total


class ServiceDatabase(Protocol):
    """What a service's database adapter offers a re-encryption run."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    @property
    def transaction(self) -> Transaction: ...


@dataclass(frozen=True)
class ServiceCiphertexts:
    """A service's encrypted columns and how to open its database: the ``plan`` and ``run`` a
    service's ``reencrypt`` module hands to ``command``."""

    columns: Sequence[CiphertextColumn]
    database: Callable[[str], ServiceDatabase]
    """``DATABASE_URL`` → the service's adapter (not opened)."""

    async def plan(self, ring: KeyRing, dsn: str | None = None) -> dict[str, Tally]:
        db = self.database(dsn or DatabaseSettings().database_url)
        await db.open()
        try:
            return await Reencryption(db.transaction, self.columns, ring).plan()
        finally:
            await db.close()

    async def run(
        self,
        ring: KeyRing,
        dsn: str | None = None,
        *,
        batch_size: int = 200,
        max_rows: int | None = None,
        advance: Callable[[int], None] = lambda rows: None,
    ) -> Tally:
        db = self.database(dsn or DatabaseSettings().database_url)
        await db.open()
        try:
            reencryption = Reencryption(db.transaction, self.columns, ring)
            return await reencryption.run(batch_size=batch_size, max_rows=max_rows, advance=advance)
        finally:
            await db.close()


Plan = Callable[[KeyRing], Coroutine[Any, Any, dict[str, Tally]]]
Run = Callable[[KeyRing], Coroutine[Any, Any, Tally]]


def command(service: str, plan: Plan, run: Run) -> int:
    """``python -m <service>.reencrypt [--dry-run]``: what holds an older key, or move it."""
    parser = argparse.ArgumentParser(prog=f"python -m {service.replace('-', '_')}.reencrypt")
    parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
    dry_run = parser.parse_args().dry_run
    configure_logging(service, "INFO")
    ring = KeyRing.from_spec(CredentialSettings().credential_keys)
    if dry_run:
        for table, tally in asyncio.run(plan(ring)).items():
            print(f"{table}: {tally.rows} rows hold an older key")
        return 0
    done = asyncio.run(run(ring))
    print(f"re-encrypted {done.ciphertexts} ciphertexts in {done.rows} rows")
    return 0
