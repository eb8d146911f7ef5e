"""Validation of appends and queries: bad input is rejected with field-level details, nothing stored.

Field paths follow the wire names (``event.event_type``), so a gRPC or HTTP client sees which of its
fields is wrong. Validation also normalises: an empty ``stream`` is derived from ``event_type``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from eventstoresvc.domain import Append, Event, EventQuery, Expectation, ExpectedVersion, Metadata
from kit.errors import FieldViolation, InvalidArgument

DEFAULT_MAX_DATA_BYTES = 64 * 1024
DEFAULT_MAX_BATCH_EVENTS = 1000
MAX_ID_LENGTH = 128

# Ids travel in NATS headers and log lines: printable, no whitespace, no header separators.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=~-]*")
# A NATS subject token may not contain '.', '*', '>' or whitespace.
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class Limits:
    """What the store accepts: known streams, the largest ``event_data``, the most events per batch."""

    streams: frozenset[str] = frozenset({"ORDERS"})
    max_data_bytes: int = DEFAULT_MAX_DATA_BYTES
    max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS


def _check_id(field: str, value: str, problems: list[FieldViolation], *, required: bool = True) -> None:
    if not value:
        if required:
            problems.append(FieldViolation(field, "is required"))
        return
    if len(value) > MAX_ID_LENGTH:
        problems.append(FieldViolation(field, f"is longer than {MAX_ID_LENGTH} characters"))
    elif not _ID.fullmatch(value):
        problems.append(FieldViolation(field, "must be letters, digits and ._:@/+=~- without spaces"))


def _check_event_type(event: Event, limits: Limits, problems: list[FieldViolation]) -> str:
    """Check ``event_type`` and ``stream``; return the stream the event belongs to."""
    stream, dot, name = event.event_type.partition(".")
    if not event.event_type:
        problems.append(FieldViolation("event.event_type", "is required"))
    elif len(event.event_type) > MAX_ID_LENGTH:
        problems.append(FieldViolation("event.event_type", f"is longer than {MAX_ID_LENGTH} characters"))
    elif not dot or not _TOKEN.fullmatch(name):
        problems.append(FieldViolation("event.event_type", "must be <STREAM>.<name>, e.g. ORDERS.created"))
    elif stream not in limits.streams:
        known = ", ".join(sorted(limits.streams))
        problems.append(FieldViolation("event.event_type", f"unknown stream {stream!r} (known: {known})"))
    if event.stream and event.stream != stream:
        problems.append(FieldViolation("event.stream", f"must be empty or match event_type ({stream!r})"))
    return stream


def _check_data(data: str, limits: Limits, problems: list[FieldViolation]) -> None:
    if not data:
        problems.append(FieldViolation("event.event_data", "is required"))
        return
    size = len(data.encode("utf-8"))
    if size > limits.max_data_bytes:
        problems.append(FieldViolation("event.event_data", f"is {size} bytes, over {limits.max_data_bytes}"))
        return
    try:
        parsed = json.loads(data)
    except ValueError:
        problems.append(FieldViolation("event.event_data", "is not valid JSON"))
        return
    if not isinstance(parsed, dict):
        problems.append(FieldViolation("event.event_data", "must be a JSON object"))


def _check_metadata(meta: Metadata, problems: list[FieldViolation]) -> None:
    _check_id("event.metadata.correlation_id", meta.correlation_id, problems, required=False)
    _check_id("event.metadata.causation_id", meta.causation_id, problems, required=False)
    for name, value, sizes in (
        ("trace_id", meta.trace_id, (16, 32)),
        ("span_id", meta.span_id, (16,)),
        ("parent_span_id", meta.parent_span_id, (16,)),
    ):
        if value and (len(value) not in sizes or not _HEX.fullmatch(value)):
            problems.append(FieldViolation(f"event.metadata.{name}", "must be lower-case hex (B3)"))
    if meta.sampled not in ("", "0", "1", "d"):
        problems.append(FieldViolation("event.metadata.sampled", 'must be "", "0", "1" or "d"'))
    if bool(meta.trace_id) != bool(meta.span_id):
        problems.append(FieldViolation("event.metadata.span_id", "trace_id and span_id go together"))


def validate_append(event: Event, expected: ExpectedVersion, limits: Limits) -> Event:
    """Check an append; return the event normalised (stream filled in) or raise ``InvalidArgument``."""
    problems: list[FieldViolation] = []
    _check_id("event.event_id", event.event_id, problems)
    stream = _check_event_type(event, limits, problems)
    _check_id("event.aggregate_id", event.aggregate_id, problems)
    _check_id("event.aggregate_type", event.aggregate_type, problems)
    _check_data(event.event_data, limits, problems)
    _check_metadata(event.metadata, problems)
    if expected.kind is Expectation.EXACT and expected.version < 0:
        problems.append(FieldViolation("expected_version.version", "must not be negative"))
    if problems:
        raise InvalidArgument(fields=problems)
    return replace(event, stream=stream)


def validate_batch(items: Sequence[Append], limits: Limits) -> list[Append]:
    """Check every item of a batch append; return them normalised or raise ``InvalidArgument``.

    Violations name the item (``items.3.event.event_type``); an event id repeated inside the batch
    is one (``items.3.event.event_id``: it repeats an earlier item), because the two appends could
    only be one event stored once or a conflict with itself.
    """
    if not items:
        raise InvalidArgument.for_field("items", "must not be empty")
    if len(items) > limits.max_batch_events:
        raise InvalidArgument.for_field(
            "items", f"has {len(items)} items, over the limit of {limits.max_batch_events}")
    problems: list[FieldViolation] = []
    normalised: list[Append] = []
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        try:
            event = validate_append(item.event, item.expected, limits)
        except InvalidArgument as exc:
            problems.extend(FieldViolation(f"items.{i}.{f.field}", f.message) for f in exc.fields)
            continue
        seen = first.setdefault(event.event_id, i)
        if seen != i:
            problems.append(FieldViolation(f"items.{i}.event.event_id", f"repeats items.{seen}"))
        normalised.append(replace(item, event=event))
    if problems:
        raise InvalidArgument(fields=problems)
    return normalised


def validate_query(query: EventQuery) -> EventQuery:
    """Check a query or raise ``InvalidArgument``."""
    problems: list[FieldViolation] = []
    _check_id("event_id", query.event_id, problems, required=False)
    _check_id("aggregate_id", query.aggregate_id, problems, required=False)
    for i, event_type in enumerate(query.event_types):
        if not event_type or len(event_type) > MAX_ID_LENGTH:
            problems.append(FieldViolation(f"event_types.{i}", "must be a non-empty event type"))
    if query.from_position < 0:
        problems.append(FieldViolation("from_position", "must not be negative"))
    if query.limit is not None and query.limit < 1:
        problems.append(FieldViolation("limit", "must be positive (or absent for no limit)"))
    if problems:
        raise InvalidArgument(fields=problems)
    return query
