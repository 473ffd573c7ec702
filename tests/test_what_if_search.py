"""The fast what-if search (counterfactuals.tops) gives exactly the tops of the full re-run (what_ifs)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

from ddx.case import discover_case_files, load_case
from ddx.counterfactuals import tops, what_ifs
from ddx.evaluate import Evaluator
from ddx.rulepack import load_rule_pack
from tests.conftest import CASES_DIR, REPO


def threshold_pack(folder: Path, count: int) -> Path:
    """The benchmark's generated pack (benchmarks/worst_case.py), smaller."""
    spec = importlib.util.spec_from_file_location("worst_case", REPO / "benchmarks" / "worst_case.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["worst_case"] = module
    spec.loader.exec_module(module)
    rules: Path = module.threshold_pack(folder, count)
    return rules


def agree(known: dict[str, object], evaluator: Evaluator) -> None:
    for name in evaluator.pack.specs:
        if name in known:
            continue
        full = [(w.value, w.top) for w in what_ifs(known, name, evaluator)]
        assert tops(known, name, evaluator) == full, name


@pytest.mark.parametrize("path", discover_case_files(CASES_DIR), ids=lambda p: p.stem)
def test_the_fast_search_agrees_on_every_curated_case(path: Path, evaluator: Evaluator) -> None:
    agree(load_case(path).findings.known(), evaluator)


def test_the_fast_search_agrees_on_random_cases(evaluator: Evaluator) -> None:
    rng = random.Random(15)
    specs = list(evaluator.pack.specs.values())
    for _ in range(40):
        known: dict[str, object] = {}
        for spec in rng.sample(specs, rng.randint(0, 12)):
            if spec.kind == "bool":
                known[spec.name] = rng.choice([True, False])
            elif spec.kind == "enum":
                known[spec.name] = rng.choice(spec.choices)
            elif spec.kind == "int":
                known[spec.name] = rng.randint(0, 90)
            else:
                known[spec.name] = round(rng.uniform(0.5, 40), 1)
        agree(known, evaluator)


def test_the_fast_search_agrees_on_a_pack_of_many_thresholds(tmp_path: Path) -> None:
    pack = load_rule_pack(threshold_pack(tmp_path, count=120))
    evaluator = Evaluator(pack)
    try:
        for path in discover_case_files(CASES_DIR)[:8]:
            agree(load_case(path, pack).findings.known(), evaluator)
    finally:
        evaluator.close()
