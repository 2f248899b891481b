"""``python -m connection_store``: serve the API, consume events, sweep, relay the outbox."""

from __future__ import annotations

from hub_runtime import serve

from connection_store.app import create_app
from connection_store.settings import StoreSettings


def main() -> None:
    serve(StoreSettings(), create_app)


if __name__ == "__main__":
    main()
