-- notifier schema, version 3: a disconnect closes the connection's incident (issue 13).
--
-- connection.disconnected closes the open incident without a "recovered" message (closed_by
-- 'disconnected') and records when, so an unhealthy verdict from before the disconnect that
-- arrives late (another topic, a redelivery) opens nothing.

ALTER TABLE notifier_connections ADD COLUMN disconnected_at TIMESTAMPTZ;
