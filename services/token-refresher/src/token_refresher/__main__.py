"""``python -m token_refresher``: consume ``token.expiring``, refresh, serve probes and metrics."""

from __future__ import annotations

import logging

import uvicorn
from hub_runtime import configure_logging

from token_refresher.app import create_app
from token_refresher.settings import RefresherSettings


def main() -> None:
    settings = RefresherSettings()
    configure_logging(settings.service_name, settings.log_level)
    # One line per provider request would name provider URLs at INFO; outcomes are logged
    # by the refresher itself.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
        access_log=False,
    )


if __name__ == "__main__":
    main()
