"""``eventstream up``: run the whole system locally, on embedded defaults, with one command.

Starts an embedded ``nats-server`` with JetStream (unless ``--nats-url`` names one), runs the
bootstrap, then the event store (``--eventstores`` replicas), every worker (``--workers``
instances of each) and the order service last, each as a child process, waiting for each to be
ready. The order service starts last, so once ``GET /readyz`` on the HTTP port answers 200,
everything is up. Crashed children are
restarted with backoff. Ctrl-C or SIGTERM stops everything in order: HTTP first, then the workers
(they drain), the event store (its relay flushes), NATS last; then it exits 0.

With ``--trace-ui`` a local Zipkin server (``kit.zipkin.server``: the ``io.zipkin:zipkin-server``
jar, in memory, on 127.0.0.1) starts first and stops last, every process reports to it, and the
table shows its UI; when the jar or Java is missing, one line says how to install it.
"""

from __future__ import annotations

import functools
import signal
import sys
import urllib.request
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from eventstream import preflight
from eventstream.supervisor import ChildSpec, Probe, StartupError, Supervisor
from eventstream.topology import Topology
from kit.auth.settings import AUTH_ENV, AuthSettings
from kit.grpc.tls import ENV_NAMES as TLS_ENV
from kit.options import auth_checked, auth_options, option
from kit.zipkin import server as zipkin_server

WORKERS = ("payment", "projection", "review", "saga")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as response:
        return bool(response.status == 200)


def _http_probe(url: str) -> Probe:
    return lambda: _http_ok(url)


def _eventstream(*args: str) -> list[str]:
    return [sys.executable, "-m", "eventstream", *args]


def auth_env(auth: AuthSettings) -> dict[str, str]:
    """The environment that hands ``auth`` to every child: the secret travels in the environment,
    never on a command line (which any local user can read); twins left unset are set empty so
    an inherited one cannot contradict them."""
    if not auth.enabled:
        return {}
    env = {name: "" for name in AUTH_ENV.values()}
    env["EVENTSTREAM_AUTH_SECRET"] = auth.secret or ""
    env["EVENTSTREAM_AUTH_PUBLIC_KEY"] = str(auth.public_key_file.resolve()) if auth.public_key_file else ""
    if auth.service_token_file is not None:
        env["EVENTSTREAM_SERVICE_TOKEN_FILE"] = str(auth.service_token_file.resolve())
    env["EVENTSTREAM_AUTH_ISSUER"] = auth.issuer or ""
    env["EVENTSTREAM_AUTH_AUDIENCE"] = auth.audience or ""
    return env


def child_specs(top: Topology, auth: AuthSettings | None = None) -> list[ChildSpec]:
    """The long-running children in start order (NATS first, the order service last)."""
    specs: list[ChildSpec] = []
    if top.trace_ui:  # first up, last down: it receives the spans of every start and stop
        specs.append(ChildSpec(
            "zipkin", zipkin_server.command(top.trace_ui_port),
            ready=lambda: zipkin_server.healthy(top.zipkin_url), start_timeout=120, stop_timeout=20,
        ))
    common_env = {"EVENTSTREAM_ZIPKIN_URL": top.zipkin_url} if top.zipkin_url else {}
    common_env.update(auth_env(auth or AuthSettings()))
    # Local processes talk plaintext on 127.0.0.1 (the probes above do too): TLS is for deploy/.
    common_env.update(dict.fromkeys(TLS_ENV, ""))
    if top.embedded_nats:
        top.nats_dir.mkdir(parents=True, exist_ok=True)
        specs.append(ChildSpec(
            "nats-server",
            [preflight.nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(top.nats_port),
             "-m", str(top.nats_monitor_port), "-sd", str(top.nats_dir)],
            ready=lambda: _http_ok(f"http://127.0.0.1:{top.nats_monitor_port}/healthz"),
            stop_timeout=10,
        ))
    for replica, port in enumerate(top.eventstore_ports, start=1):
        specs.append(ChildSpec(
            f"eventstoresvc-{replica}" if top.eventstores > 1 else "eventstoresvc",
            _eventstream("eventstoresvc", "--host", "127.0.0.1", "--port", str(port),
                         "--db-url", top.db_url, "--nats-url", top.nats_url,
                         "--metrics-port", str(top.eventstore_metrics_port(replica))),
            ready=functools.partial(preflight.grpc_serving, f"127.0.0.1:{port}"),
            env=common_env,
        ))
    for worker in WORKERS:
        for instance in range(1, top.workers + 1):
            name = f"{worker}-{instance}" if top.workers > 1 else worker
            metrics_port = top.worker_metrics_port(worker, instance)
            specs.append(ChildSpec(
                name,
                _eventstream("worker", worker, "--nats-url", top.nats_url,
                             "--eventstore-addr", top.eventstore_addr,
                             "--orders-db-url", top.orders_db_url,
                             "--metrics-port", str(metrics_port)),
                ready=_http_probe(f"http://127.0.0.1:{metrics_port}/metrics"),
                env=common_env,
            ))
    specs.append(ChildSpec(
        "ordersvc",
        _eventstream("ordersvc", "--host", "127.0.0.1", "--port", str(top.http_port),
                     "--grpc-port", str(top.orders_grpc_port),
                     "--eventstore-addr", top.eventstore_addr,
                     "--orders-db-url", top.orders_db_url, "--nats-url", top.nats_url),
        ready=lambda: _http_ok(f"http://127.0.0.1:{top.http_port}/readyz"),
        env=common_env,
    ))
    return specs


def auth_row(auth: AuthSettings) -> tuple[str, str]:
    """The table's line on authentication."""
    if not auth.enabled:
        return "auth", "off: open on 127.0.0.1 (EVENTSTREAM_AUTH_SECRET turns it on)"
    return "auth", "on: eventstream token --sub <customer> [--scope orders:admin]"


def bootstrap_spec(top: Topology) -> ChildSpec:
    """The one-shot bootstrap: schemas and the ORDERS stream, idempotent."""
    return ChildSpec(
        "bootstrap",
        _eventstream("bootstrap", "--db-url", top.db_url, "--orders-db-url", top.orders_db_url,
                     "--nats-url", top.nats_url),
        ready=lambda: True,
    )


def stop_order(specs: list[ChildSpec]) -> list[str]:
    """HTTP first, then workers, then the event store, NATS last: the reverse of start order."""
    return [spec.name for spec in reversed(specs)]


@click.command("up")
@option("--http-port", default=3000, type=click.IntRange(1, 65535), help="Order service HTTP port.")
@option("--grpc-port", default=50051, type=click.IntRange(1, 65535), help="Event store gRPC port.")
@option("--nats-port", default=4222, type=click.IntRange(1, 65535), help="Embedded NATS client port.")
@option("--nats-url", default="", help="Use this NATS server instead of starting one.")
@option("--db-url", default="", help="Event store database URL (default: SQLite in --data-dir).")
@option("--orders-db-url", default="", help="Orders database URL (default: SQLite in --data-dir).")
@option("--zipkin-url", default="", help="Report traces to this Zipkin.")
@option("--trace-ui", is_flag=True, default=False,
        help="Run a local Zipkin server and its UI too, and report traces to it.")
@option("--trace-ui-port", default=zipkin_server.DEFAULT_PORT, type=click.IntRange(1, 65535),
        help="Port of the --trace-ui Zipkin server (its UI and span intake).")
@option("--workers", default=1, type=click.IntRange(1, 16), help="Instances of each worker.")
@option("--eventstores", default=1, type=click.IntRange(1, 9),
        help="Event store replicas (one relay leads at a time; the others take over when it dies).")
@option("--metrics-port", default=9100, type=click.IntRange(1, 65535),
        help="First metrics port of the workers (one port per worker instance, counting up).")
@option("--data-dir", default=".eventstream", type=click.Path(file_okay=False, path_type=Path),
        help="Where the embedded NATS and SQLite keep their data.")
@auth_options
def up(http_port: int, grpc_port: int, nats_port: int, nats_url: str, db_url: str,
       orders_db_url: str, zipkin_url: str, trace_ui: bool, trace_ui_port: int, workers: int,
       eventstores: int, metrics_port: int, data_dir: Path, auth: AuthSettings) -> None:
    """Run the whole system locally: NATS, event store, workers and the order API.

    Everything listens on 127.0.0.1. With an auth secret (EVENTSTREAM_AUTH_SECRET) or public key,
    every process requires tokens: mint them with ``eventstream token``.
    """
    console = Console(stderr=True)
    if trace_ui and zipkin_url:
        raise click.UsageError("--trace-ui runs its own Zipkin and reports to it: leave out "
                               "--zipkin-url (and EVENTSTREAM_ZIPKIN_URL)")
    top = Topology.build(http_port=http_port, grpc_port=grpc_port, nats_port=nats_port,
                         nats_url=nats_url, db_url=db_url, orders_db_url=orders_db_url,
                         zipkin_url=zipkin_url, workers=workers, data_dir=data_dir,
                         workers_names=WORKERS, metrics_base_port=metrics_port,
                         trace_ui_port=trace_ui_port if trace_ui else 0, eventstores=eventstores)
    problem = preflight.check(top)
    if problem:
        raise click.ClickException(problem)
    auth_checked(auth, caller="up")
    specs = child_specs(top, auth)
    supervisor = Supervisor(say=lambda message: console.print(f"[bold]up[/]: {message}"))

    started = False
    interrupted = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        if not started:
            raise KeyboardInterrupt  # abandon the start-up; the finally block stops what runs
        supervisor.stop_watching()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for spec in specs:
            if spec.name in ("eventstoresvc", "eventstoresvc-1"):
                console.print("[bold]up[/]: bootstrap")
                supervisor.run_once(bootstrap_spec(top))
            console.print(f"[bold]up[/]: starting {spec.name}")
            supervisor.start(spec)
        started = True
        table = top.table()
        table.add_row(*auth_row(auth))
        console.print(table)
        supervisor.watch()
    except StartupError as exc:
        console.print(f"[bold red]up[/]: {exc}")
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        console.print("[bold]up[/]: stopping")
        supervisor.stop_all(stop_order(specs))
        console.print("[bold]up[/]: stopped")
    if not started and not interrupted:
        sys.exit(1)
