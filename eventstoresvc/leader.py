"""Run the outbox relay on exactly one replica at a time: the one holding the relay lease.

Every replica runs a ``RelayLeadership``. A follower tries to acquire the lease every
``ttl / 3`` seconds; once it has it, it starts an ``OutboxRelay`` bound to the lease's fence and
renews the lease at the same pace. The relay checks the fence before every message it sends and
carries it into every checkpoint update, so a leader that is paused, partitioned or slow to renew
stops on its own before its lease can lapse in the database, and a late checkpoint update from it
changes nothing. When a renewal fails, or the relay stopped because its fence ran out, the replica
steps down and becomes a follower again; a new leader resumes from the checkpoint. Takeover after
a leader dies takes at most ``ttl`` plus one acquisition interval.

Metrics: ``eventstore_relay_leader`` (1 while this replica leads) and
``eventstore_relay_leadership_changes_total`` (how often it became or stopped being the leader);
each change is logged once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from eventstoresvc.lease import SAFETY, Fence, RelayLease
from eventstoresvc.relay import OutboxRelay
from kit.registries import per_registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaderMetrics:
    """Whether this replica leads the relay, and how often that changed."""

    leader: Gauge
    changes: Counter


@per_registry
def leader_metrics(registry: CollectorRegistry = REGISTRY) -> LeaderMetrics:
    """The leadership metrics registered in ``registry`` (created on first use, shared afterwards)."""
    return LeaderMetrics(
        leader=Gauge("eventstore_relay_leader", "1 while this replica's relay holds the lease",
                     registry=registry),
        changes=Counter("eventstore_relay_leadership_changes",
                        "Times this replica became or stopped being the relay leader", registry=registry),
    )


class RelayLeadership:
    """The relay of this replica, running only while the replica holds ``lease``."""

    def __init__(self, lease: RelayLease, make_relay: Callable[..., OutboxRelay], *,
                 registry: CollectorRegistry = REGISTRY) -> None:
        self._lease = lease
        self._make_relay = make_relay
        self.metrics = leader_metrics(registry)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._fence: Fence | None = None
        self.relay: OutboxRelay | None = None  # the running relay while leading

    @property
    def leading(self) -> bool:
        """Whether this replica holds the lease and runs the relay."""
        return self._fence is not None and self._fence.holds()

    def start(self) -> None:
        """Start competing for the lease in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="relay-leadership", daemon=True)
            self._thread.start()

    def stop(self, flush_timeout: float = 5.0) -> None:
        """Stop competing; a leader renews once, flushes for what the lease allows, then releases."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        fence, relay = self._fence, self.relay
        if fence is None or relay is None:
            return
        try:
            renewed = self._lease.renew(fence)
        except Exception as exc:
            log.warning("cannot renew the relay lease to flush: %s", exc)
            renewed = False
        relay.stop(flush_timeout=min(flush_timeout, self._lease.ttl * (1 - SAFETY)) if renewed else 0)
        try:
            self._lease.release(fence)
        except Exception as exc:
            log.warning("cannot release the relay lease (it expires in %.1fs): %s", self._lease.ttl, exc)
        self._left("this replica is stopping", logging.INFO)

    def _run(self) -> None:
        interval = self._lease.ttl / 3
        while not self._stopping.is_set():
            try:
                if self._fence is None:
                    self._try_to_lead()
                else:
                    self._keep_leading()
            except Exception as exc:  # the database is unreachable: a leader stops once its fence runs out
                log.warning("relay lease: %s", exc)
                if self._fence is not None and not self._fence.holds():
                    self._step_down("its lease could not be renewed in time")
            self._stopping.wait(interval)

    def _try_to_lead(self) -> None:
        fence = self._lease.acquire()
        if fence is None:
            return
        self._fence = fence
        self.relay = self._make_relay(fence=fence)
        self.relay.start()
        self.metrics.leader.set(1)
        self.metrics.changes.inc()
        log.info("this replica now leads the outbox relay (lease token %d, holder %s)",
                 fence.token, self._lease.holder)

    def _keep_leading(self) -> None:
        assert self._fence is not None
        if self.relay is None or not self.relay.alive:
            self._step_down("its relay stopped (its lease ran out before it was renewed)")
        elif not self._lease.renew(self._fence):
            self._step_down("another replica holds the lease")

    def _step_down(self, reason: str) -> None:
        if self._fence is not None:
            self._fence.lose()
        if self.relay is not None:
            started = time.monotonic()
            self.relay.stop(flush_timeout=0)
            log.debug("relay stopped in %.3fs", time.monotonic() - started)
        self._left(reason)

    def _left(self, reason: str, level: int = logging.WARNING) -> None:
        self._fence = None
        self.relay = None
        self.metrics.leader.set(0)
        self.metrics.changes.inc()
        log.log(level, "this replica no longer leads the outbox relay: %s", reason)
