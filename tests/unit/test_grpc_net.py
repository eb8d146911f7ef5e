"""kit.grpc.net: the target of several replicas."""

from __future__ import annotations

import pytest

from kit.grpc.net import replicas_target


def test_replicas_are_resolved_into_one_ipv4_target() -> None:
    assert replicas_target("127.0.0.1:5001, localhost:5002") == "ipv4:127.0.0.1:5001,127.0.0.1:5002"


def test_ipv6_replicas_get_an_ipv6_target() -> None:
    assert replicas_target("[::1]:5001,[::1]:5002") == "ipv6:[::1]:5001,[::1]:5002"


@pytest.mark.parametrize("bad", ["127.0.0.1", "127.0.0.1:port", ":5001", "127.0.0.1:5001,[::1]:5002"])
def test_a_malformed_list_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        replicas_target(bad)
