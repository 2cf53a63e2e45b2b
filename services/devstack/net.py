"""Loopback ports for the local infrastructure (everything listens on 127.0.0.1 only)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_given: set[int] = set()


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_loopback_port() -> int:
    """A currently free TCP port on 127.0.0.1 for a server to listen on, chosen *below* the
    kernel's ephemeral range: outgoing connections (Kafka and database clients) take their
    local ports from that range, and one of them could take a port handed out from it between
    this check and the server's bind (a service then exits with "address already in use")."""
    low = _ephemeral_low()
    first = max(1024, low - 12000)
    pick = random.SystemRandom()
    for _ in range(200):
        port = pick.randrange(first, low)
        if port in _given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # the kernel's choice
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
