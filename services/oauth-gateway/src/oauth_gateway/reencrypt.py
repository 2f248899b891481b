"""``python -m oauth_gateway.reencrypt`` (``hubctl keys reencrypt``): move every ciphertext the
gateway holds to the newest key of ``CREDENTIAL_KEYS``: the pending flows' PKCE verifiers and the
payloads of its outbox (``hub_runtime.reencryption``)."""

from __future__ import annotations

from hub_runtime.reencryption import CiphertextColumn, ServiceCiphertexts, command

from oauth_gateway.adapters.pending_flows import OUTBOX, PostgresPendingFlows

SERVICE = "oauth-gateway"
CIPHERTEXTS = ServiceCiphertexts(
    [
        CiphertextColumn(
            "oauth_flows", "code_verifier_encrypted", field="code_verifier", key="flow_id"
        ),
        CiphertextColumn(OUTBOX.name, "payload"),
    ],
    lambda dsn: PostgresPendingFlows(dsn, pool_size=2),
)
plan, run = CIPHERTEXTS.plan, CIPHERTEXTS.run


def main() -> int:
    return command(SERVICE, plan, run)


if __name__ == "__main__":
    raise SystemExit(main())
