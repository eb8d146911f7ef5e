"""kit.nats.deadletter headers and kit.nats.metrics, without a server."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from kit.nats import JetStreamConsumer
from kit.nats.deadletter import (
    REPLAY_FOR,
    REPLAY_OF,
    _dead_letter,
    dead_letter_headers,
    dead_letter_subject,
    replay_headers,
)
from kit.nats.metrics import ConsumerMetrics, DurationHistogram

ORIGINAL = {"Nats-Msg-Id": "e-1", "Event-Id": "e-1", "x-b3-traceid": "abc"}


def test_dead_letter_headers_keep_the_original_ones_and_say_why() -> None:
    headers = dead_letter_headers(ORIGINAL, reason="failed 5 deliveries,\nlast: boom", stream="ORDERS",
                                  subject="ORDERS.created", sequence=42, deliveries=5, consumer="payment")
    assert headers["Event-Id"] == "e-1" and headers["x-b3-traceid"] == "abc"
    assert headers["Kit-Dlq-Reason"] == "failed 5 deliveries, last: boom"  # one header line
    assert headers["Kit-Dlq-Msg-Id"] == "e-1"
    # Its own de-duplication id: the same message dead-lettered twice is stored once, while the
    # same event failing in two consumers is two dead letters.
    assert headers["Nats-Msg-Id"] == "ORDERS.42.payment"
    assert (headers["Kit-Dlq-Stream"], headers["Kit-Dlq-Subject"], headers["Kit-Dlq-Sequence"],
            headers["Kit-Dlq-Deliveries"], headers["Kit-Dlq-Consumer"]) == (
        "ORDERS", "ORDERS.created", "42", "5", "payment")
    assert headers["Kit-Dlq-Failed-At"].endswith("Z")


def test_a_stored_dead_letter_reads_back_with_its_original_headers() -> None:
    headers = dead_letter_headers(ORIGINAL, reason="INVALID_ARGUMENT: bad", stream="ORDERS",
                                  subject="ORDERS.created", sequence=42, deliveries=1, consumer="payment")
    letter = _dead_letter(7, b"{}", headers)
    assert (letter.id, letter.subject, letter.stream, letter.stream_sequence, letter.consumer,
            letter.reason, letter.deliveries) == (7, "ORDERS.created", "ORDERS", 42, "payment",
                                                  "INVALID_ARGUMENT: bad", 1)
    assert letter.failed_at is not None
    assert dict(letter.headers) == ORIGINAL


def test_a_replay_is_addressed_to_the_consumer_that_failed_and_not_a_duplicate() -> None:
    letter = _dead_letter(7, b"{}", dead_letter_headers(
        ORIGINAL, reason="r", stream="ORDERS", subject="ORDERS.created", sequence=42, deliveries=1,
        consumer="payment"))
    headers = replay_headers(letter, "DLQ")
    assert headers[REPLAY_FOR] == "payment" and headers[REPLAY_OF] == "7"
    assert headers["Nats-Msg-Id"] == "e-1.replay.DLQ.7"
    assert headers["Event-Id"] == "e-1"


def test_dead_letter_subject() -> None:
    assert dead_letter_subject("DLQ", "ORDERS", "payment") == "DLQ.ORDERS.payment"


def test_duration_histogram_counts_into_cumulative_buckets() -> None:
    histogram = DurationHistogram((0.01, 0.1))
    for seconds in (0.005, 0.01, 0.05, 3.0):
        histogram.observe(seconds)
    buckets, total = histogram.snapshot()
    assert buckets == [("0.01", 2), ("0.1", 3), ("+Inf", 4)]
    assert total == pytest.approx(3.065)


def test_consumer_metrics_are_exported_per_consumer() -> None:
    registry = CollectorRegistry()
    metrics = ConsumerMetrics("ORDERS", "payment", registry)
    metrics.duration.observe(0.003)
    metrics.acked.inc()
    ConsumerMetrics("ORDERS", "payment", registry)  # a second instance shares the families
    labels = {"stream": "ORDERS", "consumer": "payment"}
    assert registry.get_sample_value("jetstream_consumer_handler_duration_seconds_count", labels) == 1
    assert registry.get_sample_value("jetstream_consumer_handler_duration_seconds_bucket",
                                     {**labels, "le": "0.005"}) == 1
    assert registry.get_sample_value("jetstream_consumer_messages_total",
                                     {**labels, "outcome": "acked"}) == 1


@pytest.mark.parametrize("kwargs", [{"durable": "a.b"}, {"stream": ""}, {"max_concurrency": 0},
                                    {"heartbeat": 40.0}, {"dead_letter_stream": "DLQ>"}])
def test_consumer_refuses_bad_settings(kwargs: dict[str, object]) -> None:
    settings: dict[str, object] = {"nats_url": "nats://127.0.0.1:1", "stream": "ORDERS", "durable": "payment",
                                   "registry": CollectorRegistry(), **kwargs}
    with pytest.raises(ValueError):
        JetStreamConsumer(lambda r: None, lambda m: m, **settings)  # type: ignore[arg-type]
