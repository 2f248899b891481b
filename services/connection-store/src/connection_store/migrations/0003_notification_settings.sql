-- connection-store schema, version 3: who hears about a connection that needs attention.
--
-- One row per organization, edited through PATCH /v1/orgs/{org_id}/notifications and read by the
-- notifier through the internal notification-context endpoint. No row means the defaults: Slack
-- and email on, no email recipients (so no email until someone names one).

CREATE TABLE notification_settings (
    organization_id  UUID PRIMARY KEY,
    email_recipients TEXT[] NOT NULL DEFAULT '{}',
    email_enabled    BOOLEAN NOT NULL DEFAULT true,
    slack_enabled    BOOLEAN NOT NULL DEFAULT true,
    email_from       TEXT,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by       TEXT
);

ALTER TABLE notification_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notification_settings TO hub_app
    USING (organization_id = NULLIF(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY worker_all ON notification_settings TO hub_worker USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON notification_settings TO hub_app, hub_worker;
