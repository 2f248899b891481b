"""SECURITY.md 12: rotation moves every ciphertext to the newest key, idempotent, resumable."""

from __future__ import annotations

import os
import uuid

import pytest
from connection_store.adapters.database import Database
from connection_store.adapters.store import PostgresStore
from connection_store.service.rotation import Rotation
from hub_contracts import EncryptedCredential
from hub_keyring import Binding, KeyRing

pytestmark = pytest.mark.integration
OLD, NEW = os.urandom(32), os.urandom(32)


async def _seed(db: Database, ring: KeyRing, count: int) -> list[uuid.UUID]:
    orgs = [uuid.uuid4() for _ in range(count)]
    async with db.worker() as connection:
        for org in orgs:

            def seal(field: str, value: str, org: uuid.UUID = org) -> object:
                return ring.encrypt(value, Binding(org, "klaviyo", field)).model_dump(mode="json")

            await connection.execute(
                """INSERT INTO integration_connections (id, organization_id, provider, status,
                       access_token_encrypted, refresh_token_encrypted,
                       credential_fields_encrypted)
                   VALUES ($1, $2, 'klaviyo', 'active', $3, $4, $5)""",
                uuid.uuid4(),
                org,
                seal("access_token", f"at-{org}"),
                seal("refresh_token", f"rt-{org}"),
                {"private_api_key": seal("private_api_key", f"pk-{org}")},
            )
    return orgs


async def _opened(db: Database, ring: KeyRing, org: uuid.UUID) -> list[str]:
    async with db.worker() as connection:
        row = await connection.fetchrow(
            "SELECT * FROM integration_connections WHERE organization_id = $1", org
        )
    assert row is not None
    values = [
        ("access_token", row["access_token_encrypted"]),
        ("refresh_token", row["refresh_token_encrypted"]),
        ("private_api_key", row["credential_fields_encrypted"]["private_api_key"]),
    ]
    return [
        ring.decrypt(
            EncryptedCredential.model_validate(v), Binding(org, "klaviyo", f)
        ).get_secret_value()
        for f, v in values
    ]


async def test_rotation_moves_everything_then_the_old_key_can_go(db: Database) -> None:
    orgs = await _seed(db, KeyRing([("k1", OLD)]), 5)
    rotated = KeyRing([("k2", NEW), ("k1", OLD)])

    rotation = Rotation(PostgresStore(db), rotated)
    first = await rotation.batch(batch_size=2)
    assert (first.rows, first.ciphertexts) == (2, 6)
    rest = await rotation.all()
    assert rest.rows == 3
    again = await rotation.all()
    assert (again.rows, again.ciphertexts) == (0, 0)

    only_new = KeyRing([("k2", NEW)])
    for org in orgs:
        assert await _opened(db, only_new, org) == [f"at-{org}", f"rt-{org}", f"pk-{org}"]
