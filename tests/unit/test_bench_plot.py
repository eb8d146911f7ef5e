"""The e2e chart: throughput bins, and a real PNG rendered by matplotlib from synthetic samples."""

from __future__ import annotations

import random
import sys

import pytest

from eventstream.benchmarks.plot import (
    PhaseSamples,
    PlotUnavailable,
    require_matplotlib,
    throughput,
    write_plot,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _phase(concurrency: int, orders: int, window_s: float, seed: int) -> PhaseSamples:
    rng = random.Random(seed)
    finished = sorted(rng.uniform(0, window_s) for _ in range(orders))
    latency = [rng.lognormvariate(4 + concurrency / 16, 0.3) for _ in range(orders)]
    return PhaseSamples(concurrency, latency, finished, window_s)


def test_throughput_cuts_the_window_into_equal_bins_that_count_every_order():
    edges, rates = throughput([0.1, 0.2, 1.5, 2.9, 3.1], window_s=3.2)
    assert edges == pytest.approx([0.0, 1.0667, 2.1333, 3.2], abs=1e-3)  # 3 bins, no 0.2 s sliver
    width = edges[1] - edges[0]
    assert [round(r * width) for r in rates] == [2, 1, 2]


def test_throughput_puts_an_order_finished_at_the_window_end_in_the_last_bin():
    edges, rates = throughput([2.0], window_s=2.0)
    assert len(edges) == 3
    assert rates == [0.0, 1.0]


def test_throughput_of_a_window_shorter_than_a_bin_is_one_bin():
    edges, rates = throughput([0.1, 0.2], window_s=0.3)
    assert edges == pytest.approx([0.0, 0.3])
    assert rates == pytest.approx([2 / 0.3])


def test_write_plot_renders_a_png_of_every_phase(tmp_path):
    path = tmp_path / "bench-e2e.png"
    phases = [_phase(1, 300, 19.0, 1), _phase(16, 2000, 70.0, 2), _phase(64, 3000, 94.0, 3)]
    write_plot(path, phases, title="eventstream bench e2e: synthetic samples")

    raw = path.read_bytes()
    assert raw.startswith(PNG_SIGNATURE)
    assert len(raw) > 20_000  # two panels of lines, labels and legends, not an empty canvas
    from matplotlib.image import imread

    height, width, _ = imread(path).shape
    assert (width, height) == (1200, 480)


def test_without_matplotlib_the_error_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(PlotUnavailable, match=r"pip install 'eventstream\[bench\]'"):
        require_matplotlib()
    with pytest.raises(PlotUnavailable):
        write_plot(tmp_path / "x.png", [_phase(1, 10, 1.0, 0)], title="t")
    assert not (tmp_path / "x.png").exists()
