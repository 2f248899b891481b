"""Helpers for the server processes: free ports, readiness waits, stopping."""

import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, Self


class StartError(RuntimeError):
    """A server did not come up."""


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not
    handed out before: two services created before either binds must not get the same port."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def check_port_free(port: int, name: str) -> None:
    """Raise StartError when something already listens on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise StartError(f"{name}: port {port} on 127.0.0.1 is taken")


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, or an empty string."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until_ready(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    *,
    name: str,
    log_path: Path,
    timeout: float,
) -> None:
    """Poll `ready` until it holds; raise StartError when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise StartError(
                f"{name} exited with code {process.returncode}; {log_path}:\n{log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            raise StartError(f"{name} not ready after {timeout} s; {log_path}")
        time.sleep(0.01)


def stop_child(process: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """Send `sig`, wait up to `timeout` seconds, then kill."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _runs(pid: int, program: str, argument: str) -> bool:
    """Whether process `pid` is alive, runs `program` (name prefix) and was given `argument`."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return Path(os.fsdecode(argv[0])).name.startswith(program) and os.fsencode(argument) in argv


def stop_pid(pid: int, program: str, argument: str, sig: signal.Signals, timeout: float) -> bool:
    """Stop a process left by an earlier run if `pid` is still that process; True when it was."""
    if not _runs(pid, program, argument):
        return False
    for signum in (sig, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.kill(pid, signum)
        deadline = time.monotonic() + timeout
        while _runs(pid, program, argument) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not _runs(pid, program, argument):
            break
    return True


class ChildServer(ABC):
    """A server process this one started: ``pid`` while it runs; ``with`` starts and stops it."""

    _process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process and self._process.poll() is None else None

    @abstractmethod
    def start(self) -> None:
        """Start the server and wait until it answers."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the server (and what it leaves behind)."""

    def _spawn(self, command: list[str], log_path: Path, **options: Any) -> subprocess.Popen[bytes]:
        """Start ``command`` in its own session, its output appended to ``log_path``."""
        with log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **options,
            )
        return self._process

    def _wait_ready(
        self, ready: Callable[[], bool], *, name: str, log_path: Path, timeout: float
    ) -> None:
        """Wait until ``ready()``; a server that never gets there is stopped."""
        assert self._process is not None
        try:
            wait_until_ready(ready, self._process, name=name, log_path=log_path, timeout=timeout)
        except BaseException:
            self.stop()
            raise

    def _stop_child(self, sig: signal.Signals, timeout: float) -> None:
        if self._process:
            stop_child(self._process, sig, timeout)
            self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
