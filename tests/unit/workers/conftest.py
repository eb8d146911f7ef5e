"""Fixtures of the workers' unit tests."""

from __future__ import annotations

import pytest
from workers_fakes import World


@pytest.fixture
def world() -> World:
    """Every worker service over one set of in-memory fakes."""
    return World()
