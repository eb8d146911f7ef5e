"""The supervisor behind `eventstream up`, with real child processes."""

import io
import sys
import threading
from pathlib import Path

import pytest

from eventstream.supervisor import ChildSpec, StartupError, Supervisor
from kit.testing.wait import eventually

# A child that writes "ready" to a file, and on SIGTERM appends its name to a log and exits.
CHILD = """
import pathlib, signal, sys, time
name, ready_file, log = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
def stop(signum, frame):
    with log.open("a") as f:
        f.write(name + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print(name, "starting", flush=True)
ready_file.write_text("ok")
while True:
    time.sleep(0.05)
"""


def spec(tmp_path: Path, name: str, **kwargs) -> ChildSpec:
    ready = tmp_path / f"{name}.ready"
    args = [sys.executable, "-c", CHILD, name, str(ready), str(tmp_path / "stops.log")]
    return ChildSpec(name, args, ready=ready.exists, **kwargs)


def test_children_start_when_ready_and_stop_in_the_given_order(tmp_path):
    output = io.StringIO()
    supervisor = Supervisor(output=output)
    for name in ("nats", "store", "http"):
        child = supervisor.start(spec(tmp_path, name))
        assert (tmp_path / f"{name}.ready").exists()
        assert child.exit_code is None
    supervisor.stop_all(["http", "store", "nats"])
    assert (tmp_path / "stops.log").read_text().split() == ["http", "store", "nats"]
    assert all(child.exit_code == 0 for child in supervisor.children.values())
    assert "store         | store starting" in output.getvalue()


def test_a_crashed_child_is_restarted_and_the_supervisor_says_so(tmp_path):
    messages: list[str] = []
    supervisor = Supervisor(output=io.StringIO(), say=messages.append, max_backoff=0.2)
    child = supervisor.start(spec(tmp_path, "worker"))
    first_pid = child.process.pid
    child.process.kill()
    watcher = threading.Thread(target=supervisor.watch, kwargs={"interval": 0.05})
    watcher.start()
    try:
        eventually(lambda: child.restarts > 0, timeout=10, interval=0.05, describe=lambda: str(messages))
    finally:
        supervisor.stop_all(["worker"])
        watcher.join(timeout=5)
    assert child.restarts == 1
    assert child.process.pid != first_pid
    assert messages[0].startswith("worker exited with code -9; restarting in")
    assert messages[1] == "worker restarted (restart #1)"


def test_a_child_that_dies_while_starting_is_a_startup_error_with_its_last_words(tmp_path):
    supervisor = Supervisor(output=io.StringIO())
    broken = ChildSpec("broken", [sys.executable, "-c", "print('no config'); raise SystemExit(3)"],
                       ready=lambda: False)
    with pytest.raises(StartupError, match="broken exited with code 3 while starting") as info:
        supervisor.start(broken)
    assert "no config" in str(info.value)


def test_a_failed_one_shot_is_a_startup_error(tmp_path):
    supervisor = Supervisor(output=io.StringIO())
    supervisor.run_once(ChildSpec("ok", [sys.executable, "-c", "pass"], ready=lambda: True))
    with pytest.raises(StartupError, match="bootstrap failed with code 2"):
        supervisor.run_once(ChildSpec("bootstrap", [sys.executable, "-c", "raise SystemExit(2)"],
                                      ready=lambda: True))


def test_a_child_that_ignores_sigterm_is_killed_after_its_timeout(tmp_path):
    supervisor = Supervisor(output=io.StringIO())
    stubborn = ChildSpec(
        "stubborn",
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
         "print('up', flush=True); time.sleep(60)"],
        ready=lambda: True, stop_timeout=0.5)
    child = supervisor.start(stubborn)
    # Its readiness probe passes at once; "up" says SIGTERM is ignored by now, so the SIGTERM below
    # cannot end it before the handler is in place (exit -15).
    eventually(lambda: "up" in child.tail, timeout=10, describe=lambda: str(child.tail))
    supervisor.stop_all([])
    assert child.exit_code == -9
