"""hub_keyring."""
