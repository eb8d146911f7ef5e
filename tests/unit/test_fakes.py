import pytest

from kit import errors
from kit.testing.fakes import FakeEndpoint


def test_answers_in_turn_and_records_calls():
    fake: FakeEndpoint[str, int] = FakeEndpoint([1, errors.NotFound("gone"), 3])
    assert fake("a") == 1
    with pytest.raises(errors.NotFound, match="gone"):
        fake("b")
    assert fake("c") == 3
    assert fake.calls == ["a", "b", "c"]
    assert fake.last == "c"


def test_default_answers_after_the_script_and_may_compute():
    fake: FakeEndpoint[str, int] = FakeEndpoint(default=len)
    assert fake("four") == 4
    failing: FakeEndpoint[str, int] = FakeEndpoint(default=errors.Unavailable("down"))
    with pytest.raises(errors.Unavailable):
        failing("x")


def test_an_unscripted_call_fails_the_test_loudly():
    fake: FakeEndpoint[str, int] = FakeEndpoint()
    with pytest.raises(AssertionError, match="unexpected call with 'x'"):
        fake("x")
    with pytest.raises(AssertionError, match="never called"):
        _ = FakeEndpoint().last
