"""``kit.testing.wait.eventually``: returns the first truthy result, fails with what was awaited."""

from __future__ import annotations

import re

import pytest

from kit.testing.wait import eventually


def test_returns_the_first_truthy_result() -> None:
    calls = iter([0, None, "", "ready", "later"])
    assert eventually(lambda: next(calls), timeout=1.0, interval=0.001) == "ready"


def test_fails_after_the_timeout_with_the_description() -> None:
    with pytest.raises(AssertionError, match=re.escape("within 0.05s\nstate: empty")):
        eventually(lambda: False, timeout=0.05, interval=0.01, describe=lambda: "state: empty")
