"""Benchmark suites of ``eventstream bench``: every figure beside a baseline from the same run."""
