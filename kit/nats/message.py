"""The message a JetStream consumer hands to its decoder, free of nats-py types.

``Message`` carries what a decoder needs: the subject, the body, the headers (keys lower-cased, so
``message.headers["event-id"]`` works whatever case the publisher used), the message's sequence in
its stream and how many times it has been delivered (1 on the first delivery).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from nats.aio.msg import Msg

_EMPTY: Mapping[str, str] = MappingProxyType({})

# $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>, and the
# newer form with <domain>.<account hash> after ACK and an optional random token at the end.
_V1_TOKENS = 9
_V2_MIN_TOKENS = 11


@dataclass(frozen=True)
class Message:
    """One delivery of a stream message: subject, body, lower-case headers, sequence, delivery count."""

    subject: str
    data: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    stream_sequence: int = 0
    num_delivered: int = 1

    def header(self, name: str, default: str = "") -> str:
        """The value of header ``name`` (any case), or ``default``."""
        return self.headers.get(name.lower(), default)


def lower_headers(headers: Mapping[str, str] | None) -> Mapping[str, str]:
    """``headers`` with lower-cased keys (read-only); the empty mapping for None."""
    if not headers:
        return _EMPTY
    return MappingProxyType({key.lower(): value for key, value in headers.items()})


def from_nats(raw: Msg) -> Message:
    """The ``Message`` of a JetStream delivery."""
    # The ack subject carries the delivery count and stream sequence; reading the two tokens
    # directly is several times cheaper than nats-py's full ``metadata`` (dates, dataclasses).
    tokens = (raw.reply or "").split(".")
    if len(tokens) == _V1_TOKENS and tokens[0] == "$JS":
        delivered, sequence = tokens[4], tokens[5]
    elif len(tokens) >= _V2_MIN_TOKENS and tokens[0] == "$JS":
        delivered, sequence = tokens[6], tokens[7]
    else:
        meta = raw.metadata  # raises NotJSMessageError for a message that is not from JetStream
        delivered, sequence = str(meta.num_delivered), str(meta.sequence.stream)
    return Message(
        subject=raw.subject,
        data=raw.data,
        headers=lower_headers(raw.headers),
        stream_sequence=int(sequence),
        num_delivered=int(delivered),
    )
