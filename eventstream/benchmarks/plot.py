"""``eventstream bench e2e --plot FILE.png``: one PNG of the e2e phases' latency and throughput.

Two panels, a line per concurrency in the same colour in both: the distribution (CDF) of each
order's POST-to-final latency on a log scale, and completed orders per second over the measured
window, in bins of about a second. matplotlib (the ``bench`` extra) is imported only when a chart
is drawn, so the benchmarks run without it; the figure is rendered by the Agg backend straight to
the file, with no GUI and no pyplot global state.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eventstream.benchmarks.report import percentile

INSTALL = "pip install 'eventstream[bench]'"


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


@dataclass(frozen=True)
class PhaseSamples:
    """One concurrency's orders: latencies (ms), completion times (s since the start), its window (s)."""

    concurrency: int
    latency_ms: Sequence[float]
    finished_s: Sequence[float]
    window_s: float


def require_matplotlib() -> None:
    """Raise :class:`PlotUnavailable`, naming the install command, unless matplotlib can be imported."""
    if importlib.util.find_spec("matplotlib") is None:
        raise PlotUnavailable(f"--plot needs matplotlib, which is not installed: {INSTALL}")


def throughput(finished_s: Sequence[float], window_s: float,
               bin_s: float = 1.0) -> tuple[list[float], list[float]]:
    """Completions per second in equal bins of about ``bin_s`` over ``[0, window_s]``: (edges, rates).

    The window is cut into a whole number of equal bins, so the last one is never a sliver whose
    rate would be one order divided by a few milliseconds.
    """
    bins = max(1, round(window_s / bin_s))
    width = window_s / bins if window_s > 0 else bin_s
    counts = [0] * bins
    for t in finished_s:
        counts[min(bins - 1, max(0, int(t / width)))] += 1
    return [i * width for i in range(bins + 1)], [c / width for c in counts]


def _cdf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Sorted values and the percentage of values at or below each one."""
    ordered = sorted(values)
    return ordered, [100.0 * (i + 1) / len(ordered) for i in range(len(ordered))]


def write_plot(path: Path, phases: Sequence[PhaseSamples], *, title: str) -> None:
    """Draw ``phases`` (latency CDF left, orders per second over time right) into the PNG ``path``."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure = Figure(figsize=(12, 4.8), dpi=100, layout="tight")
    FigureCanvasAgg(figure)
    latency, rate = figure.subplots(1, 2)
    peak = 0.0
    for index, phase in enumerate(phases):
        colour = f"C{index}"
        if phase.latency_ms:
            p50, p99 = percentile(phase.latency_ms, 50), percentile(phase.latency_ms, 99)
            latency.step(*_cdf(phase.latency_ms), where="post", color=colour,
                         label=f"c{phase.concurrency}: p50 {p50:,.0f} ms, p99 {p99:,.0f} ms")
        edges, rates = throughput(phase.finished_s, phase.window_s)
        mean = len(phase.finished_s) / phase.window_s if phase.window_s > 0 else 0.0
        peak = max(peak, *rates)
        rate.stairs(rates, edges, baseline=None, color=colour,
                    label=f"c{phase.concurrency}: {mean:,.1f} orders/s over {phase.window_s:.0f} s")
        rate.hlines(mean, 0, phase.window_s, colors=colour, linestyles=":", linewidth=1)

    latency.set_title("Latency, POST until the order is final")
    latency.set_xscale("log")
    # Plain numbers at 1, 2 and 5 of each decade: a narrow range still gets labels, none in 10^x.
    latency.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    latency.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    latency.xaxis.set_minor_formatter(NullFormatter())
    latency.set_xlabel("latency (ms, log scale)")
    latency.set_ylabel("orders completed within (%)")
    latency.set_ylim(0, 100)
    rate.set_title("Completed orders per second (dotted: the phase's mean)")
    rate.set_xlabel("time since the phase started (s)")
    rate.set_ylabel("orders/s (1 s bins)")
    rate.set_ylim(0, 1.5 * peak or 1.0)  # headroom above the lines for the legend
    for axes, corner in ((latency, "lower right"), (rate, "upper right")):
        axes.grid(True, alpha=0.3)
        axes.legend(title="concurrency", loc=corner)
    figure.suptitle(title)
    figure.savefig(path, format="png")
