"""Benchmark results: the record of one figure and its baseline, the machine, the table and JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Result:
    """One measured figure next to the baseline it is compared with (``ratio = value / baseline``).

    For costs where lower is better (latency, CPU time) ``ratio`` is ``baseline / value``, so a
    ratio above 1 always means "better than the baseline".
    """

    name: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None

    @classmethod
    def compare(cls, name: str, value: float, unit: str, baseline: str, baseline_value: float,
                *, lower_is_better: bool = False) -> Result:
        """A result with its ratio against the baseline computed."""
        if lower_is_better:
            ratio = baseline_value / value if value else 0.0
        else:
            ratio = value / baseline_value if baseline_value else 0.0
        return cls(name, value, unit, baseline, baseline_value, round(ratio, 3))


def percentile(samples: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) of the samples, by linear interpolation."""
    if not samples:
        return 0.0
    if len(samples) == 1:
        return samples[0]
    cuts = statistics.quantiles(samples, n=1000, method="inclusive")
    index = min(len(cuts) - 1, max(0, round(pct * 10) - 1))
    return cuts[index]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def write_json(path: Path, suite: str, results: Sequence[Result]) -> None:
    """Write ``{"suite", "results", "machine"}`` to ``path``."""
    payload = {"suite": suite, "results": [asdict(r) for r in results], "machine": machine()}
    path.write_text(json.dumps(payload, indent=2) + "\n")


def print_table(results: Sequence[Result], console: Console) -> None:
    """Print the results as a table, ratios beside their baselines."""
    table = Table(title="eventstream bench")
    for column in ("name", "value", "unit", "baseline", "baseline value", "ratio"):
        table.add_column(column, justify="right" if column in ("value", "baseline value", "ratio")
                         else "left")
    for r in results:
        table.add_row(
            r.name,
            f"{r.value:,.1f}",
            r.unit,
            r.baseline or "",
            "" if r.baseline_value is None else f"{r.baseline_value:,.1f}",
            "" if r.ratio is None else f"{r.ratio:.2f}",
        )
    console.print(table)
