"""notifier: tells people when a connection needs attention (Slack, email), once per incident."""
