"""Adapters: PostgreSQL, connection-store, Slack, Resend, SMTP."""
