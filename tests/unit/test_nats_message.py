"""kit.nats.message and the retry delays: reading JetStream deliveries without nats-py types."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError

from kit.nats.message import Message, from_nats, lower_headers
from kit.nats.pull import retry_delay


def raw(reply: str, headers: dict[str, str] | None = None) -> Msg:
    return Msg(_client=None, subject="ORDERS.created", reply=reply, data=b"{}", headers=headers)  # type: ignore[arg-type]


def test_reads_the_v2_ack_subject() -> None:
    message = from_nats(raw("$JS.ACK._.ACCHASH.ORDERS.payment.3.42.17.1700000000000000000.5.tok",
                            {"Event-Id": "e-1", "X-B3-TraceId": "abc"}))
    assert message == Message("ORDERS.created", b"{}", {"event-id": "e-1", "x-b3-traceid": "abc"},
                              stream_sequence=42, num_delivered=3)


def test_reads_the_v1_ack_subject() -> None:
    message = from_nats(raw("$JS.ACK.ORDERS.payment.1.9.9.1700000000000000000.0"))
    assert (message.stream_sequence, message.num_delivered) == (9, 1)
    assert message.headers == {}


def test_a_message_not_from_jetstream_is_refused() -> None:
    with pytest.raises(NotJSMessageError):
        from_nats(raw("_INBOX.abc"))


def test_headers_are_lower_cased_and_read_only() -> None:
    headers = lower_headers({"Event-Id": "e-1"})
    assert Message("s", b"", headers).header("EVENT-ID") == "e-1"
    assert Message("s", b"").header("missing", "none") == "none"
    with pytest.raises(TypeError):
        headers["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(("delivered", "retry_after", "expected"), [
    (1, None, 0.5), (2, None, 1.0), (5, None, 10.0), (9, None, 10.0), (1, 3.0, 3.0), (5, 3.0, 10.0),
])
def test_retry_delay_follows_the_backoff_and_honours_retry_after(
        delivered: int, retry_after: float | None, expected: float) -> None:
    assert retry_delay((0.5, 1, 2, 5, 10), delivered, retry_after) == expected


def test_no_backoff_means_no_delay() -> None:
    assert retry_delay((), 3) == 0.0
