"""The NATS JetStream transport: durable pull consumers serving endpoints, and a publisher.

- ``JetStreamConsumer``: messages -> ``decode`` -> endpoint in worker threads, ack after success,
  nak with backoff on retryable failures, dead letters after ``max_deliver`` deliveries (or at once
  for undecodable messages and non-retryable errors), graceful drain, recovery after NATS restarts.
  What becomes of a failure is a ``SettlementPolicy``: ``DeadLetterAfter`` (the default),
  ``discard_after``, or one's own. ``JetStreamConsumer.batched`` serves a batch endpoint (many
  requests per call, effects committed together; a failing message is isolated, ``batch``).
- ``JetStreamPublisher``: a blocking publish that waits for JetStream's ack, with PRODUCER spans.
- ``ensure_stream``; ``dead_letters`` / ``replay_dead_letters`` for the dead-letter stream;
  ``run_until_signal`` (from ``kit.lifecycle``) to run consumers until SIGTERM / SIGINT.
- ``NatsSecurity``: user/password, token, nkey seed or creds file, and TLS for every connection
  above, from ``EVENTSTREAM_NATS_*`` by default (``security``); consumers take ``auth=`` to
  require a bearer token in each message's headers.

The layers under the consumer, bottom up: ``connection`` (connect until stopped, backoff; shared
with the event store's relay), ``fetcher`` (the pull protocol), ``dispatcher`` (worker threads),
``settlement`` (policy and acks), ``upkeep`` (heartbeats, lag), put together by ``pull``; on the
publishing side ``pipeline`` (ordered, pipelined publishes with PRODUCER spans) under ``publisher``.
asyncio (nats-py) lives only inside this package; everything it exposes is synchronous.
"""

from kit.lifecycle import run_until_signal
from kit.nats.consumer import JetStreamConsumer
from kit.nats.deadletter import DeadLetter, dead_letters, replay_dead_letters
from kit.nats.message import Message
from kit.nats.publisher import JetStreamPublisher, Outgoing
from kit.nats.security import NatsSecurity
from kit.nats.settlement import Action, DeadLetterAfter, Settlement, SettlementPolicy, discard_after
from kit.nats.streams import ensure_stream

__all__ = [
    "Action",
    "DeadLetter",
    "DeadLetterAfter",
    "JetStreamConsumer",
    "JetStreamPublisher",
    "Message",
    "NatsSecurity",
    "Outgoing",
    "Settlement",
    "SettlementPolicy",
    "dead_letters",
    "discard_after",
    "ensure_stream",
    "replay_dead_letters",
    "run_until_signal",
]
