"""``eventstream bench``'s wiring: ``--plot`` reaches the e2e suite and is refused where nothing plots.

The suites are replaced by a recorder: what is checked is which keyword arguments each one gets.
"""

from __future__ import annotations

import inspect
import sys

import pytest
from click.testing import CliRunner

from eventstream import bench as bench_module


@pytest.fixture
def calls(monkeypatch):
    seen: list[tuple[str, dict]] = []

    def load(name):
        def suite(**kwargs):
            seen.append((name, kwargs))
            return []
        return suite

    monkeypatch.setattr(bench_module, "_load", load)
    return seen


def _bench(*args: str):
    return CliRunner().invoke(bench_module.bench, list(args))


def test_plot_reaches_the_e2e_suite(calls, tmp_path):
    out = tmp_path / "e2e.png"
    result = _bench("e2e", "--quick", "--plot", str(out))
    assert result.exit_code == 0, result.output
    [(name, kwargs)] = calls
    assert name == "e2e"
    assert kwargs["plot"] == out
    assert kwargs["quick"] is True


def test_without_plot_the_e2e_suite_gets_none(calls):
    assert _bench("e2e").exit_code == 0
    assert calls[0][1]["plot"] is None


def test_plot_with_all_goes_to_the_e2e_suite_only(calls, tmp_path):
    out = tmp_path / "all.png"
    assert _bench("all", "--quick", "--plot", str(out)).exit_code == 0
    plotted = {name: kwargs.get("plot", "absent") for name, kwargs in calls}
    assert plotted.pop("e2e") == out
    assert set(plotted.values()) == {"absent"}  # the other suites keep their (quick, console) signature


def test_plot_is_refused_before_a_suite_that_draws_no_chart_runs(calls, tmp_path):
    result = _bench("kit", "--plot", str(tmp_path / "kit.png"))
    assert result.exit_code == 2
    assert "the kit suite draws no chart; only e2e does" in result.output
    assert calls == []


def test_plot_into_a_missing_directory_is_refused_before_the_run(calls, tmp_path):
    result = _bench("e2e", "--plot", str(tmp_path / "missing" / "e2e.png"))
    assert result.exit_code == 2
    assert "no directory" in result.output
    assert calls == []


def test_plot_without_matplotlib_is_one_line_naming_the_install_command(calls, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = _bench("e2e", "--plot", str(tmp_path / "e2e.png"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: --plot needs matplotlib, which is not installed: pip install 'eventstream[bench]'"]
    assert calls == []


@pytest.mark.parametrize("name", sorted(bench_module.PLOTTING))
def test_every_plotting_suite_takes_the_plot_keyword(name):
    parameters = inspect.signature(bench_module._load(name)).parameters
    assert parameters["plot"].default is None
