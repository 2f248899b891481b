"""Adapters: the provider prober and the event publisher."""
