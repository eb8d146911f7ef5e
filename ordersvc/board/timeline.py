"""One order's timeline: its events with their times, its saga, and a link to its trace.

The events come from the event store (``GetEvents`` by aggregate id). The saga is the saga
worker's record in the orders database (``saga_instances`` and ``saga_transitions``, created by
``workers.schema``; read here by table name, since the order service does not depend on the
workers): its state, and each handled event with the steps it took; a refund is the saga's
compensation. The trace is the one of the request that created the order: the B3 trace id the
store keeps in the event's metadata, linked to the Zipkin UI at the configured Zipkin URL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from eventstoresvc.client import EventStoreClient
from eventstoresvc.domain import EventQuery
from kit.errors import NotFound
from kit.zipkin.server import trace_url
from orders import jsontext
from orders.domain import is_order_id
from orders.events import PaymentRefunded

COMPENSATIONS = frozenset({PaymentRefunded.TYPE})

_SAGA = text("SELECT state, order_version, started_at, updated_at FROM saga_instances "
             "WHERE order_id = :order_id")
_STEPS = text("SELECT handled_event_type, state, actions, recorded_at FROM saga_transitions "
              "WHERE order_id = :order_id ORDER BY id")


def _time(value: Any) -> str:
    return jsontext.timestamp(value) if hasattr(value, "astimezone") else str(value)


def saga(engine: Engine, order_id: str) -> dict[str, Any] | None:
    """The order's saga state and steps, or None (no saga recorded, or no saga tables here)."""
    try:
        with engine.connect() as conn:
            found = conn.execute(_SAGA, {"order_id": order_id}).first()
            steps = conn.execute(_STEPS, {"order_id": order_id}).all() if found else []
    except SQLAlchemyError:
        return None
    if found is None:
        return None
    history = []
    compensations = []
    for handled, state, actions, recorded_at in steps:
        taken = [a for a in str(actions or "").split(",") if a]
        history.append({"handled": handled, "state": state, "actions": taken,
                        "recorded_at": _time(recorded_at)})
        compensations += [a for a in taken if a in COMPENSATIONS]
    return {"state": found[0], "order_version": int(found[1]), "started_at": _time(found[2]),
            "updated_at": _time(found[3]), "history": history, "compensations": compensations}


def timeline(client: EventStoreClient, engine: Engine, order_id: str,
             zipkin_url: str | None) -> dict[str, Any]:
    """Everything the board shows about one order; ``NotFound`` if it has no events."""
    stored = client.get_events(EventQuery(aggregate_id=order_id)) if is_order_id(order_id) else []
    if not stored:
        raise NotFound(f"order {order_id} not found")
    trace_id = stored[0].metadata.trace_id
    return {
        "order_id": order_id,
        "events": [{"event_type": e.event_type, "version": e.version, "position": e.position,
                    "created_at": jsontext.timestamp(e.created_at),
                    "trace_id": e.metadata.trace_id} for e in sorted(stored, key=lambda e: e.version)],
        "saga": saga(engine, order_id),
        "trace_id": trace_id,
        "trace_url": trace_url(zipkin_url, trace_id) if zipkin_url and trace_id else None,
    }
