"""``python -m connection_store``: serve the API, consume events, sweep, relay the outbox."""

from __future__ import annotations

import uvicorn
from hub_runtime import configure_logging

from connection_store.app import create_app
from connection_store.settings import StoreSettings


def main() -> None:
    settings = StoreSettings()
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
