"""The system under test of the ``e2e`` suite: ``eventstream up`` as a subprocess, and its CPU use.

``UpProcess`` starts ``eventstream up`` on free ports (the ports it derives from the ones it is given,
NATS monitoring at +4000, the order service's gRPC at +1, one metrics port per worker, are free too)
with the given databases and its data in a directory of ours, waits for ``/readyz``, and stops it with
SIGTERM (its own orderly shutdown). Its output goes to ``up.log`` in that directory, shown when it
fails to start.

CPU accounting reads ``/proc``: each child of ``eventstream up`` is named by its role (``ordersvc``,
``eventstoresvc``, ``payment``, ..., ``nats-server``); ``eventstream up`` itself counts as
``supervisor`` (it copies every child's output). The benchmark adds PostgreSQL, whose postmaster is a
child of the benchmark process (its backends are the postmaster's children).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from eventstream import preflight
from eventstream.benchmarks.load import process_cpu_seconds

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

PORT_RANGE = (20000, 32000)
"""Where the system's ports are picked: below Linux's default ephemeral range (32768-60999)."""
WORKER_COUNT = 4
"""Worker kinds ``eventstream up`` runs (payment, projection, review, saga), one instance each."""


def free_block(size: int, *, also: int | None = None, taken: Iterable[int] = (), tries: int = 500) -> int:
    """A port ``p`` such that ``p .. p+size-1`` (and ``p+also`` when given) are free on 127.0.0.1.

    The ports come from below the kernel's ephemeral range (``PORT_RANGE``): a port there cannot be
    taken by an outgoing connection between now and the moment a child binds it. ``taken`` are
    ports already handed out.
    """
    avoid = set(taken)
    for _ in range(tries):
        first = random.randrange(*PORT_RANGE)
        wanted = [first + i for i in range(size)] + ([first + also] if also is not None else [])
        if avoid.isdisjoint(wanted) and all(preflight.port_free(p) for p in wanted):
            return first
    raise RuntimeError(f"found no {size} consecutive free ports")


def role_of(argv: Sequence[str]) -> str | None:
    """The role of a child of ``eventstream up`` from its command line, None if not one of ours.

    ``.../nats-server -js ...`` is ``nats-server``; ``python -m eventstream worker payment ...`` is
    ``payment``; ``python -m eventstream ordersvc ...`` is ``ordersvc``.
    """
    if not argv:
        return None
    if Path(argv[0]).name == "nats-server":
        return "nats-server"
    args = list(argv)
    if "eventstream" not in args:
        return None
    rest = args[args.index("eventstream") + 1:]
    if not rest:
        return None
    if rest[0] == "worker" and len(rest) > 1:
        return rest[1]
    return rest[0]


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def children(parent: int) -> list[int]:
    """The pids of the live children of ``parent``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry))[1]) == parent:
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


def command_name(pid: int) -> str:
    """The command name of process ``pid`` (``/proc/<pid>/comm``), "" if it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def child_roles(parent: int) -> dict[str, int]:
    """The children of ``eventstream up`` by role (role -> pid)."""
    roles: dict[str, int] = {}
    for pid in children(parent):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = [part.decode(errors="replace") for part in cmdline.read().split(b"\0") if part]
        except OSError:
            continue
        role = role_of(argv)
        if role is not None:
            roles[role if role not in roles else f"{role}#{pid}"] = pid
    return roles


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid``, of its reaped children and of its live children (0.0 if it is gone).

    For PostgreSQL: the postmaster, and its backends whether they still run or have exited.
    """
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    total = sum(int(f) for f in fields[11:15]) / _CLOCK_TICKS
    for child in children(pid):
        try:
            total += process_cpu_seconds(child)
        except OSError:
            continue
    return total


def sample_cpu(roles: Mapping[str, int], *, trees: Collection[str] = ("postgres",)) -> dict[str, float]:
    """CPU seconds used so far by each role's process; roles in ``trees`` with their children.

    ``eventstream up`` is counted alone: its children are the other roles.
    """
    found = {}
    for role, pid in roles.items():
        if role in trees:
            found[role] = tree_cpu_seconds(pid)
        else:
            try:
                found[role] = process_cpu_seconds(pid)
            except OSError:
                found[role] = 0.0
    found["bench client"] = process_cpu_seconds(os.getpid())
    return found


class UpProcess:
    """One ``eventstream up`` on free ports, on the given databases."""

    def __init__(self, data_dir: Path, *, db_url: str, orders_db_url: str) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.orders_db_url = orders_db_url
        taken: list[int] = []

        def pick(size: int, also: int | None = None) -> int:
            first = free_block(size, also=also, taken=taken)
            taken.extend([first + i for i in range(size)] + ([first + also] if also is not None else []))
            return first

        self.http_port = pick(1)
        self.grpc_port = pick(2)  # the order service's gRPC API takes the next one
        self.nats_port = pick(1, also=4000)  # NATS monitoring
        self.metrics_port = pick(WORKER_COUNT)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The order API's base URL."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def nats_url(self) -> str:
        """The embedded nats-server's client URL."""
        return f"nats://127.0.0.1:{self.nats_port}"

    @property
    def pid(self) -> int:
        """The pid of ``eventstream up``."""
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self, env: Mapping[str, str] | None = None, timeout: float = 180.0) -> None:
        """Start ``eventstream up`` and wait until the order service's ``/readyz`` answers 200."""
        args = [sys.executable, "-m", "eventstream", "up", "--http-port", str(self.http_port),
                "--grpc-port", str(self.grpc_port), "--nats-port", str(self.nats_port),
                "--metrics-port", str(self.metrics_port), "--data-dir", str(self.data_dir),
                "--db-url", self.db_url, "--orders-db-url", self.orders_db_url]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "up.log").open("wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"eventstream up exited with code {self.process.returncode}:\n"
                                   + self.log())
            try:
                with urllib.request.urlopen(self.base_url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the system was not ready after {timeout:.0f}s:\n{self.log()}")

    def log(self, tail: int = 4000) -> str:
        """The last ``tail`` characters ``eventstream up`` printed."""
        path = self.data_dir / "up.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def stop(self, timeout: float = 120.0) -> int:
        """SIGTERM ``eventstream up``, wait for its orderly shutdown; its exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process is not None else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)
