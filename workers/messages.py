"""The workers' decoder: a JetStream message of the ``ORDERS`` stream back into a stored event.

The event store's relay publishes each event with its ``event_data`` as the body and its identity
in headers (``eventstoresvc.jetstream``): ``Event-Id``, ``Event-Type``, ``Aggregate-Id``,
``Aggregate-Type``, ``Event-Version``, ``Event-Position``, ``Created-At``, ``Correlation-Id`` and
``Causation-Id``; this is the one decoder of such a message into the shared ``RecordedEvent``
(its stream is the subject's first token). The B3 trace headers are not copied into the event's
metadata: the consumer continues the trace from the headers themselves. A message without an id,
an aggregate or a positive version cannot be an event of the store, so ``decode_event`` raises
``ValueError`` and the consumer dead-letters it at once. The body is not parsed here: each service
reads the data it needs (and refuses data it cannot read as a poison message).
"""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.events import Metadata, RecordedEvent
from kit.nats.message import Message


def _required(message: Message, name: str) -> str:
    value = message.header(name).strip()
    if not value:
        raise ValueError(f"the message has no {name} header")
    return value


def _number(message: Message, name: str, *, minimum: int) -> int:
    text = _required(message, name)
    if not text.isdigit() or int(text) < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {text!r}")
    return int(text)


def _timestamp(text: str) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"Created-At is not an RFC 3339 time: {text!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def decode_event(message: Message) -> RecordedEvent:
    """The stored event a message of the ``ORDERS`` stream carries; ``ValueError`` if it is none."""
    try:
        data = message.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("the message body is not UTF-8 text") from exc
    event_type = message.header("Event-Type") or message.subject
    return RecordedEvent(
        event_id=_required(message, "Event-Id"),
        event_type=event_type,
        aggregate_id=_required(message, "Aggregate-Id"),
        aggregate_type=message.header("Aggregate-Type"),
        event_data=data,
        stream=event_type.partition(".")[0],
        version=_number(message, "Event-Version", minimum=1),
        position=_number(message, "Event-Position", minimum=0),
        created_at=_timestamp(message.header("Created-At")),
        metadata=Metadata(correlation_id=message.header("Correlation-Id"),
                          causation_id=message.header("Causation-Id")),
    )
