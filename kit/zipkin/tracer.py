"""``ZipkinTracer``: the ``kit.tracing.Tracer`` that records Zipkin spans with B3 propagation.

Span relationships:

- SERVER and CONSUMER spans continue the caller's trace read from the incoming B3 headers: a new
  span whose parent is the caller's span (kit does not share span ids between client and server, so
  every span has exactly one recording host). Without valid B3 they continue the current span, if
  any, else start a new trace.
- CLIENT and PRODUCER spans are children of the current span (``kit.context.current().trace``), or
  start a new trace outside any span. Given ``headers`` with a valid B3 context, they are children
  of that context instead: a message published later on behalf of an earlier request (an outbox
  relay publishing a stored event) joins the trace of the request that stored it.

The sampling decision is made once, at the root, with probability ``sample_rate``; it then travels
with the context (B3 ``sampled``) so every downstream service agrees. Unsampled spans still get ids
and propagate them with ``sampled=0``, but are never reported. A debug flag (``X-B3-Flags: 1`` /
``b3: d``) forces sampling.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, MutableMapping

from kit import context as kit_context
from kit.context import TraceContext
from kit.tracing import SpanKind
from kit.zipkin import b3
from kit.zipkin.span import Endpoint, Reporter, ZipkinSpan

_getrandbits = random.getrandbits
_random = random.random


def new_span_id() -> str:
    """A random, non-zero 64-bit id as 16 lower-case hex characters."""
    return f"{_getrandbits(64) or 1:016x}"


def new_trace_id() -> str:
    """A random, non-zero 128-bit trace id as 32 lower-case hex characters."""
    return f"{_getrandbits(128) or 1:032x}"


class ZipkinTracer:
    """Opens Zipkin spans for the transports and hands sampled, finished ones to ``reporter``.

    ``service_name`` names the local endpoint of every span (lower-case, as Zipkin expects);
    ``ip`` / ``port`` optionally add the host's address and listen port.
    """

    def __init__(
        self,
        service_name: str,
        reporter: Reporter,
        *,
        sample_rate: float = 1.0,
        ip: str | None = None,
        port: int | None = None,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be between 0.0 and 1.0, got {sample_rate!r}")
        self.service_name = service_name.lower()
        self.reporter = reporter
        self.sample_rate = sample_rate
        self.local = Endpoint(self.service_name, ip, port)

    def _decide(self) -> bool:
        rate = self.sample_rate
        return rate >= 1.0 or (rate > 0.0 and _random() < rate)

    def _child_of(self, parent: TraceContext) -> TraceContext:
        sampled = parent.sampled if parent.sampled is not None else self._decide()
        return TraceContext(parent.trace_id, new_span_id(), parent.span_id, sampled, parent.debug)

    def _root(self, sampled: bool | None = None, debug: bool = False) -> TraceContext:
        if debug:
            sampled = True
        elif sampled is None:
            sampled = self._decide()
        return TraceContext(new_trace_id(), new_span_id(), None, sampled, debug)

    def span(
        self, name: str, kind: SpanKind, *, headers: Mapping[str, str] | None = None
    ) -> ZipkinSpan:
        """Open a span named ``name`` (see the module docstring for how its parent is chosen)."""
        context: TraceContext
        incoming = b3.EMPTY if headers is None else b3.extract(headers)
        if incoming.context is not None:
            context = self._child_of(incoming.context)
        elif incoming is not b3.EMPTY and (kind is SpanKind.SERVER or kind is SpanKind.CONSUMER):
            context = self._root(incoming.sampled, incoming.debug)
        else:
            current = kit_context.current().trace
            context = self._root() if current is None else self._child_of(current)
        return ZipkinSpan(name, kind, context, self.local, self.reporter)

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Write the current span's context into ``headers`` as multi-header B3, if a span is open."""
        current = kit_context.current().trace
        if current is not None:
            b3.inject(current, headers)
