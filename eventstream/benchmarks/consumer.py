"""The ``consumer`` suite: the kit JetStream consumer with a no-op endpoint vs a bare nats-py loop.

One nats-server (``-js``, file storage) holds a stream of order-event-like messages (a JSON body,
the event store's headers and B3). Each round reads the whole stream twice, through a new durable
consumer each time: once with a bare nats-py fetch-and-ack loop (``fetch(batch)``, ``ack()`` each
message, in one coroutine) and once with ``kit.nats.JetStreamConsumer`` (decode to ``Message``, a
request scope, a CONSUMER span with the no-op tracer, the endpoint in a worker thread, metrics, ack).
Both use the same batch size, and each timing covers connecting, creating the consumer and reading
every message. A third reading goes through ``JetStreamConsumer.batched`` (a batch endpoint called
with up to 64 messages, two calls at once). Bare and kit take turns and the best round of each
counts. Reported: messages/s of the kit consumer with the bare loop as baseline
(``consumer.vs_bare``, target >= 0.90) and of the batch consumer (``consumer.batch_vs_bare``).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import nats
from nats.js.api import AckPolicy, ConsumerConfig
from prometheus_client import CollectorRegistry
from rich.console import Console

from eventstream.benchmarks.report import Result
from kit.endpoint import nop
from kit.nats import JetStreamConsumer, Message, ensure_stream
from kit.testing.nats import running_nats

STREAM = "BENCH"
SUBJECT = "BENCH.created"
BATCH = 64


def _headers(index: int) -> dict[str, str]:
    event_id = str(uuid.uuid4())
    return {
        "Nats-Msg-Id": event_id, "Event-Id": event_id, "Event-Type": SUBJECT,
        "Aggregate-Id": str(uuid.uuid4()), "Aggregate-Type": "order", "Event-Version": "1",
        "Event-Position": str(index + 1), "Created-At": "2024-01-01T00:00:00Z",
        "x-b3-traceid": f"{index + 1:032x}", "x-b3-spanid": f"{index + 1:016x}", "x-b3-sampled": "1",
    }


def _body(index: int) -> bytes:
    return json.dumps({
        "order_id": f"order-{index}", "customer_id": "customer-1", "restaurant_id": "restaurant-1",
        "status": "Pending", "amount": "42.50",
        "order_items": [{"code": "p1", "name": "pizza", "unit_price": "21.25", "quantity": 2}],
    }).encode()


async def _fill(url: str, count: int) -> None:
    client = await nats.connect(url)
    js = client.jetstream()
    window = 256
    for start in range(0, count, window):
        await asyncio.gather(*(js.publish(SUBJECT, _body(i), headers=_headers(i))
                               for i in range(start, min(count, start + window))))
    await client.close()


async def _bare(url: str, durable: str, count: int) -> float:
    started = time.perf_counter()
    client = await nats.connect(url)
    js = client.jetstream()
    await js.add_consumer(STREAM, ConsumerConfig(name=durable, durable_name=durable,
                                                 ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_deliver=6))
    sub = await js.pull_subscribe_bind(durable=durable, stream=STREAM)
    done = 0
    while done < count:
        try:
            messages = await sub.fetch(BATCH, timeout=0.5)
        except TimeoutError:
            continue
        for message in messages:
            await message.ack()
            done += 1
    await client.flush()
    elapsed = time.perf_counter() - started
    await client.close()
    return count / elapsed


def _kit(url: str, durable: str, count: int, *, batched: bool = False) -> float:
    consumer: JetStreamConsumer[Message]
    if batched:
        consumer = JetStreamConsumer.batched(
            nop, lambda message: message, max_batch=BATCH, nats_url=url, stream=STREAM, durable=durable,
            batch=BATCH * 4, max_concurrency=2, registry=CollectorRegistry())
    else:
        consumer = JetStreamConsumer(nop, lambda message: message, nats_url=url, stream=STREAM,
                                     durable=durable, batch=BATCH, registry=CollectorRegistry())
    started = time.perf_counter()
    consumer.start()
    try:
        while consumer.processed < count:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        consumer.stop()
    return count / elapsed


def run(*, quick: bool, console: Console) -> list[Result]:
    """Run the suite: alternate bare and kit consumers over the same stream, best round of each."""
    count, rounds = (3_000, 1) if quick else (20_000, 3)
    with running_nats() as server:
        ensure_stream(server.url, STREAM, [f"{STREAM}.*"])
        console.print(f"  consumer: publishing {count:,} messages")
        asyncio.run(_fill(server.url, count))
        bare: list[float] = []
        kit: list[float] = []
        batched: list[float] = []
        for round_number in range(1, rounds + 1):
            console.print(f"  consumer: round {round_number}/{rounds}")
            bare.append(asyncio.run(_bare(server.url, f"bare{round_number}", count)))
            kit.append(_kit(server.url, f"kit{round_number}", count))
            batched.append(_kit(server.url, f"batch{round_number}", count, batched=True))
    base = "bare nats-py fetch+ack loop"
    return [Result.compare("consumer.vs_bare", max(kit), "msg/s", base, max(bare)),
            Result.compare("consumer.batch_vs_bare", max(batched), "msg/s", base, max(bare))]
