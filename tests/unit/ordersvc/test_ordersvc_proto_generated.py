"""The order service's gRPC contract: its service, methods and package-qualified imports.

That the committed modules match the ``.proto`` sources is checked for every proto in
``tests/unit/eventstore/test_eventstore_proto_generated.py``.
"""

from __future__ import annotations

from contracts import generate
from contracts import ordersvc_pb2 as pb


def test_the_service_and_its_package_imports() -> None:
    service = pb.DESCRIPTOR.services_by_name["OrderService"]
    assert service.full_name == "ordersvc.OrderService"
    assert set(service.methods_by_name) == {"CreateOrder", "GetOrder", "ListOrders", "CancelOrder",
                                            "GetOrderEvents"}
    source = (generate.ROOT / generate.PACKAGE_DIR / "ordersvc_pb2_grpc.py").read_text()
    assert "from contracts import ordersvc_pb2" in source
