"""Zipkin v2 JSON encoding of finished spans, by py-zipkin's V2_JSON encoder.

py-zipkin's encoder takes seconds as floats and truncates to microseconds; kit keeps integer
microseconds, so half a microsecond is added before handing them over to land on the same value.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

# The package re-exports these without ``__all__``, so import them from where they are defined.
from py_zipkin.encoding._encoders import get_encoder
from py_zipkin.encoding._helpers import Endpoint as PyZipkinEndpoint
from py_zipkin.encoding._helpers import Span
from py_zipkin.encoding._types import Encoding, Kind

from kit.zipkin.span import Endpoint, ZipkinSpan

_ENCODER = get_encoder(Encoding.V2_JSON)
_KINDS = {kind.value: kind for kind in Kind if kind.value is not None}


@functools.lru_cache(maxsize=1024)
def _endpoint(endpoint: Endpoint | None) -> PyZipkinEndpoint | None:
    """py-zipkin's endpoint for ours; an ip that is neither IPv4 nor IPv6 is left out.

    Cached: the local endpoint is the same for every span and peers are few, while parsing
    addresses costs more than the rest of the encoding.
    """
    if endpoint is None:
        return None
    ipv4 = ipv6 = None
    if endpoint.ip:
        try:
            address = ipaddress.ip_address(endpoint.ip.strip("[]"))
        except ValueError:
            address = None
        if isinstance(address, ipaddress.IPv4Address):
            ipv4 = str(address)
        elif isinstance(address, ipaddress.IPv6Address):
            mapped = address.ipv4_mapped
            ipv4, ipv6 = (str(mapped), None) if mapped else (None, str(address))
    port = endpoint.port if endpoint.port and 0 < endpoint.port < 65536 else None
    if not (endpoint.service_name or ipv4 or ipv6 or port):
        return None
    return PyZipkinEndpoint(service_name=endpoint.service_name, ipv4=ipv4, ipv6=ipv6, port=port)


def to_py_zipkin(span: ZipkinSpan) -> Span:
    """The py-zipkin ``Span`` for a finished kit span."""
    context = span.context
    return Span(
        trace_id=context.trace_id,
        name=span.name,
        parent_id=context.parent_id,
        span_id=context.span_id,
        kind=_KINDS[span.kind.value],
        timestamp=(span.timestamp_us + 0.5) / 1_000_000,
        duration=(max(1, span.duration_us) + 0.5) / 1_000_000,
        local_endpoint=_endpoint(span.local),
        remote_endpoint=_endpoint(span.remote),
        debug=context.debug,
        tags=dict(span.tags),
    )


def encode_span(span: ZipkinSpan) -> str:
    """One span as Zipkin v2 JSON text."""
    encoded = str(_ENCODER.encode_span(to_py_zipkin(span)))
    if span.context.debug:
        # py-zipkin's V2 encoder drops the debug flag; Zipkin keeps debug spans past its sampling.
        encoded = encoded[:-1] + ', "debug": true}'
    return encoded


def encode_spans(encoded: Iterable[str]) -> bytes:
    """A JSON list of already encoded spans, as the body of ``POST /api/v2/spans``."""
    return str(_ENCODER.encode_queue(list(encoded))).encode("utf-8")


def span_to_json(span: ZipkinSpan) -> dict[str, Any]:
    """The Zipkin v2 JSON object of one span, decoded again (for tests and debugging)."""
    decoded: dict[str, Any] = json.loads(encode_span(span))
    return decoded
