"""connection-store: the owner of connection state."""
