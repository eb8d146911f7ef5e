"""The committed ordersvc protobuf modules are exactly what ``proto/ordersvc.proto`` generates."""

from __future__ import annotations

from pathlib import Path

from eventstream.pb import ordersvc_pb2 as pb
from ordersvc import protos


def test_generated_modules_match_the_proto_source(tmp_path: Path) -> None:
    fresh = protos.generate(tmp_path)
    committed = protos.ROOT / protos.PACKAGE_DIR
    assert [p.name for p in fresh] == list(protos.NAMES)
    for path in fresh:
        assert path.read_text() == (committed / path.name).read_text(), (
            f"{path.name} is stale: run python -m ordersvc.protos")


def test_the_service_and_its_package_imports() -> None:
    service = pb.DESCRIPTOR.services_by_name["OrderService"]
    assert service.full_name == "ordersvc.OrderService"
    assert set(service.methods_by_name) == {"CreateOrder", "GetOrder", "ListOrders", "CancelOrder",
                                            "GetOrderEvents"}
    source = (protos.ROOT / protos.PACKAGE_DIR / "ordersvc_pb2_grpc.py").read_text()
    assert "from eventstream.pb import ordersvc_pb2" in source
