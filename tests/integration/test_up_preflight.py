"""`eventstream up` checks ports and external servers first and says what is wrong in one line."""

import socket
from pathlib import Path

from eventstream import preflight
from eventstream.topology import Topology
from kit.testing.net import free_port


def topology(tmp_path: Path, **overrides) -> Topology:
    settings = dict(http_port=free_port(), grpc_port=free_port(), nats_port=free_port(), nats_url="",
                    db_url="", orders_db_url="", zipkin_url="", workers=1, data_dir=tmp_path,
                    workers_names=("payment", "projection"))
    settings.update(overrides)
    return Topology.build(**settings)


def test_defaults_are_embedded_and_under_the_data_dir(tmp_path):
    top = topology(tmp_path)
    assert top.embedded_nats
    assert top.nats_url == f"nats://127.0.0.1:{top.nats_port}"
    assert top.db_url == f"sqlite:///{tmp_path.resolve() / 'eventstore.db'}"
    assert top.orders_db_url == f"sqlite:///{tmp_path.resolve() / 'orders.db'}"
    assert top.orders_grpc_port == top.grpc_port + 1


def test_every_port_is_distinct(tmp_path):
    top = topology(tmp_path, workers=3, http_port=3000, grpc_port=50051, nats_port=4222)
    ports = list(top.ports().values())
    assert len(ports) == len(set(ports))
    assert top.ports()["NATS monitoring"] == 8222


def test_all_clear_when_ports_are_free(tmp_path):
    assert preflight.check(topology(tmp_path)) is None


def test_a_port_in_use_is_named(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        problem = preflight.check(topology(tmp_path, http_port=port))
    assert problem == f"port {port} (HTTP) is already in use"


def test_an_unreachable_external_nats_is_named(tmp_path):
    url = f"nats://127.0.0.1:{free_port()}"
    top = topology(tmp_path, nats_url=url)
    assert not top.embedded_nats
    assert preflight.check(top) == f"cannot reach the NATS server at {url}"


def test_an_unreachable_database_is_named_without_its_password(tmp_path):
    url = f"postgresql+psycopg://app:s3cret@127.0.0.1:{free_port()}/orders"
    problem = preflight.check(topology(tmp_path, db_url=url))
    assert problem is not None
    assert problem.startswith("cannot connect to database postgresql+psycopg://app:***@127.0.0.1:")
    assert "s3cret" not in problem
    assert "\n" not in problem
