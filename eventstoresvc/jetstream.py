"""The JetStream side of the event store: the ``ORDERS`` stream and how events become messages.

The stream keeps every event (limits retention, file storage) on subjects ``ORDERS.*``; the subject
is the event type. Its duplicate window (``DUPLICATE_WINDOW``) is how long JetStream remembers a
``Nats-Msg-Id``; the relay re-publishes an event only while its outcome is unknown (a lost ack,
a crash between publish and marking it published), which it resolves within seconds while running
and within a restart otherwise, so two hours leaves a wide margin.

Message format (what consumers read):

- body: the event's ``event_data`` JSON, as the Go original's workers expect;
- headers: ``Nats-Msg-Id`` (= event id, JetStream's de-duplication key), ``Event-Id``,
  ``Event-Type``, ``Aggregate-Id``, ``Aggregate-Type``, ``Event-Version``, ``Event-Position``,
  ``Created-At`` (RFC 3339, UTC), ``Correlation-Id`` / ``Causation-Id`` when set, and the B3 trace
  context (multi-header B3 with lower-case keys, ``x-b3-traceid``, ``x-b3-spanid``, ...,
  written by ``kit.zipkin.b3``): the relay's PRODUCER span, a child of the request that appended
  the event, or that request's span itself when the relay does not trace.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType

from eventstoresvc.domain import RecordedEvent
from kit.context import TraceContext
from kit.nats.streams import ensure_stream_async
from kit.zipkin import b3

STREAM_NAME = "ORDERS"
STREAM_SUBJECTS = ["ORDERS.*"]
DUPLICATE_WINDOW = 2 * 60 * 60.0  # seconds


async def ensure_stream(js: JetStreamContext, *, replicas: int = 1) -> str:
    """Create the stream, or bring the subjects and duplicate window of an existing one in line.

    Returns "created", "updated" or "unchanged". Settings an operator may have tuned (replicas,
    limits) are left as they are on an existing stream.
    """
    return await ensure_stream_async(
        js, STREAM_NAME, STREAM_SUBJECTS, retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
        description="Order events, published by the event store's outbox relay",
        duplicate_window=DUPLICATE_WINDOW, num_replicas=replicas)


def headers(event: RecordedEvent) -> dict[str, str]:
    """The NATS headers of an event's message."""
    found = {
        "Nats-Msg-Id": event.event_id,
        "Event-Id": event.event_id,
        "Event-Type": event.event_type,
        "Aggregate-Id": event.aggregate_id,
        "Aggregate-Type": event.aggregate_type,
        "Event-Version": str(event.version),
        "Event-Position": str(event.position),
        "Created-At": event.created_at.isoformat().replace("+00:00", "Z"),
    }
    meta = event.metadata
    if meta.correlation_id:
        found["Correlation-Id"] = meta.correlation_id
    if meta.causation_id:
        found["Causation-Id"] = meta.causation_id
    if meta.trace_id and meta.span_id:
        trace = TraceContext(
            trace_id=meta.trace_id, span_id=meta.span_id, parent_id=meta.parent_span_id or None,
            sampled=None if meta.sampled == "" else meta.sampled != "0", debug=meta.sampled == "d",
        )
        b3.inject(trace, found)
    return found
