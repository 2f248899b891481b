"""oauth-gateway: connects providers (OAuth with signed state and PKCE, API keys) and publishes
connection events."""
