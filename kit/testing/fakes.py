"""Fake endpoints for per-layer unit tests: stand-ins for a kit client that record what they got.

A kit client (``HTTPClient``, ``GRPCClient``, ``json_client``) is an endpoint, so a service under test
takes a ``FakeEndpoint`` wherever it would take a client: program its answers (responses or
errors, in turn), call the service, then assert on ``calls``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Generic

from kit.endpoint import Req, Resp


class FakeEndpoint(Generic[Req, Resp]):
    """An endpoint that records each request and answers from a script.

    ``answers`` are used in turn: an exception instance is raised, anything else returned. When
    the script runs out, ``default`` answers (a response, an exception, or a function of the
    request); with neither, the call raises ``AssertionError`` naming the unexpected request.
    """

    def __init__(
        self,
        answers: Iterable[Resp | BaseException] = (),
        *,
        default: Resp | BaseException | Callable[[Req], Resp] | None = None,
    ) -> None:
        self._answers = list(answers)
        self._default = default
        self._lock = threading.Lock()
        self.calls: list[Req] = []

    def __call__(self, request: Req) -> Resp:
        """Record the request and give the next scripted answer."""
        with self._lock:
            self.calls.append(request)
            answer: object = self._answers.pop(0) if self._answers else self._default
        if answer is None:
            raise AssertionError(f"unexpected call with {request!r}: no answer scripted")
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(request)  # type: ignore[no-any-return]
        return answer  # type: ignore[return-value]

    @property
    def last(self) -> Req:
        """The most recent request (AssertionError if there was none)."""
        if not self.calls:
            raise AssertionError("the fake endpoint was never called")
        return self.calls[-1]
