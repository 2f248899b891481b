"""``python -m connection_store.issuer --org <uuid>`` (``make token``): print a development bearer
token signed with ``StoreSettings().jwt_secret``, or with ``--service <name> --providers ...`` a
``credentials:read`` service token signed with ``HUB_SERVICE_TOKEN_SECRET``; refuses to run in
production."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import timedelta

from pydantic import ValidationError

from connection_store.auth import (
    CREDENTIALS_READ,
    MAX_SERVICE_LIFETIME_S,
    SCOPES,
    issue_service_token,
    issue_token,
)
from connection_store.settings import StoreSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m connection_store.issuer",
        description="Print a development bearer token for one organization.",
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--org", type=uuid.UUID, help="organization UUID (a brand admin's token)")
    who.add_argument("--service", help="a hub service's name (a credentials:read token)")
    parser.add_argument(
        "--providers", default="", help="space-separated providers a service token may read"
    )
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
    if args.service is not None:
        print(
            issue_service_token(
                settings.service_token_secret,
                args.service,
                (CREDENTIALS_READ,),
                providers=args.providers.split(),
                lifetime=timedelta(seconds=MAX_SERVICE_LIFETIME_S),
            )
        )
        return 0
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
