"""``eventstream bench SUITE``: run a benchmark suite, show a table, optionally write JSON."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console

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


def _load(name: str) -> Suite:
    module_name, function = SUITES[name].split(":")
    suite: Suite = getattr(importlib.import_module(module_name), function)
    return suite


@click.command()
@click.argument("suite", type=click.Choice([*SUITES, "all"]))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the results to this JSON file.")
@click.option("--quick", is_flag=True, help="Short runs: checks that the suite works, figures are rough.")
def bench(suite: str, json_path: Path | None, quick: bool) -> None:
    """Measure SUITE side by side with its baselines, in one run on this machine."""
    console = Console(stderr=True)
    names = list(SUITES) if suite == "all" else [suite]
    results: list[Result] = []
    for name in names:
        console.rule(f"suite {name}")
        results.extend(_load(name)(quick=quick, console=console))
    print_table(results, Console())
    if json_path is not None:
        write_json(json_path, suite, results)
        console.print(f"wrote {json_path}")
