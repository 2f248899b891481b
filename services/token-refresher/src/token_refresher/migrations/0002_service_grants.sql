-- The refresher logs in as a role that owns nothing (docs/decisions.md, "Login role and owner
-- role"): it works on its journal through hub_service, which the login role inherits.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_service') THEN
        CREATE ROLE hub_service NOLOGIN;
    END IF;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON token_refresher_journal TO hub_service;
