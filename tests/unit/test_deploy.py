"""deploy/ cannot run here (no Docker engine), so its files are checked against the real CLI."""

import re
from pathlib import Path

import click
import pytest
import yaml

from eventstream.cli import main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def eventstream_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items()
            if svc.get("image") == "eventstream:latest"}


def resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    """The click command an argv names (through groups), and the rest of the argv."""
    command: click.Command = main
    ctx = click.Context(main)
    while isinstance(command, click.Group) and args:
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"no subcommand {args[0]!r}"
        command, args = sub, args[1:]
    return command, args


def options_of(command: click.Command) -> dict[str, click.Parameter]:
    return {opt: p for p in command.params for opt in getattr(p, "opts", [])}


def envvars_of(command: click.Command) -> set[str]:
    return {p.envvar for p in command.params if isinstance(p, click.Option) and isinstance(p.envvar, str)}


def test_compose_has_three_node_clusters_and_zipkin(compose):
    services = compose["services"]
    assert {f"roach-{i}" for i in (1, 2, 3)} <= set(services)
    assert {f"nats-{i}" for i in (1, 2, 3)} <= set(services)
    assert "zipkin" in services and "roach-init" in services
    for i in (1, 2, 3):
        join = re.search(r"--join=(\S+)", services[f"roach-{i}"]["command"]).group(1)
        assert set(join.split(",")) == {"roach-1:26257", "roach-2:26257", "roach-3:26257"}


def test_roach_init_creates_the_databases_user_and_grants(compose):
    script = "\n".join(compose["services"]["roach-init"]["command"])
    for statement in ("CREATE USER IF NOT EXISTS eventstream",
                      "CREATE DATABASE IF NOT EXISTS eventstoredb",
                      "CREATE DATABASE IF NOT EXISTS ordersdb",
                      "GRANT ALL ON DATABASE eventstoredb TO eventstream",
                      "GRANT ALL ON DATABASE ordersdb TO eventstream",
                      "cockroach init --insecure"):
        assert statement in script


@pytest.mark.parametrize("node", [1, 2, 3])
def test_nats_configs_form_one_cluster_with_durable_jetstream(node):
    conf = (DEPLOY / "nats" / f"nats-{node}.conf").read_text()
    assert f"server_name: nats-{node}" in conf
    assert "sync_interval: always" in conf
    assert "listen: 0.0.0.0:4222" in conf
    routes = re.findall(r"nats-route://(nats-\d):6222", conf)
    assert sorted(routes) == ["nats-1", "nats-2", "nats-3"]


def test_every_service_command_uses_real_flags(compose):
    services = eventstream_services(compose)
    assert {"bootstrap", "eventstoresvc", "ordersvc", "payment-worker", "projection-worker",
            "review-worker", "saga-worker"} <= set(services)
    for name, service in services.items():
        command, args = resolve(list(service["command"]))
        known = options_of(command)
        for arg in args:
            if arg.startswith("--"):
                assert arg in known, f"{name}: {command.name} has no flag {arg}"


def test_every_environment_variable_is_a_flag_twin_of_the_command_it_configures(compose):
    # Tracing and logging settings are read by every process itself, not through a flag.
    process_wide = {"EVENTSTREAM_TRACE_SAMPLE_RATE", "EVENTSTREAM_LOG_FORMAT", "EVENTSTREAM_LOG_LEVEL"}
    for name, service in eventstream_services(compose).items():
        command, _ = resolve(list(service["command"]))
        twins = envvars_of(command)
        for variable in service.get("environment", {}):
            if variable in process_wide:
                continue
            if variable in twins:
                continue
            # Shared settings (the anchor) may name twins other commands use; they must exist somewhere.
            assert any(variable in envvars_of(resolve(list(s["command"]))[0])
                       for s in eventstream_services(compose).values()), f"{name}: {variable} is no flag twin"


def test_addresses_point_at_services_and_their_ports(compose):
    services = compose["services"]
    env = services["ordersvc"]["environment"]
    host, port = re.fullmatch(r"dns:///([\w-]+):(\d+)", env["EVENTSTREAM_EVENTSTORE_ADDR"]).groups()
    store_args = services[host]["command"]
    assert store_args[store_args.index("--port") + 1] == port
    for url in env["EVENTSTREAM_NATS_URL"].split(","):
        nats_host, nats_port = re.fullmatch(r"nats://([\w-]+):(\d+)", url).groups()
        assert nats_host in services and nats_port == "4222"
    for key in ("EVENTSTREAM_DB_URL", "EVENTSTREAM_ORDERS_DB_URL"):
        match = re.fullmatch(r"cockroachdb://eventstream@([\w-]+):26257/(\w+)\?sslmode=disable", env[key])
        assert match and match.group(1) in services
        assert match.group(2) in {"eventstoredb", "ordersdb"}
    published = [p.split(":")[1] for p in services["ordersvc"]["ports"]]
    args = services["ordersvc"]["command"]
    assert args[args.index("--port") + 1] in published
    assert args[args.index("--grpc-port") + 1] in published


def test_workers_run_several_replicas_and_the_stream_three(compose):
    for worker in ("payment", "projection", "review", "saga"):
        assert compose["services"][f"{worker}-worker"]["deploy"]["replicas"] >= 2
    assert compose["services"]["eventstoresvc"]["deploy"]["replicas"] == 3
    bootstrap = compose["services"]["bootstrap"]["command"]
    assert bootstrap[bootstrap.index("--stream-replicas") + 1] == "3"
