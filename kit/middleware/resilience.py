"""Resilience middleware: deadlines, retries, rate limits and circuit breaking.

Endpoints are synchronous and Python cannot pre-empt a running thread, so ``timeout`` is
cooperative: it narrows the request deadline in ``kit.context``, every kit client bounds its I/O by
what is left of it, and a call whose deadline has already passed is refused at once. ``retry`` uses
tenacity (exponential backoff with jitter, stop conditions), ``rate_limit`` uses limits (a moving
window in memory) and ``circuit_breaker`` uses pybreaker: well-kept libraries for the subtle parts
(jitter, window accounting, breaker state under threads) rather than hand-rolled copies.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import limits
import pybreaker
import tenacity
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from kit import context, errors
from kit.endpoint import Endpoint, Middleware, Req, Resp

ErrorPredicate = Callable[[BaseException], bool]


def is_retryable(exc: BaseException) -> bool:
    """Whether an error is worth retrying: a transient KitError (unavailable, deadline, exhausted)."""
    return isinstance(exc, errors.KitError) and exc.retryable


def is_infrastructure_failure(exc: BaseException) -> bool:
    """Whether an error says the dependency is unhealthy, as opposed to a business outcome.

    Business errors (not found, invalid argument, conflict, ...) are normal answers of a healthy
    service and must not open a circuit.
    """
    if not isinstance(exc, errors.KitError):
        return True
    return exc.code in (errors.Code.UNAVAILABLE, errors.Code.DEADLINE_EXCEEDED, errors.Code.INTERNAL)


def timeout(seconds: float) -> Middleware[Req, Resp]:
    """Give each call at most ``seconds`` (never extending an earlier deadline already in force)."""

    def middleware(next_endpoint: Endpoint[Req, Resp]) -> Endpoint[Req, Resp]:
        def endpoint(request: Req) -> Resp:
            with context.scope(timeout=seconds):
                context.check_deadline()
                return next_endpoint(request)

        return endpoint

    return middleware


class _StopAtDeadline(tenacity.stop.stop_base):
    """Stop retrying when the next sleep would run past the request deadline."""

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        remaining = context.current().remaining()
        return remaining is not None and remaining <= (retry_state.upcoming_sleep or 0.0)


def retry(
    attempts: int = 3,
    *,
    initial_backoff: float = 0.05,
    max_backoff: float = 2.0,
    jitter: float = 0.05,
    retry_on: ErrorPredicate = is_retryable,
) -> Middleware[Req, Resp]:
    """Retry failed calls up to ``attempts`` times in all, with exponential backoff and jitter.

    Only for idempotent endpoints. A call is retried when ``retry_on`` says so (transient kit
    errors by default), and never past the request deadline; the last error is re-raised.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    template = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts) | _StopAtDeadline(),
        wait=tenacity.wait_exponential_jitter(multiplier=initial_backoff, max=max_backoff, jitter=jitter),
        retry=tenacity.retry_if_exception(retry_on),
        reraise=True,
    )

    def middleware(next_endpoint: Endpoint[Req, Resp]) -> Endpoint[Req, Resp]:
        def endpoint(request: Req) -> Resp:
            # A copy per call keeps tenacity's per-call statistics apart between threads.
            return template.copy()(next_endpoint, request)

        return endpoint

    return middleware


def rate_limit(
    limit: str,
    *,
    key: Callable[[Req], str] | None = None,
) -> Middleware[Req, Resp]:
    """Refuse calls over ``limit`` (e.g. ``"100/second"``) with ``ResourceExhausted``.

    ``key`` splits the budget per caller (e.g. per customer id); without it one budget is shared.
    The error carries ``retry_after``: when the window frees a slot again.
    """
    item = limits.parse(limit)
    limiter = MovingWindowRateLimiter(MemoryStorage())

    def middleware(next_endpoint: Endpoint[Req, Resp]) -> Endpoint[Req, Resp]:
        def endpoint(request: Req) -> Resp:
            bucket = key(request) if key is not None else "all"
            if not limiter.hit(item, bucket):
                reset_at = limiter.get_window_stats(item, bucket).reset_time
                raise errors.ResourceExhausted(
                    f"rate limit of {limit} exceeded", retry_after=max(0.0, reset_at - time.time())
                )
            return next_endpoint(request)

        return endpoint

    return middleware


def circuit_breaker(
    *,
    fail_max: int = 5,
    reset_timeout: float = 30.0,
    is_failure: ErrorPredicate = is_infrastructure_failure,
    name: str | None = None,
) -> Middleware[Req, Resp]:
    """Open the circuit after ``fail_max`` consecutive failures; while open, fail fast.

    While open, calls raise ``Unavailable`` without reaching the endpoint; after ``reset_timeout``
    seconds one trial call goes through and closes the circuit on success. Only errors that
    ``is_failure`` accepts count (infrastructure failures by default, not business errors).
    """
    breaker = pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        exclude=[lambda exc: not is_failure(exc)],
        throw_new_error_on_trip=False,
        name=name,
    )

    def middleware(next_endpoint: Endpoint[Req, Resp]) -> Endpoint[Req, Resp]:
        def endpoint(request: Req) -> Resp:
            try:
                result: Resp = breaker.call(next_endpoint, request)
            except pybreaker.CircuitBreakerError:
                raise errors.Unavailable(
                    f"circuit {name or 'breaker'} is open", retry_after=reset_timeout
                ) from None
            return result

        return endpoint

    return middleware
