"""kit.nats.batch: one endpoint call per batch, a verdict per message, failures isolated."""

from __future__ import annotations

from collections.abc import Sequence

from kit.context import current
from kit.errors import InvalidArgument, Unavailable
from kit.nats.batch import BatchHandler
from kit.nats.handler import ACKED, Verdict
from kit.nats.message import Message, lower_headers
from kit.testing.tracing import RecordingTracer
from kit.tracing import SpanKind

TRACES = ["463ac35c9f6413ad48485a3953bb6124", "5b8aa5a2d2c872e8321cf37308d69df2",
          "e457b5a2e4d86bd1e457b5a2e4d86bd1"]
PARENTS = ["a2fb4a1d1a96d312", "b2fb4a1d1a96d313", "c2fb4a1d1a96d314"]


def message(number: int, data: bytes | None = None) -> Message:
    headers = {"X-B3-TraceId": TRACES[number % 3], "X-B3-SpanId": PARENTS[number % 3],
               "X-B3-Sampled": "1", "Event-Id": f"e-{number}"}
    return Message("ORDERS.created", data if data is not None else str(number).encode(),
                   lower_headers(headers), stream_sequence=number, num_delivered=1)


class Store:
    """A batch endpoint that commits all of a batch or nothing, and refuses data 'poison'."""

    def __init__(self) -> None:
        self.committed: list[str] = []
        self.calls: list[list[str]] = []

    def __call__(self, requests: Sequence[str]) -> None:
        self.calls.append(list(requests))
        if "poison" in requests:
            raise InvalidArgument("poison is not an order")
        self.committed.extend(requests)


def handler(endpoint, tracer=None, observed=None):  # type: ignore[no-untyped-def]
    kwargs = {} if tracer is None else {"tracer": tracer}
    return BatchHandler(endpoint, lambda m: m.data.decode(), stream="ORDERS", consumer="projection",
                        observe=None if observed is None else observed.append, **kwargs)


def test_a_batch_is_one_call_and_every_message_is_acked_and_timed() -> None:
    store, observed = Store(), []
    outcomes = handler(store, observed=observed)([message(n) for n in range(5)])
    assert outcomes == [ACKED] * 5
    assert store.calls == [["0", "1", "2", "3", "4"]]
    assert len(observed) == 5


def test_a_poison_message_is_isolated_and_the_others_commit_once() -> None:
    store = Store()
    batch = [message(0), message(1, b"poison"), message(2)]
    outcomes = handler(store)(batch)
    assert [o.verdict for o in outcomes] == [Verdict.ACK, Verdict.DEAD_LETTER, Verdict.ACK]
    assert outcomes[1].reason == "INVALID_ARGUMENT: poison is not an order"
    assert store.calls == [["0", "poison", "2"], ["0"], ["poison"], ["2"]]
    assert store.committed == ["0", "2"]


def test_a_transient_failure_of_one_message_is_retried_alone() -> None:
    def endpoint(requests: Sequence[str]) -> None:
        if "1" in requests:
            raise Unavailable("its order's history is not there yet", retry_after=2.0)

    outcomes = handler(endpoint)([message(0), message(1), message(2)])
    assert [o.verdict for o in outcomes] == [Verdict.ACK, Verdict.RETRY, Verdict.ACK]
    assert outcomes[1].retry_after == 2.0


def test_an_undecodable_message_is_dead_lettered_and_left_out_of_the_call() -> None:
    store = Store()
    outcomes = handler(store)([message(0), message(1, b"\xff"), message(2)])
    assert [o.verdict for o in outcomes] == [Verdict.ACK, Verdict.DEAD_LETTER, Verdict.ACK]
    assert outcomes[1].reason.startswith("undecodable message: UnicodeDecodeError")
    assert store.calls == [["0", "2"]]


def test_every_message_gets_a_consumer_span_in_its_own_trace() -> None:
    tracer = RecordingTracer()
    seen = {}

    def endpoint(requests: Sequence[str]) -> None:
        if requests == ["1"]:
            raise InvalidArgument("bad")
        seen["trace"] = current().trace
        seen["event-id"] = current().metadata.get("event-id")
        if len(requests) > 1:
            raise Unavailable("batch failed")

    handler(endpoint, tracer=tracer)([message(0), message(1), message(2)])
    spans = sorted(tracer.spans, key=lambda s: s.tags["messaging.stream_sequence"])
    assert [s.kind for s in spans] == [SpanKind.CONSUMER] * 3
    assert [(s.trace_id, s.parent_id) for s in spans] == list(zip(TRACES, PARENTS, strict=True))
    assert [s.tags.get("error") for s in spans] == [None, "INVALID_ARGUMENT: bad", None]
    # The calls run under the first message's span, in the scope of the message they handle.
    assert seen["trace"].span_id == spans[0].span_id
    assert seen["event-id"] == "e-2"
    assert current().trace is None


def test_with_auth_a_message_without_a_valid_token_is_dead_lettered_and_left_out() -> None:
    from kit.auth import BearerAuth, TokenVerifier, hs256_key, mint_token
    from kit.testing.auth import OTHER_SECRET, SECRET

    def signed(number: int, secret: str | None) -> Message:
        base = message(number)
        headers = dict(base.headers)
        if secret is not None:
            headers["authorization"] = f"Bearer {mint_token(secret, subject='relay')}"
        return Message(base.subject, base.data, headers, stream_sequence=number, num_delivered=1)

    store = Store()
    seen_metadata: list[bool] = []

    def endpoint(requests: Sequence[str]) -> None:
        seen_metadata.append("authorization" in current().metadata)
        store(requests)

    handler = BatchHandler(endpoint, lambda m: m.data.decode(), stream="ORDERS", consumer="projection",
                           auth=BearerAuth(TokenVerifier([hs256_key(SECRET)])))
    outcomes = handler([signed(0, SECRET), signed(1, None), signed(2, OTHER_SECRET), signed(3, SECRET)])
    dead = Verdict.DEAD_LETTER
    assert [o.verdict for o in outcomes] == [Verdict.ACK, dead, dead, Verdict.ACK]
    assert all(o.reason.startswith("UNAUTHENTICATED") for o in outcomes[1:3])
    assert store.calls == [["0", "3"]]
    assert seen_metadata == [False]
