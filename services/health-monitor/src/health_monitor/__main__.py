"""``python -m health_monitor``: consume connection.check_due, serve health and metrics."""

from __future__ import annotations

import uvicorn
from hub_runtime import configure_logging

from health_monitor.app import create_app
from health_monitor.settings import MonitorSettings


def main() -> None:
    settings = MonitorSettings()  # CREDENTIAL_KEYS comes from the environment
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
