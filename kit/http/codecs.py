"""Generic HTTP codecs, so services write no per-method encode/decode functions.

Server side: ``json_request`` and ``query_request`` build decoders from a request dataclass,
``json_response`` and ``empty_response`` build encoders. Client side: ``json_body_encoder`` /
``no_body`` encode a request, ``json_decoder`` / ``empty_decoder`` decode a response.

Where a request field comes from, lowest precedence first: the JSON body, the query string (opt-in
for ``json_request``), the route's path parameters; the URL names the resource, so it wins.
Query values are strings that validation converts (``?limit=5`` fills an ``int``); a field typed as a
list, tuple or set takes every repeated value (``?status=a&status=b``), any other field the first.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Callable, Mapping
from typing import IO, Any, TypeVar

import flask
from werkzeug.datastructures import MultiDict

from kit import codec
from kit.errors import Internal, InvalidArgument
from kit.http.problem import HTTPProblem
from kit.http.server import RequestDecoder, ResponseEncoder

T = TypeVar("T")

DEFAULT_MAX_BODY = 1 << 20
"""Largest request body ``json_request`` reads by default (1 MiB); larger bodies get a 413."""

_JSON_OBJECT = dict[str, Any]
_SEQUENCES = frozenset({list, tuple, set, frozenset, collections.abc.Sequence,
                        collections.abc.MutableSequence, collections.abc.Set,
                        collections.abc.MutableSet})


def read_json_body(request: flask.Request, max_body: int = DEFAULT_MAX_BODY) -> bytes:
    """The raw JSON body of ``request``, at most ``max_body`` bytes; b"" when there is no body.

    Raises ``HTTPProblem`` 415 when a body is not JSON and 413 when it is too big; a body
    announced too big is refused without reading it, a chunked one is read no further than the limit.
    """
    length = request.content_length
    if length == 0 or (length is None and "chunked" not in
                       request.environ.get("HTTP_TRANSFER_ENCODING", "").lower()):
        return b""
    if not request.is_json:
        got = request.mimetype or "no Content-Type"
        raise HTTPProblem(415, f"the body must be application/json, not {got}")
    if length is not None:
        if length > max_body:
            raise HTTPProblem(413, f"the body must not exceed {max_body} bytes")
        return request.get_data()
    return _read_at_most(request.stream, max_body)


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    buf = bytearray()
    while True:
        chunk = stream.read(min(1 << 16, limit + 1 - len(buf)))
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > limit:
            raise HTTPProblem(413, f"the body must not exceed {limit} bytes")


def json_request(cls: type[T], *, path_params: bool = True, query: bool = False,
                 max_body: int = DEFAULT_MAX_BODY) -> RequestDecoder[T]:
    """A decoder that validates the JSON body into ``cls``, merged with path and query parameters.

    An empty body counts as ``{}``. Bad JSON or fields raise ``InvalidArgument`` (400) naming the
    fields at fault (``body`` for malformed JSON); a non-JSON body is a 415, a too-big one a 413.
    """
    sequences = sequence_fields(cls) if query else frozenset()

    def decode(request: flask.Request, view_args: Mapping[str, Any]) -> T:
        raw = read_json_body(request, max_body)
        extra: dict[str, Any] | None = None
        if query and request.environ.get("QUERY_STRING"):
            extra = query_values(request.args, sequences)
        if path_params and view_args:
            extra = {**extra, **view_args} if extra else dict(view_args)
        if extra is None:
            # The common case goes straight from bytes to the dataclass: no intermediate dict.
            return codec.loads(cls, raw) if raw else codec.decode(cls, {})
        data = codec.loads(_JSON_OBJECT, raw) if raw else {}
        data.update(extra)
        return codec.decode(cls, data)

    return decode


def query_request(cls: type[T], *, path_params: bool = True) -> RequestDecoder[T]:
    """A decoder that validates the query string and path parameters into ``cls`` (for GETs)."""
    sequences = sequence_fields(cls)

    def decode(request: flask.Request, view_args: Mapping[str, Any]) -> T:
        # Reading the environ first spares building an empty MultiDict on every query-less GET.
        data = query_values(request.args, sequences) if request.environ.get("QUERY_STRING") else {}
        if path_params and view_args:
            data.update(view_args)
        return codec.decode(cls, data)

    return decode


def query_values(args: MultiDict[str, str], sequences: frozenset[str]) -> dict[str, Any]:
    """Query arguments as a dict: a list for the ``sequences`` fields, the first value otherwise."""
    return {key: args.getlist(key) if key in sequences else args[key] for key in args}


def sequence_fields(cls: object) -> frozenset[str]:
    """The names of ``cls``'s fields typed as a list, tuple or set (optional or not)."""
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):
        return frozenset()
    return frozenset(name for name, hint in hints.items() if _is_sequence(hint))


def _is_sequence(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _is_sequence(typing.get_args(hint)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_is_sequence(arg) for arg in typing.get_args(hint) if arg is not type(None))
    return origin in _SEQUENCES or hint in _SEQUENCES


def json_response(status: int = 200, headers_fn: Callable[[T], Mapping[str, str]] | None = None
                  ) -> ResponseEncoder[T]:
    """An encoder that answers ``status`` with the response as JSON, plus ``headers_fn(resp)``
    (e.g. a ``Location`` for a 201)."""

    def encode(resp: T) -> flask.Response:
        response = flask.Response(codec.dumps(resp), status, content_type="application/json")
        if headers_fn is not None:
            response.headers.update(headers_fn(resp))
        return response

    return encode


def empty_response(status: int = 204) -> ResponseEncoder[object]:
    """An encoder that answers ``status`` with no body, whatever the endpoint returned."""

    def encode(resp: object) -> flask.Response:
        del resp
        return flask.Response(b"", status)

    return encode


def json_body_encoder(request: object, headers: dict[str, str]) -> bytes:
    """Client side: send the request as a JSON body."""
    headers["Content-Type"] = "application/json"
    return codec.dumps(request)


def no_body(request: object, headers: dict[str, str]) -> None:
    """Client side: send no body (every field travels in the URL template)."""
    del request, headers


def json_decoder(cls: type[T]) -> Callable[[int, Mapping[str, str], bytes], T]:
    """Client side: a decoder that validates a successful JSON response into ``cls``.

    A body that does not fit is the server's fault, not the caller's: it raises ``Internal``.
    """

    def decode(status: int, headers: Mapping[str, str], body: bytes) -> T:
        del status, headers
        try:
            return codec.loads(cls, body)
        except InvalidArgument as exc:
            raise Internal(f"unexpected response body: {exc.message}") from None

    return decode


def empty_decoder(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Client side: ignore the response body (a 204, or a response the caller does not need)."""
    del status, headers, body
