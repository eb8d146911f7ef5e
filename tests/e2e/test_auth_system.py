"""`eventstream up` with EVENTSTREAM_AUTH_SECRET: only authenticated, authorized requests are served,
orders still reach their final state, and no token or secret reaches a log line. With a public key
instead (ES256), tokens are signed elsewhere: the processes send the service token they are given."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from e2e_system import System, check_outcome
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contracts import eventstore_pb2 as es_pb
from contracts import eventstore_pb2_grpc as es_grpc
from contracts import ordersvc_pb2 as pb
from contracts import ordersvc_pb2_grpc as pb_grpc
from kit.testing.auth import ec_pair, private_pem_of

JWT = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}")
"""What any compact JWS looks like: a base64url JSON header starting ``{"``, a dot, the claims."""


def mint(secret: str, sub: str, *scopes: str, private_key: Path | None = None) -> str:
    """A token from `eventstream token`, the way an operator would mint one: HS256 from ``secret``,
    or signed with ``private_key``."""
    args = [sys.executable, "-m", "eventstream", "token", "--sub", sub, "--ttl", "30m"]
    for scope in scopes:
        args += ["--scope", scope]
    if private_key is not None:
        args += ["--private-key", str(private_key)]
    env = {**os.environ, "EVENTSTREAM_AUTH_SECRET": "" if private_key else secret}
    return subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout.strip()


def page_status(system: System, path: str, token: str) -> int:
    request = urllib.request.Request(system.base_url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def refused_code(call: object, *args: object, **kwargs: object) -> grpc.StatusCode:
    try:
        call(*args, **kwargs)  # type: ignore[operator]
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    raise AssertionError("the call was not refused")


def test_with_a_secret_every_request_needs_a_token_and_orders_still_reach_approved(tmp_path):
    secret = secrets.token_urlsafe(48)
    system = System(tmp_path / "system", env={"EVENTSTREAM_AUTH_SECRET": secret,
                                              "EVENTSTREAM_LOG_LEVEL": "INFO"})
    customer = mint(secret, system.customer_id)
    other = mint(secret, "someone-else")
    admin = mint(secret, "operator", "orders:admin")
    system.headers = {"Authorization": f"Bearer {customer}"}
    system.start()
    try:
        orders = system.place_many(5, concurrency=5)
        check_outcome(system, orders)  # HTTP -> event store -> workers -> Approved / Rejected
        order_id = next(o.order_id for o in orders if o.kind == "approve")

        assert system.request("GET", f"/api/orders/{order_id}", headers={"Authorization": ""})[0] == 401
        assert system.request("GET", f"/api/orders/{order_id}",
                              headers={"Authorization": f"Bearer {other}"})[0] == 404
        status, reply = system.request("GET", f"/api/orders/{order_id}",
                                       headers={"Authorization": f"Bearer {admin}"})
        assert status == 200 and reply["status"] == "Approved"
        assert page_status(system, "/board", customer) == 403
        assert page_status(system, "/board", admin) == 200

        orders_channel = grpc.insecure_channel(f"127.0.0.1:{system.grpc_port + 1}")
        store_channel = grpc.insecure_channel(f"127.0.0.1:{system.grpc_port}")
        try:
            stub = pb_grpc.OrderServiceStub(orders_channel)
            get = pb.GetOrderRequest(order_id=order_id)
            assert refused_code(stub.GetOrder, get, timeout=10) == grpc.StatusCode.UNAUTHENTICATED
            assert refused_code(stub.GetOrder, get, timeout=10, metadata=[
                ("authorization", f"Bearer {other}")]) == grpc.StatusCode.NOT_FOUND
            assert stub.GetOrder(get, timeout=10, metadata=[("authorization", f"Bearer {customer}")])

            store = es_grpc.EventStoreStub(store_channel)
            append = es_pb.CreateEventRequest(event=es_pb.Event(
                event_id="forged-1", event_type="ORDERS.approved", aggregate_id=order_id,
                aggregate_type="order", event_data="{}"))
            # a process without a service token (a worker started without one, say) may not append
            assert refused_code(store.CreateEvent, append, timeout=10) == grpc.StatusCode.UNAUTHENTICATED
            assert refused_code(store.CreateEvent, append, timeout=10, metadata=[
                ("authorization", f"Bearer {customer}")]) == grpc.StatusCode.PERMISSION_DENIED
            health = health_pb2_grpc.HealthStub(store_channel)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
                health_pb2.HealthCheckResponse.SERVING
        finally:
            orders_channel.close()
            store_channel.close()
        types = [event["event_type"] for event in system.events(order_id)]
        assert types == ["ORDERS.created", "ORDERS.paymentdebited", "ORDERS.approved"]
    finally:
        code = system.stop()
    assert code == 0, system.log()
    log = system.log(tail=None)
    assert "GetOrder" in log or "get_order" in log.lower() or "/api/orders" in log, "no request was logged"
    assert secret not in log
    for value in (customer, other, admin):
        assert value not in log and value.rsplit(".", 1)[1] not in log
    assert not JWT.search(log), "a token (the processes' own service tokens included) was logged"


def test_with_a_public_key_tokens_signed_elsewhere_are_served_and_others_refused(tmp_path):
    key, public_pem = ec_pair()
    private, public, service = tmp_path / "signing.pem", tmp_path / "verify.pem", tmp_path / "service.jwt"
    private.write_bytes(private_pem_of(key))
    public.write_bytes(public_pem)
    service.write_text(mint("", "eventstream-services", "service", private_key=private))
    system = System(tmp_path / "system", env={"EVENTSTREAM_AUTH_SECRET": "",
                                              "EVENTSTREAM_AUTH_PUBLIC_KEY": str(public),
                                              "EVENTSTREAM_SERVICE_TOKEN_FILE": str(service)})
    customer = mint("", system.customer_id, private_key=private)
    system.headers = {"Authorization": f"Bearer {customer}"}
    system.start()
    try:
        orders = system.place_many(3, concurrency=3)
        check_outcome(system, orders)  # the processes reach the event store with the given token
        order_id = orders[0].order_id
        assert system.request("GET", f"/api/orders/{order_id}")[0] == 200
        # HS256 with a secret of our own, or a key the service does not trust: refused alike
        hs256 = mint(secrets.token_urlsafe(48), system.customer_id)
        stranger_key = tmp_path / "stranger.pem"
        stranger_key.write_bytes(private_pem_of(ec_pair()[0]))
        for token in (hs256, mint("", system.customer_id, private_key=stranger_key)):
            assert system.request("GET", f"/api/orders/{order_id}",
                                  headers={"Authorization": f"Bearer {token}"})[0] == 401
    finally:
        code = system.stop()
    assert code == 0, system.log()
    assert not JWT.search(system.log(tail=None)), "a token was logged"
