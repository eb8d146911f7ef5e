"""`eventstream up --trace-ui`: a local Zipkin server first up and last down, every process
reporting to it, its UI in the table; without the jar, one line says how to install it."""

import io
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from eventstream import preflight
from eventstream.supervisor import Supervisor
from eventstream.topology import Topology
from eventstream.up import WORKERS, child_specs, stop_order, up
from kit.testing.net import free_port
from kit.testing.requires import unavailable
from kit.zipkin import server as zipkin_server


def topology(tmp_path: Path, **overrides) -> Topology:
    settings = dict(http_port=free_port(), grpc_port=free_port(), nats_port=free_port(), nats_url="",
                    db_url="", orders_db_url="", zipkin_url="", workers=1, data_dir=tmp_path,
                    workers_names=WORKERS, metrics_base_port=free_port(), trace_ui_port=free_port())
    settings.update(overrides)
    return Topology.build(**settings)


def rendered(top: Topology) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(top.table())
    return console.file.getvalue()


@pytest.fixture
def fake_jar(tmp_path, monkeypatch) -> Path:
    jar = tmp_path / "zipkin.jar"
    jar.write_bytes(b"PK")
    monkeypatch.setenv(zipkin_server.JAR_ENV, str(jar))
    return jar


def test_every_process_reports_to_the_local_server_and_the_table_shows_its_ui(tmp_path, fake_jar):
    top = topology(tmp_path)
    assert top.trace_ui
    assert top.zipkin_url == f"http://127.0.0.1:{top.trace_ui_port}"
    assert top.ports()["trace UI (Zipkin)"] == top.trace_ui_port
    assert f"http://127.0.0.1:{top.trace_ui_port}/zipkin/" in rendered(top)

    specs = child_specs(top)
    assert specs[0].name == "zipkin"
    assert specs[0].args == zipkin_server.command(top.trace_ui_port)
    assert stop_order(specs)[-1] == "zipkin"  # stopped after the last span was flushed
    assert all(spec.env["EVENTSTREAM_ZIPKIN_URL"] == top.zipkin_url for spec in specs[2:])


def test_without_trace_ui_there_is_no_zipkin_child(tmp_path):
    top = topology(tmp_path, trace_ui_port=0)
    assert not top.trace_ui and top.zipkin_url == ""
    assert "zipkin" not in [spec.name for spec in child_specs(top)]
    assert "trace UI" not in rendered(top)


def test_a_missing_server_is_one_line_naming_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv(zipkin_server.JAR_ENV, str(tmp_path / "absent.jar"))
    problem = preflight.check(topology(tmp_path))
    assert problem is not None and problem.startswith("--trace-ui: ")
    assert "dependency:copy -Dartifact=io.zipkin:zipkin-server" in problem and "\n" not in problem

    result = CliRunner().invoke(up, ["--trace-ui", "--trace-ui-port", str(free_port()),
                                     "--http-port", str(free_port()), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "dependency:copy" in result.output
    assert "starting" not in result.output  # nothing was started


def test_trace_ui_and_another_zipkin_url_are_refused(tmp_path):
    result = CliRunner().invoke(up, ["--trace-ui", "--zipkin-url", "http://127.0.0.1:9411",
                                     "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "leave out --zipkin-url" in result.output


@pytest.mark.integration
def test_the_zipkin_child_serves_its_ui_and_stops_with_the_system(tmp_path):
    reason = zipkin_server.missing()
    if reason:
        unavailable(reason)
    top = topology(tmp_path)
    spec = child_specs(top)[0]
    supervisor = Supervisor(output=io.StringIO(), say=lambda message: None)
    try:
        child = supervisor.start(spec)
        with urllib.request.urlopen(zipkin_server.ui_url(top.zipkin_url), timeout=10) as page:
            assert page.status == 200
    finally:
        supervisor.stop_all(stop_order([spec]))
    assert child.exit_code is not None
    assert not zipkin_server.healthy(top.zipkin_url)
