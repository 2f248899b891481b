"""``python -m token_refresher``: consume ``token.expiring``, refresh, serve probes and metrics."""

from __future__ import annotations

from hub_runtime import serve

from token_refresher.app import create_app
from token_refresher.settings import RefresherSettings


def main() -> None:
    serve(RefresherSettings(), create_app)


if __name__ == "__main__":
    main()
