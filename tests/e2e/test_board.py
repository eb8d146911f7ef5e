"""The live board of a running system in a real browser: an order's row goes Pending -> Approved.

`eventstream up` runs the whole system; headless Chromium (Playwright driving Debian's
``chromium``, as in ``test_trace_server``) opens ``/board``, and only then is an order placed over
HTTP. The page is never reloaded: a MutationObserver records every status the order's row shows,
which must be Pending and then Approved. Meanwhile a second subscriber to the event stream that
never reads stays connected, and must slow neither the page nor the workers. Clicking the order
shows its timeline with the saga's state and the trace link. The screenshot is saved as
``test-artifacts/board.png``. Without Chromium or Playwright the test skips (fails under CI).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from e2e_browser import artifact, headless_chromium
from e2e_system import System

from kit.testing.net import free_port
from kit.testing.wait import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# Tracing on so that events carry trace ids for the link; no collector listens (spans are dropped).
ZIPKIN = f"http://127.0.0.1:{free_port()}"

# Records each status text every order row shows, in order, from the moment it is installed.
OBSERVE = """() => {
  window.seen = {};
  const note = (row) => {
    const cell = row.querySelector && row.querySelector('.status');
    if (!cell) { return; }
    const id = row.id.replace('order-', '');
    const list = window.seen[id] = window.seen[id] || [];
    if (list[list.length - 1] !== cell.textContent) { list.push(cell.textContent); }
  };
  new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach(note)))
    .observe(document.querySelector('#orders tbody'), {childList: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = System(tmp_path_factory.mktemp("board") / "system", zipkin_url=ZIPKIN)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_the_board_shows_an_order_go_from_pending_to_approved_without_reloading(system: System) -> None:
    screenshot = artifact("board.png")
    with headless_chromium() as browser:
        stalled = socket.create_connection(("127.0.0.1", system.http_port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /api/events/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            page.goto(f"{system.base_url}/board")
            page.wait_for_function("document.getElementById('connection').textContent === 'live'")
            page.evaluate(OBSERVE)
            loads = page.evaluate("performance.getEntriesByType('navigation').length")

            order = system.place(2)  # an order to approve
            assert order.expected_status == "Approved"

            def statuses() -> list[str] | None:
                seen = page.evaluate(f"(window.seen || {{}})[{order.order_id!r}] || []")
                return list(seen) if "Approved" in seen else None

            seen = eventually(statuses, timeout=60, interval=0.1, describe=lambda: (
                f"row statuses: {page.evaluate('window.seen')}\n{system.log()}"))
            assert seen == ["Pending", "Approved"]
            assert page.evaluate("performance.getEntriesByType('navigation').length") == loads
            assert page.evaluate("typeof window.seen") == "object"  # the same document all along

            eventually(lambda: page.inner_text("#backlog").isdigit(), timeout=30, interval=0.2)
            assert page.inner_text("#dead-letters").isdigit()
            eventually(lambda: int(page.inner_text("#count-approved")) >= 1, timeout=30, interval=0.2)

            page.click(f"#order-{order.order_id} a")
            page.wait_for_selector("#timeline:not([hidden])")
            eventually(lambda: "saga: approved" in page.inner_text("#timeline"), timeout=30, interval=0.2,
                       describe=lambda: page.inner_text("#timeline"))
            timeline = page.inner_text("#timeline")
            assert "ORDERS.created" in timeline and "ORDERS.approved" in timeline
            link = page.get_attribute("#trace-link", "href") or ""
            assert link.startswith(f"{ZIPKIN}/zipkin/traces/")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            stalled.close()
    assert screenshot.stat().st_size > 10_000
