"""The benchmark runs from a fresh checkout and prints every figure (timing itself is not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"
FIGURES = {
    "cases_per_second",
    "oracle_cases_per_second",
    "assess_wall_ms",
    "help_wall_ms",
    "python_wall_ms",
    "compile_shipped_s",
    "compile_1000_rules_s",
    "cases_per_second_1000_rules",
    "rss_mb_10k",
    "rss_mb_100k",
    "next_question_ms",
    "startup_assess_ms",
    "startup_deps_ms",
    "startup_vs_deps_ratio",
}


def test_the_benchmark_reports_every_figure_as_json() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--json", "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    assert set(results) >= FIGURES
    assert all(isinstance(results[name], int | float) and results[name] >= 0 for name in FIGURES)
    assert set(results["targets_met"]) >= {
        "cases_per_second",
        "assess_wall_ms",
        "next_question_ms",
        "startup_vs_deps_ratio",
    }
