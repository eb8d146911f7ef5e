"""Metrics are created once per registry, and a new registry gets its own."""

import gc

from prometheus_client import CollectorRegistry, Counter

from kit.registries import per_registry


@per_registry
def requests(registry: CollectorRegistry) -> Counter:
    return Counter("things", "Things counted.", registry=registry)


def test_the_same_registry_gets_the_same_metrics():
    registry = CollectorRegistry()
    assert requests(registry) is requests(registry)  # a second registration would raise


def test_a_new_registry_gets_new_metrics_even_at_a_reused_address():
    for _ in range(50):
        registry = CollectorRegistry()
        requests(registry).inc(3)
        assert registry.get_sample_value("things_total") == 3
        del registry
        gc.collect()  # the next registry may well land at the address of this one
