-- The notifier logs in as a role that owns nothing (docs/decisions.md, "Login role and owner
-- role"): it works on its tables through hub_service, which the login role inherits.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_service') THEN
        CREATE ROLE hub_service NOLOGIN;
    END IF;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    notifier_connections, notifier_processed_events, notifier_incidents,
    notifier_notifications, notifier_deliveries
TO hub_service;
