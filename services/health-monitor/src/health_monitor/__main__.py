"""``python -m health_monitor``: consume connection.check_due, serve health and metrics."""

from hub_runtime import serve

from health_monitor.app import create_app
from health_monitor.settings import MonitorSettings


def main() -> None:
    serve(MonitorSettings(), create_app)  # CREDENTIAL_KEYS comes from the environment


if __name__ == "__main__":
    main()
