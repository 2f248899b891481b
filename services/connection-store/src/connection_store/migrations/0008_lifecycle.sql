-- connection-store schema, version 8: every connect attempt ends (issue 13).
--
-- Since this version the gateway ends every flow with connection.failed (its expiry sweep,
-- or the refused callback itself), so an attempt shows "connecting" for at most the flow lifetime
-- plus one sweep. Attempts left "connecting" before that, whose flows the gateway has purged
-- since (a day after they expired), can never hear their end: they end here.

UPDATE integration_connections
   SET attempt_state = 'failed',
       attempt_reason = 'flow_expired',
       attempt_message = 'The sign-in expired before it was finished. Start connecting again.',
       updated_at = now()
 WHERE attempt_state = 'connecting'
   AND attempt_at < now() - interval '1 day';
