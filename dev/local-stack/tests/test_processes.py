"""Ports handed to services started side by side."""

import socket

from hub_localstack.processes import free_port


def test_free_port_never_hands_out_the_same_port_twice_even_if_the_kernel_would() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # and each was free
