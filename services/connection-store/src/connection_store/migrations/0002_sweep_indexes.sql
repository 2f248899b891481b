-- connection-store schema, version 2: indexes that keep the sweeps and the outbox O(log n).
--
-- A sweep claims `status = 'active' AND next_refresh_at <= now` (refresh) or
-- `status IN ('active', 'error') AND next_check_at <= now` (health check), oldest first. The
-- 0001 indexes covered every row with a next_*_at, so rows in other states (expired,
-- disconnected...) whose next_*_at lies in the past sat at the front of the index and every
-- sweep walked past them again. These partial indexes hold exactly the claimable rows: a sweep
-- is a range scan from the start of the index, touching only rows it takes.

CREATE INDEX integration_connections_refresh_sweep
    ON integration_connections (next_refresh_at)
    WHERE next_refresh_at IS NOT NULL AND status = 'active';

CREATE INDEX integration_connections_check_sweep
    ON integration_connections (next_check_at)
    WHERE next_check_at IS NOT NULL AND status IN ('active', 'error');

-- Superseded by the two above (every sweep query is answered by them); dropping them saves
-- the index writes that every sweep and consumer update would otherwise pay twice.
DROP INDEX integration_connections_refresh_due;
DROP INDEX integration_connections_check_due;

-- The relay prunes rows sent more than its retention ago, oldest first.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
