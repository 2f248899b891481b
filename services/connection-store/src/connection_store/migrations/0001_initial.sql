-- connection-store schema, version 1.
-- Tables are owned by the migrating role; services work as hub_app (tenant requests, subject to
-- row-level security per transaction) or hub_worker (sweeps and the outbox relay, all tenants).

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_app') THEN
        CREATE ROLE hub_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_worker') THEN
        CREATE ROLE hub_worker NOLOGIN;
    END IF;
END
$$;

CREATE TABLE integration_connections (
    id                          UUID PRIMARY KEY,
    organization_id             UUID NOT NULL,
    provider                    VARCHAR(50) NOT NULL,
    auth_type                   VARCHAR(40),

    -- Credentials: EncryptedCredential JSON ({format, key_id, nonce, ciphertext}), never plaintext.
    access_token_encrypted      JSONB,
    refresh_token_encrypted     JSONB,
    credential_fields_encrypted JSONB NOT NULL DEFAULT '{}',
    credential_version          INTEGER NOT NULL DEFAULT 0 CHECK (credential_version >= 0),
    token_expires_at            TIMESTAMPTZ,
    scopes                      TEXT[] NOT NULL DEFAULT '{}',

    account_id                  TEXT,
    account_name                TEXT,
    metadata                    JSONB NOT NULL DEFAULT '{}',
    settings                    JSONB NOT NULL DEFAULT '{}',

    status                      VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (status IN (
                                    'pending', 'active', 'expired', 'error', 'disconnected')),
    last_error                  TEXT,
    last_error_code             VARCHAR(64),
    last_sync_at                TIMESTAMPTZ,
    last_checked_at             TIMESTAMPTZ,
    connected_at                TIMESTAMPTZ,
    disconnected_at             TIMESTAMPTZ,

    -- The latest connect attempt (OAuth start or API-key submission) and how it ended.
    attempt_flow_id             UUID,
    attempt_state               VARCHAR(20) CHECK (attempt_state IN ('connecting', 'failed')),
    attempt_reason              VARCHAR(64),
    attempt_message             TEXT,
    attempt_at                  TIMESTAMPTZ,

    -- Due work, claimed by the sweeps.
    next_refresh_at             TIMESTAMPTZ,
    next_check_at               TIMESTAMPTZ,

    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),

    UNIQUE (organization_id, provider)
);

CREATE INDEX integration_connections_status
    ON integration_connections (status) WHERE status <> 'active';
CREATE INDEX integration_connections_refresh_due
    ON integration_connections (next_refresh_at) WHERE next_refresh_at IS NOT NULL;
CREATE INDEX integration_connections_check_due
    ON integration_connections (next_check_at) WHERE next_check_at IS NOT NULL;

-- Feature flags per organization (the catalog holds the defaults; rows hold what was changed).
CREATE TABLE organization_flags (
    organization_id UUID NOT NULL,
    flag            VARCHAR(100) NOT NULL,
    enabled         BOOLEAN NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by      TEXT,
    PRIMARY KEY (organization_id, flag)
);

-- Inbox: one row per (consumer, event) handled, so a redelivery changes nothing.
CREATE TABLE processed_events (
    consumer        VARCHAR(100) NOT NULL,
    event_id        UUID NOT NULL,
    organization_id UUID NOT NULL,
    processed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_events_age ON processed_events (processed_at);

-- Outbox: events written in the same transaction as the state they describe; the relay
-- publishes them and marks them sent once the broker acknowledged.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id UUID NOT NULL,
    topic           VARCHAR(100) NOT NULL,
    message_key     TEXT NOT NULL,
    payload         JSONB NOT NULL,
    headers         JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Row-level security: hub_app sees only the organization set for the transaction
-- (SET LOCAL app.organization_id); hub_worker sees every organization.
DO $$
DECLARE
    tenant_table TEXT;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY[
        'integration_connections', 'organization_flags', 'processed_events', 'outbox'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO hub_app '
            'USING (organization_id = NULLIF(current_setting(''app.organization_id'', true), '''')::uuid) '
            'WITH CHECK (organization_id = NULLIF(current_setting(''app.organization_id'', true), '''')::uuid)',
            tenant_table);
        EXECUTE format(
            'CREATE POLICY worker_all ON %I TO hub_worker USING (true) WITH CHECK (true)',
            tenant_table);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO hub_app, hub_worker',
            tenant_table);
    END LOOP;
END
$$;
