"""A closed-loop load driver and per-process CPU accounting for benchmarks.

The driver runs ``concurrency`` threads that each call a function back to back for a fixed time and
record every latency. Servers under test run in their own process, so besides throughput the suites
can report the server's CPU time per request, read from ``/proc``: on a shared 2-core machine that
cost is steadier than requests/s and does not depend on how fast the client is.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eventstream.benchmarks.report import Result, percentile

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name (field 2) may contain spaces; the fields after it are space-separated.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass
class LoadResult:
    """What one load run measured."""

    requests: int
    errors: int
    seconds: float
    latencies: list[float] = field(repr=False)
    server_cpu_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_ms(self, pct: float) -> float:
        """The ``pct`` percentile latency in milliseconds."""
        return percentile(self.latencies, pct) * 1000

    @property
    def server_cpu_us_per_request(self) -> float:
        """Server CPU microseconds spent per completed request."""
        return self.server_cpu_seconds / self.requests * 1e6 if self.requests else 0.0


def drive(
    make_call: Callable[[], Callable[[], None]],
    *,
    concurrency: int,
    duration: float,
    warmup: float = 0.5,
    server_pid: int | None = None,
) -> LoadResult:
    """Call functions made by ``make_call`` (one per thread) in a closed loop and measure.

    Each thread calls its function until ``warmup + duration`` seconds have passed; only calls that
    start after the warm-up count. A call that raises counts as an error.
    """
    start_at = time.perf_counter() + warmup
    stop_at = start_at + duration
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0

    def worker() -> None:
        nonlocal errors
        call = make_call()
        mine: list[float] = []
        failed = 0
        while True:
            began = time.perf_counter()
            if began >= stop_at:
                break
            try:
                call()
            except Exception:
                failed += 1
                continue
            if began >= start_at:
                mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start_at - time.perf_counter()))
    cpu_before = process_cpu_seconds(server_pid) if server_pid else 0.0
    time.sleep(max(0.0, stop_at - time.perf_counter()))
    cpu_after = process_cpu_seconds(server_pid) if server_pid else 0.0
    for thread in threads:
        thread.join()
    return LoadResult(len(latencies), errors, duration, latencies, cpu_after - cpu_before)


def compare_loads(name: str, ours: LoadResult, base: str, bare: LoadResult) -> list[Result]:
    """Throughput, p50, p99 and server CPU per request of ``ours`` against the baseline ``bare``."""
    return [
        Result.compare(name, ours.per_second, "req/s", base, bare.per_second),
        Result.compare(f"{name}.p50", ours.latency_ms(50), "ms", base, bare.latency_ms(50),
                       lower_is_better=True),
        Result.compare(f"{name}.p99", ours.latency_ms(99), "ms", base, bare.latency_ms(99),
                       lower_is_better=True),
        Result.compare(f"{name}.server_cpu", ours.server_cpu_us_per_request, "us/req", base,
                       bare.server_cpu_us_per_request, lower_is_better=True),
    ]
