"""The settings of one pull loop, and the counts it keeps across runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kit.nats.security import NatsSecurity
from kit.nats.settlement import SettlementPolicy


@dataclass(frozen=True)
class Settings:
    """What a pull loop needs to know about its consumer."""

    nats_url: str
    stream: str
    durable: str
    name: str
    filter_subjects: Sequence[str]
    max_concurrency: int
    max_deliver: int
    ack_wait: float
    backoff: Sequence[float]
    heartbeat: float
    dead_letter_stream: str
    batch: int
    fetch_wait: float = 0.5
    lag_interval: float = 5.0
    max_reconnect_backoff: float = 5.0
    settlement: SettlementPolicy | None = None  # None: DeadLetterAfter(max_deliver, backoff)
    max_batch: int = 1  # messages per call of a batch handler
    security: NatsSecurity | None = None  # None: from the environment (kit.nats.security)


@dataclass
class Tally:
    """Counts kept across runs (read from other threads: plain ints, written by the loop only)."""

    acked: int = 0
    dead_lettered: int = 0
    naks: int = 0
