"""One valid example of every event: for documentation, round-trip and broker tests.

Ciphertexts are random bytes, not encryptions of anything: these examples carry no secret.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hub_contracts import events
from hub_contracts.credential import Credentials, EncryptedCredential, SealedCredential
from hub_contracts.topics import connection_id

ORG = uuid.UUID("0b5f7c1e-3d2a-4e8f-9a61-7c2d4b8e1f30")
CONNECTION = connection_id(ORG, "google_ads")
EXPIRES = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GOOGLE_ADS: dict[str, Any] = {
    "organization_id": ORG,
    "provider": "google_ads",
    "connection_id": CONNECTION,
}


def ciphertext() -> EncryptedCredential:
    return EncryptedCredential(key_id="k1", nonce=os.urandom(12), ciphertext=os.urandom(40))


def sealed() -> SealedCredential:
    return SealedCredential(
        key_id="s1",
        ephemeral_public_key=os.urandom(32),
        nonce=os.urandom(12),
        ciphertext=os.urandom(40),
    )


def _credentials() -> Credentials:
    return Credentials(access_token=ciphertext(), refresh_token=ciphertext())


EXAMPLES: list[events.Event] = [
    events.ConnectionRequestedV1(
        organization_id=ORG,
        provider="klaviyo",
        flow_id=uuid.uuid4(),
        auth_type="api_key",
        requested_by="user-1",
        submission={"private_api_key": ciphertext()},
    ),
    events.ConnectionEstablishedV1(
        **GOOGLE_ADS,
        flow_id=uuid.uuid4(),
        auth_type="oauth2_authorization_code",
        credentials=_credentials(),
        token_expires_at=EXPIRES,
        scopes=["https://www.googleapis.com/auth/adwords"],
        account=events.Account(id="123-456-7890", name="Acme Ads"),
        metadata={"customers": ["1234567890"]},
    ),
    events.ConnectionFailedV1(
        organization_id=ORG,
        provider="meta_ads",
        reason="access_denied",
        message="You declined access on Facebook. Start again and approve the permissions.",
    ),
    events.TokenExpiringV1(
        **GOOGLE_ADS,
        credential_version=3,
        auth_type="oauth2_authorization_code",
        refresh_strategy="refresh_grant",
        token_expires_at=EXPIRES,
        credentials=_credentials(),
    ),
    events.TokenRefreshedV1(
        **GOOGLE_ADS,
        credential_version=4,
        credentials=_credentials(),
        token_expires_at=EXPIRES + timedelta(hours=1),
    ),
    events.ConnectionCheckDueV1(
        **GOOGLE_ADS,
        credential_version=4,
        auth_type="oauth2_authorization_code",
        trigger="sync_now",
        status="active",
        credentials=_credentials(),
    ),
    events.ConnectionUnhealthyV1(
        **GOOGLE_ADS,
        credential_version=4,
        reason="revoked",
        message="Google Ads access was revoked. Reconnect Google Ads in Settings → Integrations.",
        detected_by="token-refresher",
        provider_status=400,
        provider_code="invalid_grant",
    ),
    events.ConnectionRecoveredV1(
        **GOOGLE_ADS,
        credential_version=5,
        detected_by="health-monitor",
    ),
    events.ConnectionCheckedV1(
        **GOOGLE_ADS,
        credential_version=4,
        check_id=uuid.uuid4(),
        trigger="sync_now",
        outcome="healthy",
        checked_at=EXPIRES,
        detected_by="health-monitor",
    ),
    events.ConnectionDisconnectedV1(
        **GOOGLE_ADS,
        disconnected_by="user-1",
    ),
    events.ConnectionRequestedV2(
        organization_id=ORG,
        provider="klaviyo",
        auth_type="api_key",
        requested_by="onboarding",
        submission={"private_api_key": sealed()},
    ),
]
