"""``python -m connection_store.issuer --org <uuid>`` (``make token``): print a development bearer
token signed with ``StoreSettings().jwt_secret``; refuses to run in production."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import timedelta

from pydantic import ValidationError

from connection_store.auth import SCOPES, issue_token
from connection_store.settings import StoreSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m connection_store.issuer",
        description="Print a development bearer token for one organization.",
    )
    parser.add_argument("--org", required=True, type=uuid.UUID, help="organization UUID")
    parser.add_argument(
        "--scope",
        default=" ".join(SCOPES),
        help=f"space-separated scopes (default: {' '.join(SCOPES)!r})",
    )
    parser.add_argument("--sub", default="dev-admin", help="the token's subject")
    parser.add_argument("--hours", type=float, default=12.0, help="lifetime in hours")
    args = parser.parse_args(argv)
    try:
        settings = StoreSettings()
    except ValidationError as error:
        print(f"invalid settings: {error}", file=sys.stderr)
        return 2
    if settings.environment == "production":
        print("refusing to mint a development token in production", file=sys.stderr)
        return 2
    print(
        issue_token(
            settings.jwt_secret,
            args.org,
            scopes=args.scope.split(),
            subject=args.sub,
            lifetime=timedelta(hours=args.hours),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
