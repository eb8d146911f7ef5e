"""Prometheus metrics created once per registry.

A metric may be registered in a ``CollectorRegistry`` only once, while the code that needs it (an
endpoint's middleware, a consumer, a relay) may be built many times. ``per_registry`` turns a function
that creates metrics in a registry into one that creates them on first use and hands back the same
objects afterwards. Registries are held weakly: a registry that is gone takes its metrics with it, and
a new one, even at the same address, gets its own.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import REGISTRY, CollectorRegistry

T = TypeVar("T")


def per_registry(create: Callable[[CollectorRegistry], T]) -> Callable[[CollectorRegistry], T]:
    """``create(registry)`` run once per registry; later calls return what the first one made."""
    made: weakref.WeakKeyDictionary[CollectorRegistry, T] = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    @functools.wraps(create)
    def cached(registry: CollectorRegistry = REGISTRY) -> T:
        with lock:
            try:
                return made[registry]
            except KeyError:
                metrics = made[registry] = create(registry)
                return metrics

    return cached
