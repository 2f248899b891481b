"""The store's use cases, over the ports in ``service.ports``; no I/O library here."""
