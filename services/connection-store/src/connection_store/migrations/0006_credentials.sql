-- connection-store schema, version 6: credentials for the platform's services (issue 12).
--
-- On-demand refreshes are claimed on the connection row, so any number of store replicas share
-- one: the first request whose token is too old sets refresh_requested_at (with the
-- token.expiring it writes to the outbox); the others see the claim and wait. The consumers of
-- token.refreshed and connection.unhealthy clear it and NOTIFY credential_refresh with the
-- connection id; refresh_failed_at keeps a failed refresh from being asked again at once.
ALTER TABLE integration_connections
    ADD COLUMN refresh_requested_at TIMESTAMPTZ,
    ADD COLUMN refresh_failed_at    TIMESTAMPTZ;

-- Every read of a credential by a hub service: who, which connection, how it ended, which
-- credential version was handed out. Append-only (no UPDATE grant; hub_worker may only DELETE
-- rows past the retention), never a secret. Read by brand admins through
-- GET /v1/orgs/{org_id}/integrations/{provider}/access-log, newest first, paged by id.
CREATE TABLE credential_reads (
    id                 BIGSERIAL PRIMARY KEY,
    organization_id    UUID NOT NULL,
    provider           VARCHAR(50) NOT NULL,
    service            VARCHAR(100) NOT NULL,
    outcome            VARCHAR(40) NOT NULL,
    credential_version INTEGER,
    at                 TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX credential_reads_page ON credential_reads (organization_id, provider, id DESC);
CREATE INDEX credential_reads_age ON credential_reads (at);

ALTER TABLE credential_reads ENABLE ROW LEVEL SECURITY;
ALTER TABLE credential_reads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON credential_reads TO hub_app
    USING (organization_id = NULLIF(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY worker_all ON credential_reads TO hub_worker USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON credential_reads TO hub_app;
GRANT SELECT, DELETE ON credential_reads TO hub_worker;
GRANT USAGE ON SEQUENCE credential_reads_id_seq TO hub_app;
