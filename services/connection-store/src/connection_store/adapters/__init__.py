"""Adapters: PostgreSQL (one module per port of ``service.ports``), the outbox relay to Kafka,
and the loop that drives the background work."""
