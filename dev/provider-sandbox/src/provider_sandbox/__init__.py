"""Provider sandbox."""
