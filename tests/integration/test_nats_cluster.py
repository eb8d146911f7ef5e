"""Consumers keep going when a node of a 3-node JetStream cluster dies under them.

Losing a node moves stream and consumer leaders; for a few seconds JetStream API calls time out.
A consumer whose re-subscription failed during that window once kept fetching from the
subscription it had already dropped, and never received another message.
"""

import threading
import time

import pytest

from kit.nats import JetStreamConsumer, JetStreamPublisher, ensure_stream
from kit.nats.deadletter import DEFAULT_STREAM
from kit.nats.streams import connection, run_sync
from kit.testing.natscluster import NatsCluster
from kit.testing.wait import eventually

pytestmark = pytest.mark.timeout(180)


def publish(publisher: JetStreamPublisher, count: int, start: int) -> None:
    for n in range(start, start + count):
        time.sleep(0.01)  # a steady stream, so the node dies while consumers are busy
        publish_one(publisher, n)


def publish_one(publisher: JetStreamPublisher, n: int) -> None:
    """Publish message ``n``, again and again while it fails."""

    def published() -> bool:
        try:
            publisher.publish("CL.n", str(n).encode(), msg_id=f"n-{n}")
        except Exception:  # during the leader election a publish may find no stream leader
            return False
        return True

    eventually(published, timeout=30, interval=0.2, describe=lambda: f"message {n} never published")


def wait_for_replicas(nats_url: str, stream: str, timeout: float = 30.0) -> int:
    """The replicas of ``stream`` once it exists."""

    async def replicas() -> int:
        async with connection(nats_url) as client:
            info = await client.jetstream().stream_info(stream)
            return info.config.num_replicas or 1

    def found() -> int:
        try:
            return run_sync(replicas())
        except Exception:
            return 0

    return eventually(found, timeout, interval=0.2, describe=lambda: f"stream {stream} never appeared")


def test_every_message_is_consumed_after_a_node_is_killed(tmp_path):
    with NatsCluster(tmp_path) as cluster:
        ensure_stream(cluster.url, "CL", ["CL.*"], num_replicas=3)
        seen: dict[str, set[int]] = {f"c{i}": set() for i in range(4)}
        lock = threading.Lock()

        def handler(name: str):
            def handle(n: int) -> None:
                time.sleep(0.01)
                with lock:
                    seen[name].add(n)
            return handle

        consumers = [JetStreamConsumer(handler(name), lambda m: int(m.data), nats_url=cluster.url,
                                       stream="CL", durable=name, ack_wait=5, heartbeat=2, batch=16)
                     for name in seen]
        for consumer in consumers:
            consumer.start()
        # The dead-letter stream is as replicated as the stream: on one node it would die with it,
        # and with it every consumer's re-subscription.
        assert wait_for_replicas(cluster.url, DEFAULT_STREAM) == 3
        publisher = JetStreamPublisher(nats_url=cluster.url)
        try:
            publish(publisher, 100, 0)
            cluster.kill(2)
            publish(publisher, 100, 100)
            eventually(lambda: all(len(s) >= 200 for s in seen.values()), timeout=90, interval=0.2,
                       describe=lambda: str({name: len(s) for name, s in seen.items()}))
            assert {name: len(s) for name, s in seen.items()} == {name: 200 for name in seen}
        finally:
            publisher.close()
            for consumer in consumers:
                consumer.stop(timeout=10)
