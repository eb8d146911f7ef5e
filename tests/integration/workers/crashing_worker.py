"""A worker process that is killed (SIGKILL) right after its first effect, before its ack.

Run by the crash tests as ``python crashing_worker.py '<settings as JSON>' [worker]``: it builds the
real worker (payment by default), with an outermost middleware that lets the endpoint commit its
effect (for payment the charge and ``ORDERS.paymentdebited``; for the projection a whole batch in
the read model) and then kills the process, so the messages are never acknowledged.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from decimal import Decimal
from typing import Any

from kit.auth.settings import AuthSettings
from kit.endpoint import Endpoint
from workers.runner import run_worker
from workers.settings import WorkerSettings


def kill_after_effect(endpoint: Endpoint[Any, object]) -> Endpoint[Any, object]:
    def crashing(request: Any) -> object:
        endpoint(request)
        os.kill(os.getpid(), signal.SIGKILL)
        return None

    return crashing


def main() -> None:
    raw = json.loads(sys.argv[1])
    raw["credit_limit"] = Decimal(raw["credit_limit"])
    for key in ("closed_restaurants", "backoff"):
        raw[key] = tuple(raw[key])
    raw["auth"] = AuthSettings(**raw["auth"])  # the harness runs open: no secret to rebuild
    raw["client_tls"] = None
    run_worker(sys.argv[2] if len(sys.argv) > 2 else "payment", WorkerSettings(**raw),
               wrap=kill_after_effect)


if __name__ == "__main__":
    main()
