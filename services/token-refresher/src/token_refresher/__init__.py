"""token-refresher: keeps every connection's credential fresh (see README.md)."""
