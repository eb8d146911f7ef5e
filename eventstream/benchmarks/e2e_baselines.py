"""The ``e2e`` suite's baselines: what the system's own PostgreSQL and nats-server do bare.

- PostgreSQL single-row commits: ``threads`` psycopg connections, each in a loop ``INSERT`` one row
  and ``COMMIT`` (durable: the server runs with ``fsync`` and ``synchronous_commit`` on), in a
  database of its own on the same server.
- JetStream publishes: ``publishers`` concurrent coroutines on one nats-py connection, each in a loop
  publishing an order-event-sized message to a file stream of its own on the same nats-server and
  awaiting the ack.

Both run for a fixed time after a short warm-up and answer operations per second.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

BODY = json.dumps({
    "order_id": str(uuid.uuid4()), "customer_id": "customer-1", "restaurant_id": "rest-1",
    "status": "Pending", "amount": "25.00", "created_on": "2024-01-01T00:00:00Z",
    "order_items": [{"code": "p-1", "name": "Pizza", "unit_price": "12.50", "quantity": 2}],
}).encode()


def pg_commit_rate(dsn: str, *, threads: int = 16, seconds: float = 3.0, warmup: float = 0.5) -> float:
    """Single-row INSERT + COMMIT transactions per second from ``threads`` connections."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS commit_bench (id bigserial PRIMARY KEY, payload text)")
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds
    counts = [0] * threads
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with psycopg.connect(dsn) as conn:
                payload = BODY.decode()
                while (now := time.perf_counter()) < stop_at:
                    conn.execute("INSERT INTO commit_bench (payload) VALUES (%s)", (payload,))
                    conn.commit()
                    if now >= start_at:
                        counts[n] += 1
        except BaseException as exc:  # reported below, not lost in a thread
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise RuntimeError(f"PostgreSQL commit baseline failed: {errors[0]!r}")
    return sum(counts) / seconds


def jetstream_publish_rate(nats_url: str, *, publishers: int = 16, seconds: float = 3.0,
                           warmup: float = 0.5) -> float:
    """Acknowledged JetStream publishes per second to a file stream from ``publishers`` coroutines."""
    return asyncio.run(_publish(nats_url, publishers, seconds, warmup))


async def _publish(nats_url: str, publishers: int, seconds: float, warmup: float) -> float:
    import nats
    from nats.js.api import StorageType, StreamConfig

    stream = f"E2EBASE{uuid.uuid4().hex[:8].upper()}"
    subject = f"{stream.lower()}.created"
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await js.add_stream(StreamConfig(name=stream, subjects=[subject], storage=StorageType.FILE))
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds
    counts = [0] * publishers

    async def publisher(n: int) -> None:
        while (now := time.perf_counter()) < stop_at:
            await js.publish(subject, BODY, headers={"Nats-Msg-Id": str(uuid.uuid4())})
            if now >= start_at:
                counts[n] += 1

    try:
        await asyncio.gather(*(publisher(n) for n in range(publishers)))
    finally:
        await js.delete_stream(stream)
        await client.close()
    return sum(counts) / seconds
