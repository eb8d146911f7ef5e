"""Every span kit emits validates against the Span definition of Zipkin's official API file."""

import json
from pathlib import Path

import pytest

from kit import errors
from kit.testing.tracing import RecordingTracer, SpanSchema
from kit.tracing import SpanKind
from kit.zipkin.encoding import (
    encode_batch,
    py_zipkin_json,
    span_dict,
    span_to_json,
)

# The repository sits at <root>/main and the shared reference files at <root>/shared.
SCHEMA_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "zipkin2-api.yaml"


@pytest.fixture(scope="module")
def schema() -> SpanSchema:
    assert SCHEMA_FILE.is_file(), (
        f"Zipkin's API file is missing at {SCHEMA_FILE}: the shared/ directory must sit beside the "
        "repository checkout")
    return SpanSchema(SCHEMA_FILE)


def emit_all_kinds() -> RecordingTracer:
    tracer = RecordingTracer("OrderSvc", port=3000)
    with tracer.span("POST /orders", SpanKind.SERVER, headers={"b3": "d"}) as server:
        server.tag("http.method", "POST")
        server.tag("http.status_code", "201")
        server.remote_endpoint(ip="10.1.2.3", port=51234)
        with tracer.span("eventstore.EventStore/CreateEvent", SpanKind.CLIENT) as client:
            client.remote_endpoint(service_name="eventstoresvc", ip="::1", port=50051)
            client.tag("rpc.method", "CreateEvent")
        with tracer.span("publish ORDERS.created", SpanKind.PRODUCER) as producer:
            producer.remote_endpoint(service_name="nats", ip="not-an-ip", port=4222)
            producer.tag("messaging.subject", "ORDERS.created")
    with pytest.raises(errors.Unavailable), \
            tracer.span("consume ORDERS.created", SpanKind.CONSUMER, headers={"b3": "1"}) as consumer:
        consumer.remote_endpoint(ip="::ffff:192.168.0.7")
        raise errors.Unavailable("payment gateway down")
    with tracer.span("instant", SpanKind.CLIENT) as instant:
        instant.remote_endpoint(port=0)
    return tracer


def test_every_kind_of_span_validates(schema):
    spans = emit_all_kinds().spans
    encoded = [span_to_json(span) for span in spans]
    assert {span["kind"] for span in encoded} == {"SERVER", "CLIENT", "PRODUCER", "CONSUMER"}
    for span in encoded:
        schema.validate(span)


def test_a_post_body_is_a_valid_list_of_spans(schema):
    body = encode_batch(span_dict(span) for span in emit_all_kinds().spans)
    decoded = json.loads(body)
    assert len(decoded) == 5
    schema.validate_list(decoded)


def test_span_fields_carry_what_was_recorded():
    spans = {span.name: span_to_json(span) for span in emit_all_kinds().spans}
    server = spans["POST /orders"]
    assert server["debug"] is True
    assert server["localEndpoint"] == {"serviceName": "ordersvc", "ipv4": "127.0.0.1", "port": 3000}
    assert server["remoteEndpoint"] == {"ipv4": "10.1.2.3", "port": 51234}
    assert server["tags"] == {"http.method": "POST", "http.status_code": "201"}
    client = spans["eventstore.EventStore/CreateEvent"]
    assert client["parentId"] == server["id"]
    assert client["remoteEndpoint"] == {"serviceName": "eventstoresvc", "ipv6": "::1", "port": 50051}
    assert spans["publish ORDERS.created"]["remoteEndpoint"] == {"serviceName": "nats", "port": 4222}
    consumer = spans["consume ORDERS.created"]
    assert consumer["remoteEndpoint"] == {"ipv4": "192.168.0.7"}
    assert consumer["tags"]["error"] == "UNAVAILABLE: payment gateway down"
    assert "remoteEndpoint" not in spans["instant"]
    assert spans["instant"]["duration"] >= 1


def test_microseconds_survive_encoding_exactly():
    tracer = emit_all_kinds()
    for span in tracer.spans:
        encoded = span_to_json(span)
        assert encoded["timestamp"] == span.timestamp_us
        assert encoded["duration"] == span.duration_us


def test_the_schema_check_catches_a_broken_span(schema):
    assert schema.errors({"traceId": "XYZ", "id": "1", "duration": 0, "kind": "LOCAL"})
    with pytest.raises(AssertionError, match="breaks the Zipkin schema"):
        schema.validate({"traceId": "463ac35c9f6413ad", "id": "a2fb4a1d1a96d312",
                         "localEndpoint": {"ipv4": "999.1.1.1"}})


def test_the_lean_encoding_equals_py_zipkins_for_every_span(schema):
    for span in emit_all_kinds().spans:
        ours = span_to_json(span)
        reference = py_zipkin_json(span)
        # py-zipkin's V2 encoder leaves out the debug flag; everything else must match exactly.
        assert {key: value for key, value in ours.items() if key != "debug"} == reference
        schema.validate(reference)


def test_a_batch_body_equals_the_spans_encoded_one_by_one():
    spans = emit_all_kinds().spans
    assert json.loads(encode_batch(span_dict(span) for span in spans)) == [
        span_to_json(span) for span in spans]
