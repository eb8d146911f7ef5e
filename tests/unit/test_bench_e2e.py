"""The e2e benchmark's pure helpers: process roles, CPU per order, phase checks, results."""

import pytest

from eventstream.benchmarks.e2e import Phase, check_phase, cpu_ms_per_order, results
from eventstream.benchmarks.e2e_driver import OrderTiming, RunOutcome, order_body
from eventstream.benchmarks.e2e_up import role_of


@pytest.mark.parametrize(("argv", "role"), [
    (["/venv/bin/nats-server", "-js", "-p", "4222"], "nats-server"),
    (["/venv/bin/python", "-m", "eventstream", "worker", "payment", "--nats-url", "x"], "payment"),
    (["/venv/bin/python", "-m", "eventstream", "ordersvc", "--port", "3000"], "ordersvc"),
    (["/venv/bin/python", "-m", "eventstream", "eventstoresvc"], "eventstoresvc"),
    (["/usr/bin/sleep", "10"], None),
    ([], None),
])
def test_role_of_names_each_child_of_eventstream_up(argv, role):
    assert role_of(argv) == role


def test_cpu_ms_per_order_divides_each_process_delta_and_totals_them():
    before = {"ordersvc": 1.0, "postgres": 2.0, "gone": 5.0}
    after = {"ordersvc": 1.5, "postgres": 3.0}
    used = cpu_ms_per_order(before, after, 100)
    assert used == pytest.approx({"ordersvc": 5.0, "postgres": 10.0, "total": 15.0})


def test_cpu_ms_per_order_refuses_a_phase_without_orders():
    with pytest.raises(ValueError):
        cpu_ms_per_order({"a": 0.0}, {"a": 1.0}, 0)


def _outcome(statuses, seconds=2.0):
    orders = [OrderTiming(f"o{i}", status, 0.01 * (i + 1), 2) for i, status in enumerate(statuses)]
    return RunOutcome(orders=orders, seconds=seconds)


def test_check_phase_passes_when_every_order_is_approved_and_listed():
    check_phase(_outcome(["Approved"] * 3), 3, {"Approved": 3})


def test_check_phase_names_orders_that_did_not_reach_approved():
    with pytest.raises(RuntimeError, match=r"1 orders did not reach Approved.*o1: Pending"):
        check_phase(_outcome(["Approved", "Pending"]), 2, {"Approved": 1, "Pending": 1})


def test_check_phase_catches_a_read_model_that_disagrees():
    with pytest.raises(RuntimeError, match="read model lists"):
        check_phase(_outcome(["Approved"] * 2), 2, {"Approved": 1})


def test_check_phase_reports_failed_posts():
    outcome = _outcome(["Approved"])
    outcome.failures.append("order 1: POST answered 500: None")
    with pytest.raises(RuntimeError, match="POST answered 500"):
        check_phase(outcome, 2, {"Approved": 1})


def test_results_compare_orders_per_second_with_the_go_reference_figure():
    phase = Phase(16, _outcome(["Approved"] * 4, seconds=0.02), {"ordersvc": 3.0, "total": 3.0})
    found = {r.name: r for r in results([phase], 1000.0, 5000.0)}
    throughput = found["e2e.c16.orders_per_s"]
    assert throughput.value == pytest.approx(200.0)
    assert throughput.baseline_value == 82.0
    assert throughput.ratio == pytest.approx(200.0 / 82.0, abs=0.001)
    assert found["e2e.c16.p50_ms"].unit == "ms"
    assert found["e2e.c16.cpu_ms_per_order.ordersvc"].value == 3.0
    assert found["e2e.c16.cpu_ms_per_order.ordersvc"].baseline is None
    assert found["e2e.baseline.pg_commits_per_s"].value == 1000.0
    assert found["e2e.baseline.jetstream_publishes_per_s"].value == 5000.0


def test_order_body_stays_under_the_credit_limit():
    body = order_body("c", 7)
    total = sum(float(i["unit_price"]) * i["quantity"] for i in body["order_items"])
    assert total < 1000.0
