"""Adapters, one module per port: the tables, connection-store (``Directory``), the senders."""
