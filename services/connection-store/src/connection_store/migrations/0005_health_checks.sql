-- connection-store schema, version 5: every health check is recorded (connection.checked), not
-- only a status change: when the last check finished, what it found, and which check it was
-- (the id "Sync now" answers with).

ALTER TABLE integration_connections
    ADD COLUMN last_check_outcome VARCHAR(32),
    ADD COLUMN last_check_id      UUID;
