"""Adapters: PostgreSQL and Kafka."""
