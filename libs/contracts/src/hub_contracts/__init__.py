"""hub_contracts."""
