"""``python -m notifier``: consume, plan and deliver; health, readiness and metrics on 8105."""

from hub_runtime import serve

from notifier.app import create_app
from notifier.settings import NotifierSettings


def main() -> None:
    serve(NotifierSettings(), create_app)


if __name__ == "__main__":
    main()
