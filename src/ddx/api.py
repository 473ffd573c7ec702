"""The library API that the CLI, the quiz and the regression runner call.

>>> from ddx.api import assess_file
>>> report = assess_file("case.yaml", rules_dir=Path("rules"))    # doctest: +SKIP
>>> report.top.diagnosis                                           # doctest: +SKIP
'<the id of the pack's leading diagnosis>'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ddx.case import Case, load_case
from ddx.evaluate import Evaluator
from ddx.explain import build_report
from ddx.report import Report
from ddx.rulepack import RulePack, load_rule_pack

__all__ = [
    "Case",
    "Evaluator",
    "Report",
    "RulePack",
    "assess",
    "assess_file",
    "default_pack",
    "evaluator_for",
    "load_case",
    "load_rule_pack",
    "pack_for",
]


@lru_cache(maxsize=8)
def pack_for(rules_dir: Path | None = None) -> RulePack:
    """The rule pack in a rules folder (the shipped pack by default), loaded once per process."""
    return load_rule_pack(rules_dir)


def default_pack() -> RulePack:
    return pack_for(None)


@lru_cache(maxsize=8)
def evaluator_for(rules_dir: Path | None = None) -> Evaluator:
    """The compiled evaluator for a rules folder (the shipped pack by default), built once per process."""
    return Evaluator(pack_for(rules_dir))


def assess(case: Case, evaluator: Evaluator | None = None) -> Report:
    return build_report(case, evaluator or evaluator_for())


def assess_file(path: str | Path, rules_dir: Path | None = None) -> Report:
    evaluator = evaluator_for(rules_dir)
    return assess(load_case(Path(path), evaluator.pack), evaluator)
