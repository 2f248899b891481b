-- The trace of the event that asked for a notification, carried to its deliveries, so one trace
-- runs from the provider's failure through the notifier's consumer to the message sent.
ALTER TABLE notifier_notifications ADD COLUMN traceparent TEXT;
ALTER TABLE notifier_deliveries ADD COLUMN traceparent TEXT;
