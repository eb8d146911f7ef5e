"""Network helpers for tests: free loopback ports and waiting for a listener.

Ports are picked below the kernel's ephemeral range: a port handed out there cannot be taken by an
outgoing connection in the moment between picking it and a child process binding it.
"""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

_FLOOR = 15000


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int = 1, *, tries: int = 1000) -> int:
    """The first of ``size`` consecutive TCP ports on 127.0.0.1 that nothing listens on now."""
    ceiling = max(_FLOOR + 1000, min(_ephemeral_start(), 32768)) - size
    for _ in range(tries):
        first = random.randrange(_FLOOR, ceiling)
        if all(_bindable(first + offset) for offset in range(size)):
            return first
    raise RuntimeError(f"found no {size} consecutive free ports")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_port_block(1)


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on ``host:port``; raise TimeoutError if not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.02)
