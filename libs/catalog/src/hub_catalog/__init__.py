"""hub_catalog."""
