-- oauth-gateway, version 2: results are durable before anyone is told (issue 13).
--
-- A callback claims its flow (claimed_at: of concurrent callbacks exactly one gets it), calls the
-- provider, then in ONE transaction consumes the flow (consumed_at) and writes its result
-- (connection.established or connection.failed) to the outbox; start writes the flow and its
-- connection.requested together. The relay (hub_runtime.outbox.relay) publishes the outbox.
-- A flow neither consumed nor finished when it expires is ended by the expiry sweep with
-- connection.failed (flow_expired), in the same way.

ALTER TABLE oauth_flows ADD COLUMN claimed_at TIMESTAMPTZ;

CREATE INDEX oauth_flows_open ON oauth_flows (expires_at) WHERE consumed_at IS NULL;

-- Named for the service: the gateway may share its database with the store (which has `outbox`).
CREATE TABLE oauth_gateway_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id UUID NOT NULL,
    topic           VARCHAR(100) NOT NULL,
    message_key     TEXT NOT NULL,
    payload         JSONB NOT NULL,
    headers         JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ
);
CREATE INDEX oauth_gateway_outbox_unsent ON oauth_gateway_outbox (id) WHERE sent_at IS NULL;
CREATE INDEX oauth_gateway_outbox_sent ON oauth_gateway_outbox (sent_at) WHERE sent_at IS NOT NULL;
