-- connection-store schema, version 4: the refresh sweep also takes connections in `error`
-- (an outage or a permission problem seen by the health monitor must not let the token expire).

DROP INDEX integration_connections_refresh_sweep;

CREATE INDEX integration_connections_refresh_sweep
    ON integration_connections (next_refresh_at)
    WHERE next_refresh_at IS NOT NULL AND status IN ('active', 'error');
