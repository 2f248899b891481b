"""``python -m hub_keyring new-key [KEY_ID]``: print a fresh CREDENTIAL_KEYS entry."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from hub_keyring.keyring import new_key_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub_keyring")
    commands = parser.add_subparsers(dest="command", required=True)
    new_key = commands.add_parser("new-key", help="print a fresh key-id:base64 entry")
    new_key.add_argument("key_id", nargs="?", default=datetime.now(UTC).strftime("k%Y%m%d%H%M"))
    args = parser.parse_args(argv)
    print(new_key_spec(args.key_id))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
