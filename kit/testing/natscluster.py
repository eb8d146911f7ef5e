"""A NATS JetStream cluster on loopback for tests: real nats-server processes joined by routes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kit.nats.servers import nats_server_binary
from kit.testing.net import free_port, wait_for_port


class NatsCluster:
    """Three ``nats-server`` processes joined by routes; nodes can be killed one by one."""

    def __init__(self, root: Path, size: int = 3) -> None:
        self.root = root
        self.client_ports = [free_port() for _ in range(size)]
        self.route_ports = [free_port() for _ in range(size)]
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * size

    @property
    def url(self) -> str:
        """All nodes, comma-separated, as every eventstream process takes them."""
        return ",".join(f"nats://127.0.0.1:{port}" for port in self.client_ports)

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _config(self, node: int) -> Path:
        routes = "\n".join(f"    nats-route://127.0.0.1:{port}" for port in self.route_ports)
        store = self.root / f"node-{node}"
        store.mkdir(parents=True, exist_ok=True)
        config = self.root / f"node-{node}.conf"
        config.write_text(f"""
server_name: node-{node}
listen: 127.0.0.1:{self.client_ports[node]}
jetstream {{
  store_dir: "{store}"
}}
cluster {{
  name: test-cluster
  listen: 127.0.0.1:{self.route_ports[node]}
  routes: [
{routes}
  ]
}}
""")
        return config

    def start(self) -> None:
        """Start every node and wait until each accepts clients and the cluster has a leader."""
        self.root.mkdir(parents=True, exist_ok=True)
        for node in range(len(self.processes)):
            log = (self.root / f"node-{node}.log").open("wb")
            self.processes[node] = subprocess.Popen(
                [nats_server_binary(), "-c", str(self._config(node))], stdout=log, stderr=log)
        for port in self.client_ports:
            wait_for_port(port, timeout=20)
        self.wait_for_jetstream()

    def wait_for_jetstream(self, timeout: float = 60.0) -> None:
        """Block until the cluster answers JetStream API calls (its meta leader is elected)."""
        import asyncio

        import nats

        async def ready() -> bool:
            client = await nats.connect(servers=self.url.split(","), connect_timeout=2)
            try:
                await client.jetstream(timeout=2).account_info()
                return True
            except Exception:  # no meta leader yet: "JetStream not enabled", timeouts ...
                return False
            finally:
                await client.close()

        deadline = time.monotonic() + timeout
        while not asyncio.run(ready()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the NATS cluster had no JetStream leader after {timeout}s")
            time.sleep(0.5)

    def kill(self, node: int) -> None:
        """SIGKILL one node."""
        process = self.processes[node]
        assert process is not None
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        """Stop every node still running."""
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
