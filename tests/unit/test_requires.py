"""A test whose program is missing skips on a developer's machine and fails under CI."""

import pytest

from kit.testing.requires import unavailable


def test_skips_with_the_reason_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        unavailable("Chromium not found: apt-get install -y chromium")


def test_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run this test"):
        unavailable("Chromium not found: apt-get install -y chromium")
