"""The HTTP transport: endpoints served by Flask and called through urllib3.

- ``HTTPServer``: an endpoint as a Flask view (decode, endpoint, encode, problem+json errors, a
  SERVER span and the request context); ``json_request`` / ``query_request`` / ``json_response``
  are the generic codecs.
- ``HTTPClient``: a remote HTTP endpoint as a local one (deadline, CLIENT span, errors mapped back);
  ``json_body_encoder`` / ``json_decoder`` are its codecs.
- ``install_problem_handlers`` / ``create_app`` / ``register``: the Flask app around them.
- ``kit.http.problem``: the RFC 9457 wire format of errors, both ways.
- ``EventStream``: Server-Sent Events over a generator (heartbeats, ``Last-Event-ID``, a bounded
  number of subscribers); ``Broadcaster`` fans items out to subscribers that cannot slow each other.
"""

from kit.http.app import create_app, install_problem_handlers, register
from kit.http.broadcast import Broadcaster, Subscription
from kit.http.client import HTTPClient, RequestEncoder, ResponseDecoder
from kit.http.codecs import (
    DEFAULT_MAX_BODY,
    empty_decoder,
    empty_response,
    json_body_encoder,
    json_decoder,
    json_request,
    json_response,
    no_body,
    query_request,
)
from kit.http.problem import HTTPProblem, error_from_response, problem_response
from kit.http.server import HTTPServer, RequestDecoder, ResponseEncoder
from kit.http.sse import EventStream, ServerSentEvent

__all__ = [
    "DEFAULT_MAX_BODY",
    "Broadcaster",
    "EventStream",
    "HTTPClient",
    "HTTPProblem",
    "HTTPServer",
    "RequestDecoder",
    "RequestEncoder",
    "ResponseDecoder",
    "ResponseEncoder",
    "ServerSentEvent",
    "Subscription",
    "create_app",
    "empty_decoder",
    "empty_response",
    "error_from_response",
    "install_problem_handlers",
    "json_body_encoder",
    "json_decoder",
    "json_request",
    "json_response",
    "no_body",
    "problem_response",
    "query_request",
    "register",
]
