"""Command line: `hub-stack up` runs the local stack until Ctrl-C; `hub-stack run` runs the stack
and every process of a Procfile (`make run`); `hub-stack down` cleans up after a killed run."""

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from hub_localstack.postgres import PostgresError
from hub_localstack.processes import StartError
from hub_localstack.run import run
from hub_localstack.settings import StackSettings
from hub_localstack.stack import LocalStack


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub-stack", description=__doc__)
    parser.add_argument("command", choices=["up", "run", "down"])
    parser.add_argument("--procfile", type=Path, default=Path("deploy/local/Procfile"))
    args = parser.parse_args(argv)
    stack = LocalStack(StackSettings())
    if args.command == "run":
        try:
            return run(stack, args.procfile)
        except (StartError, PostgresError) as error:
            print(f"local stack did not start: {error}", file=sys.stderr)
            return 1
    if args.command == "down":
        for stopped in stack.stop_leftovers():
            print(f"stopped {stopped}")
        return 0
    return up(stack)


def up(stack: LocalStack) -> int:
    """Start, print the endpoints, wait for SIGINT or SIGTERM, stop."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        endpoints = stack.start()
    except (StartError, PostgresError) as error:
        print(f"local stack did not start: {error}", file=sys.stderr)
        return 1
    try:
        print(endpoints.env_text(), end="")
        print(f"written to {stack.env_path}; logs in {stack.settings.state_dir}")
        print("local stack is up; Ctrl-C stops it", flush=True)
        while not stop.wait(0.5):
            if not stack.running():
                print("a server exited; stopping the stack", file=sys.stderr)
                return 1
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
