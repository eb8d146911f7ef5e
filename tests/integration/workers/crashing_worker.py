"""A payment worker process that is killed (SIGKILL) right after its first effect, before its ack.

Run by the crash test as ``python crashing_worker.py '<settings as JSON>'``: it builds the real
payment worker, with an outermost middleware that lets the endpoint commit its effect (the charge
and ``ORDERS.paymentdebited``) and then kills the process, so the message is never acknowledged.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from decimal import Decimal

from kit.endpoint import Endpoint
from orders.ports import RecordedEvent
from workers.runner import run_worker
from workers.settings import WorkerSettings


def kill_after_effect(endpoint: Endpoint[RecordedEvent, object]) -> Endpoint[RecordedEvent, object]:
    def crashing(event: RecordedEvent) -> object:
        endpoint(event)
        os.kill(os.getpid(), signal.SIGKILL)
        return None

    return crashing


def main() -> None:
    raw = json.loads(sys.argv[1])
    raw["credit_limit"] = Decimal(raw["credit_limit"])
    for key in ("closed_restaurants", "backoff"):
        raw[key] = tuple(raw[key])
    run_worker("payment", WorkerSettings(**raw), wrap=kill_after_effect)


if __name__ == "__main__":
    main()
