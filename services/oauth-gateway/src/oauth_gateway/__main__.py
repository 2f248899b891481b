"""``python -m oauth_gateway``: serve the API and consume onboarding submissions."""

from __future__ import annotations

import logging

import uvicorn
from hub_runtime import configure_logging

from oauth_gateway.app import create_app
from oauth_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.service_name, settings.log_level)
    # httpx logs each request line, query included (Meta's token exchange carries a token there).
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,  # request lines carry codes and states; the app logs without them
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
