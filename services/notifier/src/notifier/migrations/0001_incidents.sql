-- notifier schema, version 1: incidents, the notifications they call for, and their deliveries.
-- Applied by hub_runtime.migrations with history table notifier_migrations.

-- Per connection: the latest recovery the notifier has seen, so an older unhealthy event that
-- arrives late (another topic, a redelivery) opens nothing. Locked FOR UPDATE by every event of
-- the connection: events of one connection are applied one at a time across replicas.
CREATE TABLE notifier_connections (
    organization_id   UUID NOT NULL,
    provider          VARCHAR(50) NOT NULL,
    recovered_version INTEGER NOT NULL DEFAULT 0,
    recovered_at      TIMESTAMPTZ,
    PRIMARY KEY (organization_id, provider)
);

-- Inbox: a redelivered event changes nothing.
CREATE TABLE notifier_processed_events (
    consumer     VARCHAR(100) NOT NULL,
    event_id     UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX notifier_processed_events_age ON notifier_processed_events (processed_at);

-- One incident per (organization, provider, reason) until the connection recovers; at most one
-- open incident per connection (a new reason supersedes the open one).
CREATE TABLE notifier_incidents (
    id                 UUID PRIMARY KEY,
    organization_id    UUID NOT NULL,
    provider           VARCHAR(50) NOT NULL,
    reason             VARCHAR(64) NOT NULL,
    status             VARCHAR(10) NOT NULL CHECK (status IN ('open', 'closed')),
    credential_version INTEGER NOT NULL,
    message            TEXT NOT NULL,
    token_expires_at   TIMESTAMPTZ,
    opened_at          TIMESTAMPTZ NOT NULL,
    last_event_at      TIMESTAMPTZ NOT NULL,
    last_notified_at   TIMESTAMPTZ NOT NULL,
    notifications      INTEGER NOT NULL DEFAULT 1,
    duplicates         INTEGER NOT NULL DEFAULT 0,
    closed_at          TIMESTAMPTZ,
    closed_by          VARCHAR(20)
);
CREATE UNIQUE INDEX notifier_incidents_one_open
    ON notifier_incidents (organization_id, provider) WHERE status = 'open';
CREATE INDEX notifier_incidents_org ON notifier_incidents (organization_id, provider, opened_at);

-- A message to send about an incident (opened, reminder n, recovered): planned into deliveries
-- once the targets are known (connection-store's notification context).
CREATE TABLE notifier_notifications (
    id              UUID PRIMARY KEY,
    incident_id     UUID NOT NULL REFERENCES notifier_incidents (id),
    organization_id UUID NOT NULL,
    provider        VARCHAR(50) NOT NULL,
    kind            VARCHAR(10) NOT NULL CHECK (kind IN ('opened', 'reminder', 'recovered')),
    sequence        INTEGER NOT NULL,
    media           TEXT[] NOT NULL,
    state           VARCHAR(15) NOT NULL
                    CHECK (state IN ('pending', 'planned', 'undeliverable', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (incident_id, kind, sequence)
);
CREATE INDEX notifier_notifications_due
    ON notifier_notifications (next_attempt_at) WHERE state = 'pending';

-- One message on one channel. The intent (state 'sending', attempts + 1) is committed before
-- the request leaves; the result after. idempotency_key is what Resend de-duplicates on.
CREATE TABLE notifier_deliveries (
    id               UUID PRIMARY KEY,
    notification_id  UUID NOT NULL REFERENCES notifier_notifications (id),
    incident_id      UUID NOT NULL REFERENCES notifier_incidents (id),
    organization_id  UUID NOT NULL,
    provider         VARCHAR(50) NOT NULL,
    channel          VARCHAR(20) NOT NULL
                     CHECK (channel IN ('slack_bot', 'slack_webhook', 'resend', 'smtp')),
    action           VARCHAR(10) NOT NULL CHECK (action IN ('post', 'update')),
    idempotency_key  TEXT NOT NULL UNIQUE,
    state            VARCHAR(10) NOT NULL CHECK (state IN (
                         'pending', 'sending', 'sent', 'failed', 'uncertain', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,
    target           JSONB NOT NULL,
    payload          JSONB NOT NULL,
    provider_ref     TEXT,
    provider_channel TEXT,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at          TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifier_deliveries_due
    ON notifier_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifier_deliveries_leased
    ON notifier_deliveries (lease_until) WHERE state = 'sending';
CREATE INDEX notifier_deliveries_incident ON notifier_deliveries (incident_id);
