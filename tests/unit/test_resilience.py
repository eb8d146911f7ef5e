import time

import pytest

from kit import context, errors
from kit.middleware.resilience import circuit_breaker, rate_limit, retry, timeout


class Flaky:
    """An endpoint that fails with the given errors in turn, then answers."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self, request: str) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return f"ok:{request}"


def test_timeout_narrows_the_deadline_seen_downstream():
    seen = []
    endpoint = timeout(5.0)(lambda r: seen.append(context.current().remaining()) or r)
    assert endpoint("x") == "x"
    assert 4.0 < seen[0] <= 5.0
    assert context.current().deadline is None


def test_timeout_refuses_a_call_whose_deadline_has_passed():
    flaky = Flaky()
    with context.scope(deadline=time.monotonic() - 0.1), pytest.raises(errors.DeadlineExceeded):
        timeout(5.0)(flaky)("x")
    assert flaky.calls == 0


def test_retry_retries_transient_errors_then_succeeds():
    flaky = Flaky(errors.Unavailable("down"), errors.DeadlineExceeded("slow"))
    assert retry(3, initial_backoff=0.001, jitter=0.001)(flaky)("x") == "ok:x"
    assert flaky.calls == 3


def test_retry_gives_up_after_attempts_with_the_last_error():
    flaky = Flaky(errors.Unavailable("1"), errors.Unavailable("2"), errors.Unavailable("3"))
    with pytest.raises(errors.Unavailable, match="2"):
        retry(2, initial_backoff=0.001, jitter=0.001)(flaky)("x")
    assert flaky.calls == 2


def test_retry_does_not_retry_business_errors():
    flaky = Flaky(errors.NotFound("gone"))
    with pytest.raises(errors.NotFound):
        retry(5, initial_backoff=0.001)(flaky)("x")
    assert flaky.calls == 1


def test_retry_stops_before_sleeping_past_the_deadline():
    flaky = Flaky(*[errors.Unavailable("down")] * 10)
    with context.scope(timeout=0.05), pytest.raises(errors.Unavailable):
        retry(10, initial_backoff=1.0, max_backoff=1.0, jitter=0)(flaky)("x")
    assert flaky.calls == 1


def test_retry_rejects_zero_attempts():
    with pytest.raises(ValueError):
        retry(0)


def test_rate_limit_refuses_over_the_limit_with_retry_after():
    endpoint = rate_limit("3/minute")(lambda r: r)
    assert [endpoint(i) for i in range(3)] == [0, 1, 2]
    with pytest.raises(errors.ResourceExhausted) as info:
        endpoint(4)
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 60


def test_rate_limit_keys_budgets_apart():
    endpoint = rate_limit("1/minute", key=lambda r: r)(lambda r: r)
    assert endpoint("a") == "a"
    assert endpoint("b") == "b"
    with pytest.raises(errors.ResourceExhausted):
        endpoint("a")


def test_circuit_opens_after_failures_and_fails_fast():
    flaky = Flaky(*[errors.Unavailable("down")] * 3)
    endpoint = circuit_breaker(fail_max=3, reset_timeout=60, name="store")(flaky)
    for _ in range(3):
        with pytest.raises(errors.Unavailable, match="down"):
            endpoint("x")
    with pytest.raises(errors.Unavailable, match="circuit store is open"):
        endpoint("x")
    assert flaky.calls == 3


def test_circuit_ignores_business_errors():
    flaky = Flaky(*[errors.NotFound("no")] * 5)
    endpoint = circuit_breaker(fail_max=2, reset_timeout=60)(flaky)
    for _ in range(5):
        with pytest.raises(errors.NotFound):
            endpoint("x")
    assert endpoint("x") == "ok:x"


def test_circuit_half_opens_after_the_reset_timeout():
    flaky = Flaky(errors.Unavailable("down"))
    endpoint = circuit_breaker(fail_max=1, reset_timeout=0.05)(flaky)
    with pytest.raises(errors.Unavailable, match="down"):
        endpoint("x")
    with pytest.raises(errors.Unavailable, match="open"):
        endpoint("x")
    time.sleep(0.1)
    assert endpoint("x") == "ok:x"
