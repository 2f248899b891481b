"""``python -m provider_sandbox``: serve the sandbox with uvicorn."""

from __future__ import annotations

import uvicorn

from provider_sandbox.app import create_app
from provider_sandbox.settings import SandboxSettings


def main() -> None:
    settings = SandboxSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=settings.access_log,
    )


if __name__ == "__main__":
    main()
