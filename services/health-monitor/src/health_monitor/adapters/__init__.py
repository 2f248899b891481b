"""The service ports' implementations: one module per port."""
