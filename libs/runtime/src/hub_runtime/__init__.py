"""hub_runtime."""
