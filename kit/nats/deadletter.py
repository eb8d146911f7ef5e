"""The dead-letter stream: where consumers put messages they gave up on, and how to list and replay them.

A dead letter is the original message (body and headers) published to ``<DLQ>.<stream>.<consumer>``
in the dead-letter stream (``DLQ`` by default, subjects ``DLQ.>``), with ``Kit-Dlq-*`` headers
saying why and from where: reason, original stream, subject and sequence, delivery count, consumer
and time. The original ``Nats-Msg-Id`` moves to ``Kit-Dlq-Msg-Id``, and the dead letter's own
message id is ``<stream>.<sequence>.<consumer>``, so a consumer that crashes between publishing a
dead letter and terminating the message does not store it twice.

``replay_dead_letters`` publishes dead letters back to their original subject and deletes them from
the dead-letter stream. A replay is meant for the consumer that gave up: it carries
``Kit-Replay-For: <consumer>`` and every other consumer of the stream acknowledges it without
handling it. Its message id is derived from the original one and the dead letter's id, so the
stream's de-duplication does not drop it as a copy of the original, yet replaying the same dead
letter twice stores it once.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from kit.errors import NotFound
from kit.nats.security import NatsSecurity
from kit.nats.streams import connection, ensure_stream_async, run_sync

DEFAULT_STREAM = "DLQ"

REASON = "Kit-Dlq-Reason"
STREAM = "Kit-Dlq-Stream"
SUBJECT = "Kit-Dlq-Subject"
SEQUENCE = "Kit-Dlq-Sequence"
DELIVERIES = "Kit-Dlq-Deliveries"
CONSUMER = "Kit-Dlq-Consumer"
FAILED_AT = "Kit-Dlq-Failed-At"
MSG_ID = "Kit-Dlq-Msg-Id"
REPLAY_FOR = "Kit-Replay-For"
REPLAY_OF = "Kit-Replay-Of"
NATS_MSG_ID = "Nats-Msg-Id"

_OWN = frozenset(h.lower() for h in (REASON, STREAM, SUBJECT, SEQUENCE, DELIVERIES, CONSUMER, FAILED_AT,
                                     MSG_ID, NATS_MSG_ID, "Nats-Expected-Stream"))
_MAX_REASON = 1024  # headers are not meant for tracebacks


@dataclass(frozen=True)
class DeadLetter:
    """A message a consumer gave up on; ``id`` is its sequence in the dead-letter stream."""

    id: int
    subject: str
    stream: str
    stream_sequence: int
    consumer: str
    reason: str
    deliveries: int
    failed_at: datetime.datetime | None
    data: bytes
    headers: Mapping[str, str]


def dead_letter_subject(dead_letter_stream: str, stream: str, consumer: str) -> str:
    """The subject a consumer's dead letters are published to."""
    return f"{dead_letter_stream}.{stream}.{consumer}"


async def ensure_dead_letter_stream(js: JetStreamContext, name: str = DEFAULT_STREAM, *,
                                    num_replicas: int = 1) -> None:
    """Create the dead-letter stream ``name`` on subjects ``name.>`` unless it exists.

    ``num_replicas`` should be those of the streams it serves: on a cluster, a dead-letter stream
    on one node is gone with that node.
    """
    await ensure_stream_async(js, name, [f"{name}.>"], description="Messages consumers gave up on",
                              num_replicas=num_replicas)


def dead_letter_headers(
    original: Mapping[str, str] | None, *, reason: str, stream: str, subject: str, sequence: int,
    deliveries: int, consumer: str,
) -> dict[str, str]:
    """The headers of a dead letter: the original ones plus where it came from and why."""
    headers = {key: value for key, value in (original or {}).items() if key.lower() not in _OWN}
    original_id = _get(original, NATS_MSG_ID)
    if original_id:
        headers[MSG_ID] = original_id
    # Header values are single lines.
    headers[REASON] = " ".join(reason.split())[:_MAX_REASON] or "unknown"
    headers[STREAM] = stream
    headers[SUBJECT] = subject
    headers[SEQUENCE] = str(sequence)
    headers[DELIVERIES] = str(deliveries)
    headers[CONSUMER] = consumer
    headers[FAILED_AT] = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
    headers[NATS_MSG_ID] = f"{stream}.{sequence}.{consumer}"
    return headers


def _get(headers: Mapping[str, str] | None, name: str) -> str:
    if not headers:
        return ""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return ""


def _parse_time(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _dead_letter(seq: int, data: bytes | None, raw_headers: Mapping[str, str] | None) -> DeadLetter:
    headers = dict(raw_headers or {})
    kept = {key: value for key, value in headers.items() if key.lower() not in _OWN}
    original_id = _get(headers, MSG_ID)
    if original_id:
        kept[NATS_MSG_ID] = original_id
    return DeadLetter(
        id=seq,
        subject=_get(headers, SUBJECT),
        stream=_get(headers, STREAM),
        stream_sequence=_int(_get(headers, SEQUENCE)),
        consumer=_get(headers, CONSUMER),
        reason=_get(headers, REASON),
        deliveries=_int(_get(headers, DELIVERIES)),
        failed_at=_parse_time(_get(headers, FAILED_AT)),
        data=data or b"",
        headers=MappingProxyType(kept),
    )


async def _read(js: JetStreamContext, stream: str) -> list[DeadLetter]:
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return []
    found: list[DeadLetter] = []
    seq = max(1, info.state.first_seq)
    while seq <= info.state.last_seq:
        try:
            raw = await js.get_msg(stream, seq, subject=f"{stream}.>", next=True)
        except NotFoundError:
            break
        if raw.seq is None:
            break
        found.append(_dead_letter(raw.seq, raw.data, raw.headers))
        seq = raw.seq + 1
    return found


def dead_letters(nats_url: str, stream: str = DEFAULT_STREAM, *,
                 security: NatsSecurity | None = None) -> list[DeadLetter]:
    """The dead letters waiting in ``stream``, oldest first (empty if the stream does not exist);
    ``security``: the connection's credentials (default: from the environment)."""

    async def read() -> list[DeadLetter]:
        async with connection(nats_url, name="kit-dlq", security=security) as client:
            return await _read(client.jetstream(), stream)

    return run_sync(read())


def replay_headers(letter: DeadLetter, dead_letter_stream: str) -> dict[str, str]:
    """The headers of a dead letter's replay (see the module docstring)."""
    headers = {key: value for key, value in letter.headers.items() if key.lower() != NATS_MSG_ID.lower()}
    original_id = _get(letter.headers, NATS_MSG_ID)
    base = original_id or f"{letter.stream}.{letter.stream_sequence}"
    headers[NATS_MSG_ID] = f"{base}.replay.{dead_letter_stream}.{letter.id}"
    headers[REPLAY_FOR] = letter.consumer
    headers[REPLAY_OF] = str(letter.id)
    return headers


def replay_dead_letters(nats_url: str, ids: Iterable[int] | None = None,
                        stream: str = DEFAULT_STREAM, *, security: NatsSecurity | None = None) -> int:
    """Publish dead letters (all, or those with ``ids``) back to their subjects; returns how many.

    Each is deleted from the dead-letter stream once JetStream has stored its replay. Unknown ids
    raise ``NotFound`` before anything is replayed.
    """
    wanted = None if ids is None else set(ids)

    async def replay() -> int:
        async with connection(nats_url, name="kit-dlq", security=security) as client:
            js = client.jetstream()
            letters = await _read(js, stream)
            if wanted is not None:
                missing = wanted - {letter.id for letter in letters}
                if missing:
                    raise NotFound(f"no dead letters with ids {sorted(missing)} in stream {stream}")
                letters = [letter for letter in letters if letter.id in wanted]
            for letter in letters:
                await js.publish(letter.subject, letter.data, stream=letter.stream or None,
                                 headers=replay_headers(letter, stream))
                await js.delete_msg(stream, letter.id)
            return len(letters)

    return run_sync(replay())
