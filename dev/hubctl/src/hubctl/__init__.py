"""hubctl: the operator's command line over the hub's own code (connections, keys, DLQ, catalog,
tokens, doctor, traces). It sits above the services (it may import them; nothing imports it)."""
