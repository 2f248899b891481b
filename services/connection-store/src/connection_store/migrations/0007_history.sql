-- connection-store schema, version 7: each connection's activity (issue 11).
--
-- One row per thing that happened to an organization's integration, recorded in the same tenant
-- transaction that applies the event (requested, connected, failed, refreshed, unhealthy,
-- recovered, disconnected; other kinds are appended by whoever consumes their event). Rows hold
-- a kind and a person's summary, never a credential. Read newest first by GET
-- /v1/orgs/{org_id}/integrations/{provider}/history, paged by id.

CREATE TABLE integration_history (
    id              BIGSERIAL PRIMARY KEY,
    organization_id UUID NOT NULL,
    provider        TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    kind            TEXT NOT NULL,
    summary         TEXT NOT NULL,
    event_id        UUID,
    details         JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX integration_history_page ON integration_history (organization_id, provider, id DESC);
CREATE UNIQUE INDEX integration_history_event ON integration_history (organization_id, event_id, kind)
    WHERE event_id IS NOT NULL;

ALTER TABLE integration_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration_history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration_history TO hub_app
    USING (organization_id = NULLIF(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY worker_all ON integration_history TO hub_worker USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON integration_history TO hub_app, hub_worker;
GRANT USAGE ON SEQUENCE integration_history_id_seq TO hub_app, hub_worker;
