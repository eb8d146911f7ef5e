"""Zipkin v2 JSON encoding of finished spans.

``span_dict`` builds the Zipkin v2 object of a span directly and ``encode_batch`` serialises a whole
batch with one ``json.dumps``: several times cheaper than building py-zipkin ``Span`` objects and
encoding them one by one, and it runs for every span. The output is the one py-zipkin's V2_JSON
encoder gives for the same span (plus the ``debug`` flag it leaves out): ``to_py_zipkin`` builds
that reference, and the tests hold the two encodings equal and validate both against Zipkin's schema.
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

_PY_ZIPKIN_V2 = get_encoder(Encoding.V2_JSON)
_KINDS = {kind.value: kind for kind in Kind if kind.value is not None}
_dumps = json.JSONEncoder(separators=(",", ":")).encode


@functools.lru_cache(maxsize=1024)
def _parsed(endpoint: Endpoint) -> tuple[str | None, str | None, str | None, int | None] | None:
    """(service name, ipv4, ipv6, port) of an endpoint; an ip that is neither IPv4 nor IPv6 is left out.

    Cached: the local endpoint is the same for every span and peers are few, while parsing
    addresses costs more than the rest of the encoding.
    """
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
    return endpoint.service_name, ipv4, ipv6, port


@functools.lru_cache(maxsize=1024)
def _endpoint_json(endpoint: Endpoint) -> dict[str, Any] | None:
    """The Zipkin v2 endpoint object; shared between spans, so never mutated."""
    parsed = _parsed(endpoint)
    if parsed is None:
        return None
    service_name, ipv4, ipv6, port = parsed
    found: dict[str, Any] = {}
    if service_name:
        found["serviceName"] = service_name
    if port:
        found["port"] = port
    if ipv4 is not None:
        found["ipv4"] = ipv4
    if ipv6 is not None:
        found["ipv6"] = ipv6
    return found


def span_dict(span: ZipkinSpan) -> dict[str, Any]:
    """The Zipkin v2 JSON object of a finished span, as Python values (endpoints are shared)."""
    context = span.context
    encoded: dict[str, Any] = {"traceId": context.trace_id, "id": context.span_id}
    if span.name:
        encoded["name"] = span.name
    if context.parent_id:
        encoded["parentId"] = context.parent_id
    if span.timestamp_us:
        encoded["timestamp"] = span.timestamp_us
    encoded["duration"] = max(1, span.duration_us)
    encoded["kind"] = span.kind.value
    local = _endpoint_json(span.local) if span.local is not None else None
    if local:
        encoded["localEndpoint"] = local
    remote = _endpoint_json(span.remote) if span.remote is not None else None
    if remote:
        encoded["remoteEndpoint"] = remote
    if span.tags:
        encoded["tags"] = span.tags
    if context.debug:
        # Zipkin keeps debug spans past its own sampling.
        encoded["debug"] = True
    return encoded


def encode_batch(spans: Iterable[dict[str, Any]]) -> bytes:
    """The body of ``POST /api/v2/spans``: a JSON list of span objects from ``span_dict``."""
    return _dumps(list(spans)).encode("utf-8")


def encode_span(span: ZipkinSpan) -> str:
    """One span as Zipkin v2 JSON text."""
    return _dumps(span_dict(span))


def span_to_json(span: ZipkinSpan) -> dict[str, Any]:
    """The Zipkin v2 JSON object of one span, decoded again (for tests and debugging)."""
    decoded: dict[str, Any] = json.loads(encode_span(span))
    return decoded


def _py_zipkin_endpoint(endpoint: Endpoint | None) -> PyZipkinEndpoint | None:
    parsed = None if endpoint is None else _parsed(endpoint)
    if parsed is None:
        return None
    service_name, ipv4, ipv6, port = parsed
    return PyZipkinEndpoint(service_name=service_name, ipv4=ipv4, ipv6=ipv6, port=port)


def to_py_zipkin(span: ZipkinSpan) -> Span:
    """The py-zipkin ``Span`` for a finished kit span: the reference the lean encoding must match.

    py-zipkin takes seconds as floats and truncates to microseconds; kit keeps integer
    microseconds, so half a microsecond is added to land on the same value.
    """
    context = span.context
    return Span(
        trace_id=context.trace_id,
        name=span.name,
        parent_id=context.parent_id,
        span_id=context.span_id,
        kind=_KINDS[span.kind.value],
        timestamp=(span.timestamp_us + 0.5) / 1_000_000,
        duration=(max(1, span.duration_us) + 0.5) / 1_000_000,
        local_endpoint=_py_zipkin_endpoint(span.local),
        remote_endpoint=_py_zipkin_endpoint(span.remote),
        debug=context.debug,
        tags=dict(span.tags),
    )


def py_zipkin_json(span: ZipkinSpan) -> dict[str, Any]:
    """The Zipkin v2 object py-zipkin's V2_JSON encoder gives for ``span`` (it drops ``debug``)."""
    decoded: dict[str, Any] = json.loads(str(_PY_ZIPKIN_V2.encode_span(to_py_zipkin(span))))
    return decoded
