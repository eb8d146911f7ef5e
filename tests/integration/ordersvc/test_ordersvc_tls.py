"""The services over mutual TLS: an ``eventstoresvc`` process given EVENTSTREAM_TLS_* and a secret
serves only mTLS clients with a service token, and the order service reaches it with its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ordersvc_servers import database_urls, start_orders

from contracts import eventstore_pb2 as pb
from contracts import eventstore_pb2_grpc as pb_grpc
from kit.auth import mint_token
from kit.auth.settings import AuthSettings
from kit.grpc import ClientTLS, dial
from kit.testing.auth import SECRET
from kit.testing.nats import NatsServer
from kit.testing.net import free_port, wait_for_port
from kit.testing.tls import TestPKI, make_pki
from kit.testing.wait import eventually


@pytest.fixture
def pki(tmp_path: Path) -> TestPKI:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_eventstore(request: pytest.FixtureRequest, tmp_path: Path, nats_server: NatsServer,
                   pki: TestPKI) -> Iterator[tuple[str, str]]:
    """(address, orders database URL) of an eventstoresvc process serving mutual TLS with auth on."""
    nats_server.start()
    with database_urls("sqlite", request, tmp_path) as (events_url, orders_url):
        port = free_port()
        env = {**os.environ, "EVENTSTREAM_AUTH_SECRET": SECRET,
               "EVENTSTREAM_TLS_CERT": str(pki.server.cert), "EVENTSTREAM_TLS_KEY": str(pki.server.key),
               "EVENTSTREAM_TLS_CA": str(pki.ca.cert)}
        process = subprocess.Popen(
            [sys.executable, "-m", "eventstream", "eventstoresvc", "--port", str(port),
             "--db-url", events_url, "--nats-url", nats_server.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            wait_for_port(port, timeout=30)
            yield f"127.0.0.1:{port}", orders_url
        finally:
            process.terminate()
            process.wait(timeout=30)


def mtls(pki: TestPKI, *, cert: bool = True) -> ClientTLS:
    return ClientTLS(ca=pki.ca.cert, cert=pki.client.cert if cert else None,
                     key=pki.client.key if cert else None)


def append(channel: grpc.Channel, token: str | None, event_id: str = "tls-1") -> object:
    request = pb.CreateEventRequest(event=pb.Event(
        event_id=event_id, event_type="ORDERS.created", aggregate_id=f"agg-{event_id}",
        aggregate_type="order", event_data="{}"))
    metadata = None if token is None else [("authorization", f"Bearer {token}")]
    return pb_grpc.EventStoreStub(channel).CreateEvent(request, metadata=metadata, timeout=10)


def serving(channel: grpc.Channel) -> bool:
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def test_the_event_store_process_serves_only_mutual_tls_clients_with_a_service_token(
        tls_eventstore: tuple[str, str], pki: TestPKI) -> None:
    address, _ = tls_eventstore
    service = mint_token(SECRET, subject="payment-worker", scopes=["service"])
    good = dial(address, tls=mtls(pki))
    try:
        eventually(lambda: serving(good), timeout=30)
        assert append(good, service)
        with pytest.raises(grpc.RpcError) as no_token:
            append(good, None, "tls-2")
        assert no_token.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        good.close()
    for refused in (grpc.insecure_channel(address), dial(address, tls=mtls(pki, cert=False)),
                    dial(address, tls=ClientTLS(ca=pki.other_ca.cert))):
        try:
            with pytest.raises(grpc.RpcError) as caught:
                append(refused, service, "tls-3")
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            refused.close()


def test_the_order_service_places_orders_through_the_tls_event_store(
        tls_eventstore: tuple[str, str], pki: TestPKI) -> None:
    address, orders_url = tls_eventstore
    probe = dial(address, tls=mtls(pki))
    try:
        eventually(lambda: serving(probe), timeout=30)
    finally:
        probe.close()
    auth = AuthSettings(secret=SECRET)
    for orders in start_orders(address, orders_url, auth, client_tls=mtls(pki)):
        token = mint_token(SECRET, subject="cust-1")
        created = orders.request("POST", "/api/orders", {
            "customer_id": "cust-1", "restaurant_id": "rest-1",
            "order_items": [{"code": "p-1", "name": "Pizza", "unit_price": "12.50", "quantity": 2}],
        }, {"Authorization": f"Bearer {token}"})
        assert created.status == 201, created.data
        order_id = created.json()["order_id"]
        events = orders.request("GET", f"/api/orders/{order_id}/events",
                                headers={"Authorization": f"Bearer {token}"})
        assert [e["event_type"] for e in events.json()["events"]] == ["ORDERS.created"]
