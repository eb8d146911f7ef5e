"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright for Python."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kit.testing.requires import unavailable

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("EVENTSTREAM_TEST_ARTIFACTS") or ROOT / "test-artifacts")
CHROMIUM = os.environ.get("EVENTSTREAM_CHROMIUM") or "/usr/bin/chromium"
# As root, on a machine whose network is closed: no sandbox, and no background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def artifact(name: str) -> Path:
    """Where a test saves ``name`` (a screenshot) for CI to keep."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """A launched Playwright browser, closed afterwards; the test is unavailable without one."""
    if not Path(CHROMIUM).is_file():
        unavailable(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: python3 -m pip install -e '.[test]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
