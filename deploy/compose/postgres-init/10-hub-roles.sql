-- The hub's database roles (deploy/README.md, "Migrations and database roles"); PostgreSQL 16+.
-- The postgres image runs it once, on an empty data volume, as POSTGRES_USER in POSTGRES_DB
-- (/docker-entrypoint-initdb.d). Idempotent: on an existing volume run it by hand, e.g.
--   docker compose -f deploy/compose/compose.yaml exec postgres \
--     psql -U hub -d integrations_hub -f /docker-entrypoint-initdb.d/10-hub-roles.sql
-- hub_owner owns the database and every table and runs the migrations
-- (DATABASE_MIGRATION_URL); hub_login is what the services log in as (DATABASE_URL): it owns
-- nothing and may only SET ROLE to hub_app / hub_worker, so RESET ROLE leaves it with nothing
-- on the store's tables and it can never disable row-level security.
\set ON_ERROR_STOP on
\getenv owner_password HUB_OWNER_PASSWORD
\getenv login_password HUB_LOGIN_PASSWORD

-- NOLOGIN roles the migrations grant to (they create them only when the migrator may).
SELECT format('CREATE ROLE %I NOLOGIN', name)
FROM unnest(ARRAY['hub_app', 'hub_worker', 'hub_service']) AS name
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name)
\gexec

SELECT format('CREATE ROLE %I LOGIN', name)
FROM unnest(ARRAY['hub_owner', 'hub_login']) AS name
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name)
\gexec

-- An unset password leaves :'...' unexpanded: a syntax error, and the script stops.
ALTER ROLE hub_owner WITH LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB
    PASSWORD :'owner_password';
ALTER ROLE hub_login WITH LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB
    PASSWORD :'login_password';

-- WITH INHERIT FALSE, SET TRUE: the store takes hub_app / hub_worker per transaction; a bare
-- connection has neither (inheriting hub_worker would read every tenant).
GRANT hub_app, hub_worker TO hub_login WITH INHERIT FALSE, SET TRUE;
-- The gateway's, refresher's and notifier's tables (no tenant rows) are granted to hub_service.
GRANT hub_service TO hub_login WITH INHERIT TRUE, SET FALSE;

-- The owner owns the database (and so, on PostgreSQL 15+, may create in its public schema).
SELECT format('ALTER DATABASE %I OWNER TO hub_owner', current_database())
\gexec

-- Run by hand on a volume from before the roles: what the old superuser made becomes the owner's.
SELECT format('ALTER TABLE %s OWNER TO hub_owner', c.oid::regclass)
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
  AND c.relowner <> 'hub_owner'::regrole
\gexec
