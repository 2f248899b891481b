"""``python -m notifier``: consume, plan and deliver; health, readiness and metrics on 8105."""

from __future__ import annotations

import uvicorn
from hub_runtime import configure_logging

from notifier.app import create_app
from notifier.settings import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    configure_logging(settings.service_name, settings.log_level)
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
