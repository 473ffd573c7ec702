"""The library API that the CLI, the quiz and the regression runner call.

>>> from ddx.api import assess_file
>>> report = assess_file("case.yaml", rules_dir=Path("rules"))    # doctest: +SKIP
>>> report.top.diagnosis                                           # doctest: +SKIP
'<the id of the pack's leading diagnosis>'

A report is the JSON contract (:class:`ddx.report.Report`, a pydantic model); ``assess`` also takes a mapping
of findings, or of a whole case. Bad input raises :class:`pydantic.ValidationError` (a ``ValueError``) or
:class:`ddx.errors.DdxInputError` for files.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from ddx.case import Case, case_model, load_case
from ddx.evaluate import Evaluator
from ddx.explain import build_report
from ddx.report import Report
from ddx.rulepack import RulePack, load_rule_pack

__all__ = [
    "Case",
    "Evaluator",
    "Report",
    "RulePack",
    "as_case",
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


def assess(case: Case | Mapping[str, Any], evaluator: Evaluator | None = None) -> Report:
    """Rank the differential for one case and explain it: the report of ``ddx assess``.

    ``case`` is a :class:`Case`, a mapping shaped like a case file (``{"findings": {...}}``; ``id`` and
    ``title`` may be left out), or a mapping of findings alone (``{"<finding>": <value>}``). Absent findings are
    unknown. ``evaluator`` is the compiled rule pack (default: the shipped one, see :func:`evaluator_for`).
    Raises :class:`TypeError` for anything else and :class:`pydantic.ValidationError` for bad values.
    """
    evaluator = evaluator or evaluator_for()
    return build_report(as_case(case, evaluator.pack), evaluator)


def as_case(case: Case | Mapping[str, Any], pack: RulePack | None = None) -> Case:
    """A :class:`Case` from a case, a case-file mapping or a findings mapping (see :func:`assess`), validated
    against ``pack``'s vocabulary (default: the shipped pack)."""
    if isinstance(case, Case):
        return case
    if not isinstance(case, Mapping):
        raise TypeError(
            f"assess() takes a ddx Case or a mapping (a case document or its findings), not {type(case).__name__}"
        )
    document: dict[str, Any] = dict(case) if "findings" in case else {"findings": dict(case)}
    document.setdefault("id", "case")
    document.setdefault("title", "Case assessed through the ddx API")
    return case_model(pack or default_pack()).model_validate(document)


def assess_file(path: str | Path, rules_dir: Path | None = None) -> Report:
    """Load a case file (YAML or JSON) and assess it with the pack in ``rules_dir`` (default: the shipped one).

    Raises :class:`ddx.errors.DdxInputError` naming the file, line and field of any problem.
    """
    evaluator = evaluator_for(rules_dir)
    return assess(load_case(Path(path), evaluator.pack), evaluator)
