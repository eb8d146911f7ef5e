"""What becomes of a handled message: the settlement policy, and the acks, naks and dead letters.

A ``SettlementPolicy`` turns a handler's ``Outcome`` into a ``Settlement``: ack, nak after a delay,
move to the dead-letter stream, or discard. ``DeadLetterAfter`` (the default) retries with backoff
up to ``max_deliver`` deliveries and then dead-letters, as watermill's poison queue does;
``discard_after`` terminates instead, for messages nobody will ever look at again. A kit user
passes either (or an own policy) to ``JetStreamConsumer(settlement=...)``.

``Settler`` carries a settlement out on one connection. A dead letter is published first and the
original terminated only after JetStream acknowledged the copy; if the dead-letter stream cannot
take it, the message is nak'd and dead-lettered on a later delivery, so it is never lost between
the two.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from kit.nats import deadletter
from kit.nats.handler import SKIPPED, Outcome, Verdict
from kit.nats.message import Message
from kit.nats.metrics import ConsumerMetrics

_LOG = logging.getLogger("kit.nats")


def retry_delay(backoff: Sequence[float], delivered: int, retry_after: float | None = None) -> float:
    """The nak delay after failed delivery number ``delivered``: its backoff step, or the error's wish.

    The last step repeats; an error's ``retry_after`` wins when it asks for longer.
    """
    delay = backoff[min(delivered, len(backoff)) - 1] if backoff and delivered > 0 else 0.0
    return max(delay, retry_after or 0.0)


class Action(enum.Enum):
    """How a message is settled with JetStream."""

    ACK = "ack"
    NAK = "nak"  # redeliver after ``delay``
    DEAD_LETTER = "dead letter"  # copy to the dead-letter stream, then terminate
    DISCARD = "discard"  # terminate: never redelivered, kept nowhere


@dataclass(frozen=True)
class Settlement:
    """A policy's decision for one message."""

    action: Action
    delay: float = 0.0
    reason: str = ""


class SettlementPolicy(Protocol):
    """Decides how a message is settled from its handler's outcome and its delivery count."""

    def settle(self, message: Message, outcome: Outcome) -> Settlement:
        """The settlement of ``message`` handled with ``outcome``."""


@dataclass(frozen=True)
class DeadLetterAfter:
    """Retry with ``backoff`` until ``max_deliver`` deliveries, then dead-letter (the default)."""

    max_deliver: int
    backoff: Sequence[float]
    give_up: Action = Action.DEAD_LETTER

    def settle(self, message: Message, outcome: Outcome) -> Settlement:
        """Ack, skip, release, retry with backoff, or give up with the reason."""
        verdict = outcome.verdict
        if verdict is Verdict.ACK or verdict is Verdict.SKIP:
            return Settlement(Action.ACK)
        if verdict is Verdict.RELEASE:
            return Settlement(Action.NAK)
        if verdict is Verdict.RETRY and message.num_delivered < self.max_deliver:
            delay = retry_delay(self.backoff, message.num_delivered, outcome.retry_after)
            return Settlement(Action.NAK, delay)
        reason = outcome.reason
        if verdict is Verdict.RETRY:
            reason = f"failed {message.num_delivered} deliveries, last: {reason}"
        return Settlement(self.give_up, reason=reason)


def discard_after(max_deliver: int, backoff: Sequence[float]) -> DeadLetterAfter:
    """Retry with ``backoff`` until ``max_deliver`` deliveries, then terminate the message."""
    return DeadLetterAfter(max_deliver, backoff, give_up=Action.DISCARD)


_REPLAY_FOR = deadletter.REPLAY_FOR.lower()


def settled_unhandled(message: Message, *, durable: str, max_deliver: int) -> Outcome | None:
    """The outcome of a message its handler must not see, or None to hand it over.

    A dead letter replayed for another consumer of the stream is skipped; a message delivered more
    than ``max_deliver`` times (its handler crashed or hung past the ack wait) is dead-lettered.
    """
    replay_for = message.headers.get(_REPLAY_FOR)
    if replay_for is not None and replay_for != durable:
        return SKIPPED
    if message.num_delivered > max_deliver:
        return Outcome(Verdict.DEAD_LETTER, f"delivered {message.num_delivered} times without being settled "
                                            "(the handler crashed or hung past the ack wait)")
    return None


class Settler:
    """Settles messages of one consumer on one connection, counting into its metrics."""

    def __init__(self, *, stream: str, durable: str, name: str, dead_letter_stream: str,
                 metrics: ConsumerMetrics, retry_later: float) -> None:
        self._stream = stream
        self._durable = durable
        self._name = name
        self._dead_letter_stream = dead_letter_stream
        self._subject = deadletter.dead_letter_subject(dead_letter_stream, stream, durable)
        self._metrics = metrics
        self._retry_later = retry_later
        self.dead_letter_failed = False  # set when the dead-letter stream refused: ensure it again

    async def settle(self, raw: Msg, settlement: Settlement) -> None:
        """Ack, nak or terminate ``raw`` (dead letters: see ``dead_letter``)."""
        action = settlement.action
        if action is Action.ACK:
            await raw.ack()
        elif action is Action.NAK:
            await (raw.nak(delay=settlement.delay) if settlement.delay else raw.nak())
            self._metrics.nakd.inc()
        elif action is Action.DISCARD:
            await raw.term()
            self._metrics.discarded.inc()
            _LOG.warning("consumer %s discarded %s: %s", self._name, raw.subject, settlement.reason)
        else:
            raise ValueError("dead letters are settled with dead_letter()")

    async def dead_letter(self, js: JetStreamContext, raw: Msg, message: Message, reason: str) -> bool:
        """Copy ``raw`` to the dead-letter stream, then terminate it; False if it was nak'd instead."""
        headers = deadletter.dead_letter_headers(
            raw.headers, reason=reason, stream=self._stream, subject=message.subject,
            sequence=message.stream_sequence, deliveries=message.num_delivered, consumer=self._durable)
        try:
            await js.publish(self._subject, raw.data, headers=headers, timeout=5.0,
                             stream=self._dead_letter_stream)
        except Exception as exc:  # keep the message; it comes back and is dead-lettered then
            _LOG.warning("consumer %s could not dead-letter %s #%d: %r", self._name, message.subject,
                         message.stream_sequence, exc)
            self.dead_letter_failed = True
            await raw.nak(delay=self._retry_later)
            self._metrics.nakd.inc()
            return False
        await raw.term()
        _LOG.warning("consumer %s dead-lettered %s #%d after %d deliveries: %s", self._name,
                     message.subject, message.stream_sequence, message.num_delivered, reason)
        self._metrics.dead_lettered.inc()
        self._metrics.dead_letters.inc()
        return True
