"""Tests that need an installed program: skip on a developer's machine, fail where it must be there.

``unavailable(reason)`` skips the calling test with ``reason`` (which names the install command),
unless the ``CI`` environment variable is set: CI installs what these tests need, so there a missing
program is a failure, never a silent pass. Needs pytest, imported only when called.
"""

from __future__ import annotations

import os
from typing import NoReturn


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test with ``reason``; under CI (``CI`` set) fail it instead."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it, so CI must run this test)")
    pytest.skip(reason)
