-- token-refresher, version 1: the provider's answer is durable before anything else (issue 13).
--
-- A rotating provider (Shopify, Slack) invalidates the old refresh token when it answers, so the
-- answer must not be lost with the process. Right after the provider answers, the refresher
-- writes the token.refreshed it will publish here (payload = the event: ciphertext under the key
-- ring, never plaintext); the relay (hub_runtime.outbox.relay) publishes it, and every replica
-- drains the unsent rows before it processes newly assigned partitions.
-- The columns are those the shared relay expects (hub_runtime.outbox.relay).

CREATE TABLE token_refresher_journal (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id UUID NOT NULL,
    topic           VARCHAR(100) NOT NULL,
    message_key     TEXT NOT NULL,
    payload         JSONB NOT NULL,
    headers         JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ
);
CREATE INDEX token_refresher_journal_unsent ON token_refresher_journal (id) WHERE sent_at IS NULL;
CREATE INDEX token_refresher_journal_sent ON token_refresher_journal (sent_at)
    WHERE sent_at IS NOT NULL;
