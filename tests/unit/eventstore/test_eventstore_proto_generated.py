"""The committed generated modules are exactly what the .proto sources generate, and wire-compatible."""

from __future__ import annotations

from pathlib import Path

from contracts import eventstore_pb2 as pb
from contracts import generate


def test_generated_modules_match_the_proto_sources(tmp_path: Path) -> None:
    fresh = generate.generate(tmp_path)
    assert {p.name for p in fresh} == {
        f"{name}{suffix}" for name in ("eventstore", "ordersvc")
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")}
    committed = generate.ROOT / generate.PACKAGE_DIR
    for path in fresh:
        assert path.read_text() == (committed / path.name).read_text(), (
            f"{path.name} is stale: run python -m contracts.generate")


def test_the_grpc_module_imports_its_messages_by_package() -> None:
    source = (generate.ROOT / generate.PACKAGE_DIR / "eventstore_pb2_grpc.py").read_text()
    assert "from contracts import eventstore_pb2" in source


def test_go_original_field_numbers_are_kept() -> None:
    assert pb.DESCRIPTOR.package == "eventstore"
    numbers = {f.name: f.number for f in pb.Event.DESCRIPTOR.fields}
    assert {k: numbers[k] for k in ("event_id", "event_type", "aggregate_id", "aggregate_type",
                                    "event_data", "stream")} == {
        "event_id": 1, "event_type": 2, "aggregate_id": 3, "aggregate_type": 4, "event_data": 5, "stream": 6}
    assert pb.CreateEventRequest.DESCRIPTOR.fields_by_name["event"].number == 1
    response = pb.CreateEventResponse.DESCRIPTOR.fields_by_name
    assert (response["is_success"].number, response["error"].number) == (1, 2)
    request = pb.GetEventsRequest.DESCRIPTOR.fields_by_name
    assert (request["event_id"].number, request["aggregate_id"].number) == (1, 2)
    assert pb.GetEventsResponse.DESCRIPTOR.fields_by_name["events"].number == 1
    service = pb.DESCRIPTOR.services_by_name["EventStore"]
    assert service.full_name == "eventstore.EventStore"
    stream = service.methods_by_name["GetEventsStream"]
    assert stream.output_type.full_name == "eventstore.Event"
