"""Polling for tests: wait until a condition holds, instead of sleeping a fixed time and hoping.

``eventually(condition)`` calls ``condition`` until it returns a truthy value and returns that value;
after ``timeout`` seconds it fails with ``AssertionError`` naming what was awaited (``describe()``
is called only then, so it may be costly: a dump of state that helps read the failure).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(condition: Callable[[], T], timeout: float = 20.0, *, interval: float = 0.02,
               describe: Callable[[], str] = lambda: "") -> T:
    """The first truthy result of ``condition()``; ``AssertionError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = describe()
            raise AssertionError(f"condition not met within {timeout}s" + (f"\n{detail}" if detail else ""))
        time.sleep(interval)
