"""Adapters: PostgreSQL (pending flows), the broker (events), providers (hub_providers)."""
