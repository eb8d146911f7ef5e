"""``eventstream bench SUITE``: run a benchmark suite, show a table, optionally write JSON."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console

from eventstream.benchmarks.plot import PlotUnavailable, require_matplotlib
from eventstream.benchmarks.report import Result, print_table, write_json

Suite = Callable[..., list[Result]]

# suite name -> "module:function(quick: bool, console: Console) -> list[Result]"
SUITES: dict[str, str] = {
    "kit": "eventstream.benchmarks.kit:run",
    "observability": "eventstream.benchmarks.observability:run",
    "append": "eventstream.benchmarks.append:run",
    "consumer": "eventstream.benchmarks.consumer:run",
    "orders": "eventstream.benchmarks.orders:run",
    "e2e": "eventstream.benchmarks.e2e:run",
}
# The suites that draw a chart: they also take ``plot: Path | None``. ``--plot`` with a suite that
# draws none is refused before anything runs; with ``all`` the chart is theirs.
PLOTTING = frozenset({"e2e"})


def _load(name: str) -> Suite:
    module_name, function = SUITES[name].split(":")
    suite: Suite = getattr(importlib.import_module(module_name), function)
    return suite


def _check_plot(suite: str, names: list[str], path: Path) -> None:
    """Refuse ``--plot`` now, not after the run, if nothing would draw it or it cannot be written."""
    if not PLOTTING.intersection(names):
        plotting = ", ".join(sorted(PLOTTING))
        raise click.UsageError(f"--plot: the {suite} suite draws no chart; only {plotting} does")
    if not path.parent.is_dir():
        raise click.UsageError(f"--plot: no directory {path.parent} to write {path.name} in")
    try:
        require_matplotlib()
    except PlotUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.argument("suite", type=click.Choice([*SUITES, "all"]))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the results to this JSON file.")
@click.option("--quick", is_flag=True, help="Short runs: checks that the suite works, figures are rough.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the latency distribution and orders/s over time of each concurrency into "
                   "this PNG (e2e only; needs matplotlib).")
def bench(suite: str, json_path: Path | None, quick: bool, plot_path: Path | None) -> None:
    """Measure SUITE side by side with its baselines, in one run on this machine."""
    console = Console(stderr=True)
    names = list(SUITES) if suite == "all" else [suite]
    if plot_path is not None:
        _check_plot(suite, names, plot_path)
    results: list[Result] = []
    for name in names:
        console.rule(f"suite {name}")
        extra = {"plot": plot_path} if name in PLOTTING else {}
        results.extend(_load(name)(quick=quick, console=console, **extra))
    print_table(results, Console())
    if json_path is not None:
        write_json(json_path, suite, results)
        console.print(f"wrote {json_path}")
