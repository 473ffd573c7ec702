"""The library API that the CLI, the quiz and the regression runner call.

>>> from ddx.api import assess, assess_file
>>> assess_file("cases/reference-eurorad-14910.yaml").top.diagnosis       # doctest: +SKIP
'avulsion'
>>> report = assess({"age_years": 24, "site": "proximal_thigh", "trauma_history": "recent"})
>>> [(e.diagnosis, round(e.probability, 3)) for e in report.ranking]    # doctest: +SKIP
[('myositis_ossificans', ...), ...]
>>> report.model_dump_json()                                            # doctest: +SKIP

A report is the JSON contract (:class:`ddx.report.Report`, a pydantic model). Bad input raises
:class:`pydantic.ValidationError` (a ``ValueError``) or :class:`ddx.errors.DdxInputError` for files.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    "as_case",
    "assess",
    "assess_file",
    "evaluator_for",
    "load_case",
    "load_rule_pack",
]


@lru_cache(maxsize=8)
def evaluator_for(rules_dir: Path | None = None) -> Evaluator:
    """The compiled evaluator for a rules folder (the shipped pack by default), built once per process."""
    return Evaluator(load_rule_pack(rules_dir))


def assess(case: Case | Mapping[str, Any], evaluator: Evaluator | None = None) -> Report:
    """Rank the differential for one case and explain it: the report of ``ddx assess``.

    ``case`` is a :class:`Case`, a mapping shaped like a case file (``{"findings": {...}}``; ``id`` and
    ``title`` may be left out), or a mapping of findings alone (``{"age_years": 24}``). Absent findings are
    unknown. ``evaluator`` is the compiled rule pack (default: the shipped one, see :func:`evaluator_for`).
    Raises :class:`TypeError` for anything else and :class:`pydantic.ValidationError` for bad values.
    """
    return build_report(as_case(case), evaluator or evaluator_for())


def as_case(case: Case | Mapping[str, Any]) -> Case:
    """A :class:`Case` from a case, a case-file mapping or a findings mapping (see :func:`assess`)."""
    if isinstance(case, Case):
        return case
    if not isinstance(case, Mapping):
        raise TypeError(
            f"assess() takes a ddx Case or a mapping (a case document or its findings), not {type(case).__name__}"
        )
    document: dict[str, Any] = dict(case) if "findings" in case else {"findings": dict(case)}
    document.setdefault("id", "case")
    document.setdefault("title", "Case assessed through the ddx API")
    return Case.model_validate(document)


def assess_file(path: str | Path, rules_dir: Path | None = None) -> Report:
    """Load a case file (YAML or JSON) and assess it with the pack in ``rules_dir`` (default: the shipped one).

    Raises :class:`ddx.errors.DdxInputError` naming the file, line and field of any problem.
    """
    return assess(load_case(Path(path)), evaluator_for(rules_dir))
