"""deploy/ cannot run here (no Docker engine), so its files are checked against the real CLI."""

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import click
import pytest
import yaml

from eventstream.cli import main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def eventstream_services(compose: dict) -> dict[str, dict]:
    """The services running an eventstream command (init-secrets runs a script of the same image)."""
    return {name: svc for name, svc in compose["services"].items()
            if svc.get("image") == "eventstream:latest" and "command" in svc}


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
                      "cockroach init --certs-dir=/certs/cockroach"):
        assert statement in script


def test_cockroachdb_runs_secure_and_every_client_verifies_it(compose):
    services = compose["services"]
    assert "--insecure" not in yaml.safe_dump(compose)
    for i in (1, 2, 3):
        node = services[f"roach-{i}"]
        assert "--certs-dir=/certs/cockroach" in node["command"]
        assert ("/certs", "roach/certs") in identity_mounts(node)
        assert node["depends_on"]["init-secrets"]["condition"] == "service_completed_successfully"
    for name, service in eventstream_services(compose).items():
        for key in ("EVENTSTREAM_DB_URL", "EVENTSTREAM_ORDERS_DB_URL"):
            query = {k: v[0] for k, v in parse_qs(urlsplit(service["environment"][key]).query).items()}
            assert query == {"sslmode": "verify-full", "sslrootcert": "/certs/ca.crt",
                             "sslcert": "/certs/cockroach/client.eventstream.crt",
                             "sslkey": "/certs/cockroach/client.eventstream.key"}, (name, key)


def test_spans_go_to_zipkin_over_https_only(compose):
    zipkin = compose["services"]["zipkin"]
    options = zipkin["environment"]["JAVA_OPTS"].split()
    assert "-Darmeria.ports[0].protocols[0]=https" in options
    assert "-Darmeria.ssl.key-store=file:/certs/zipkin.p12" in options
    assert not any("password" in option for option in options), "the store's password is read from a file"
    for name, service in eventstream_services(compose).items():
        env = service["environment"]
        assert env["EVENTSTREAM_ZIPKIN_URL"] == "https://zipkin:9411", name
        assert env["EVENTSTREAM_ZIPKIN_TLS_CA"] == "/certs/ca.crt", name


def identity_mounts(service: dict) -> set[tuple[str, str]]:
    """(container path, role directory) of each per-role mount of ``service``."""
    return {(v["target"], v["volume"]["subpath"]) for v in service.get("volumes", [])
            if isinstance(v, dict) and v["source"] == "identities"}


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
    # Tracing, logging, gRPC TLS and NATS credentials are read by every process itself, not by a flag.
    from kit.grpc.tls import ENV_NAMES as TLS_ENV
    from kit.nats.security import ENV_NAMES as NATS_ENV
    from kit.zipkin.config import ZIPKIN_CA_ENV

    process_wide = {"EVENTSTREAM_TRACE_SAMPLE_RATE", "EVENTSTREAM_LOG_FORMAT", "EVENTSTREAM_LOG_LEVEL",
                    ZIPKIN_CA_ENV, *TLS_ENV, *NATS_ENV}
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
        nats_host, nats_port = re.fullmatch(r"tls://([\w-]+):(\d+)", url).groups()
        assert nats_host in services and nats_port == "4222"
    for key in ("EVENTSTREAM_DB_URL", "EVENTSTREAM_ORDERS_DB_URL"):
        match = re.fullmatch(r"cockroachdb://eventstream@([\w-]+):26257/(\w+)\?sslmode=verify-full&.*",
                             env[key])
        assert match and match.group(1) in services
        assert match.group(2) in {"eventstoredb", "ordersdb"}
    published = [p.split(":")[-1] for p in services["ordersvc"]["ports"]]
    args = services["ordersvc"]["command"]
    assert args[args.index("--port") + 1] not in published, "plain HTTP must stay behind the proxy"
    assert args[args.index("--host") + 1] == "127.0.0.1", "plain HTTP on loopback only"
    assert args[args.index("--grpc-host") + 1] == "0.0.0.0"
    assert args[args.index("--grpc-port") + 1] in published
    # The proxy shares ordersvc's network namespace, so its upstream is that loopback.
    assert services["proxy"]["network_mode"] == "service:ordersvc" and "ports" not in services["proxy"]
    caddyfile = (DEPLOY / "caddy" / "Caddyfile").read_text()
    assert f"reverse_proxy 127.0.0.1:{args[args.index('--port') + 1]}" in caddyfile
    assert f":{published[0]} {{" in caddyfile
    assert "tls /certs/ordersvc.crt /certs/ordersvc.key" in caddyfile


def test_workers_run_several_replicas_and_the_stream_three(compose):
    for worker in ("payment", "projection", "review", "saga"):
        assert compose["services"][f"{worker}-worker"]["deploy"]["replicas"] >= 2
    assert compose["services"]["eventstoresvc"]["deploy"]["replicas"] == 3
    bootstrap = compose["services"]["bootstrap"]["command"]
    assert bootstrap[bootstrap.index("--stream-replicas") + 1] == "3"


NATS_USER = re.compile(r"\{user: (\w+), password: \$(\w+)_PASSWORD")


def test_every_service_runs_with_auth_tls_and_its_own_nats_user(compose):
    users = dict(NATS_USER.findall((DEPLOY / "nats" / "auth.conf").read_text()))
    assert users == {user: user.upper() for user in users}
    roles = {"bootstrap": "bootstrap", "eventstoresvc": "eventstoresvc", "ordersvc": "ordersvc",
             "payment-worker": "payment", "projection-worker": "projection", "review-worker": "review",
             "saga-worker": "saga"}
    for name, user in roles.items():
        service = compose["services"][name]
        env = service["environment"]
        assert env["EVENTSTREAM_NATS_USER"] == user and user in users
        assert env["EVENTSTREAM_NATS_PASSWORD_FILE"] == f"/secrets/nats_{user}"
        assert env["EVENTSTREAM_AUTH_SECRET_FILE"] == "/secrets/auth_secret"
        assert "EVENTSTREAM_AUTH_SECRET" not in env, "no secret in the compose file"
        for key in ("EVENTSTREAM_TLS_CA", "EVENTSTREAM_TLS_CERT", "EVENTSTREAM_TLS_KEY",
                    "EVENTSTREAM_NATS_TLS_CA", "EVENTSTREAM_NATS_TLS_CERT", "EVENTSTREAM_NATS_TLS_KEY"):
            assert env[key].startswith("/certs/"), (name, key)
        assert identity_mounts(service) == {("/certs", f"{user}/certs"), ("/secrets", f"{user}/secrets")}
    init = compose["services"]["init-secrets"]
    assert "/app/deploy/init-secrets.py" in init["entrypoint"]
    for node in (1, 2, 3):
        assert compose["services"][f"nats-{node}"]["depends_on"]["init-secrets"]["condition"] == \
            "service_completed_successfully"


@pytest.mark.parametrize("node", [1, 2, 3])
def test_nats_nodes_require_mutual_tls_and_the_generated_users(node):
    conf = (DEPLOY / "nats" / f"nats-{node}.conf").read_text()
    assert 'include "secrets/nats-auth.conf"' in conf
    assert conf.count("verify: true") == 2, "clients and routes both verify certificates"
    assert conf.count("ca_file: /etc/nats/certs/ca.crt") == 2


def test_only_loopback_ports_are_published_besides_https_and_grpc(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if not port.startswith("127.0.0.1:"):
                assert name in {"proxy", "ordersvc", "eventstoresvc"}, (name, port)


def test_the_image_makes_every_directory_init_secrets_writes_its_users(compose):
    # A named volume takes the owner of the image's directory it is first mounted on.
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    chown = re.search(r"chown eventstream ([^&]+)", dockerfile).group(1).split()
    targets = [volume.split(":")[1] for volume in compose["services"]["init-secrets"]["volumes"]]
    assert sorted(targets) == sorted(chown)
    assert "USER eventstream" in dockerfile
