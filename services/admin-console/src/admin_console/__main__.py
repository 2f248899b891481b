"""``python -m admin_console``: the web console on 8100."""

from hub_runtime import serve

from admin_console.app import create_app
from admin_console.settings import ConsoleSettings


def main() -> None:
    serve(ConsoleSettings(), create_app)


if __name__ == "__main__":
    main()
