"""``python -m token_refresher.reencrypt`` (``hubctl keys reencrypt``): move every ciphertext the
refresher holds to the newest key of ``CREDENTIAL_KEYS``: the renewals in its journal
(``hub_runtime.reencryption``)."""

from __future__ import annotations

from hub_runtime.reencryption import CiphertextColumn, ServiceCiphertexts, command

from token_refresher.adapters.journal import JOURNAL, PostgresJournal

SERVICE = "token-refresher"
CIPHERTEXTS = ServiceCiphertexts(
    [CiphertextColumn(JOURNAL.name, "payload")],
    lambda dsn: PostgresJournal(dsn, pool_size=2),
)
plan, run = CIPHERTEXTS.plan, CIPHERTEXTS.run


def main() -> int:
    return command(SERVICE, plan, run)


if __name__ == "__main__":
    raise SystemExit(main())
