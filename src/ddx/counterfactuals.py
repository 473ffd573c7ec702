"""What if an unknown finding were known? The same compiled rules, re-run for each value that matters.

Used twice: the report lists the unknown findings that could change the top diagnosis, and the guided
interview asks next the finding whose answer is expected to move the differential most.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ddx.evaluate import Evaluator
from ddx.findings import FindingSpec
from ddx.ranking import RankedDiagnosis


def candidate_values(spec: FindingSpec, thresholds: Iterable[float]) -> list[Any]:
    """One value from every region the rules can tell apart, in a stable order.

    Booleans and choices are tried in full; a number is tried at each threshold some rule compares it with,
    just either side of the outermost ones, and between neighbouring thresholds.
    """
    if spec.kind == "bool":
        return [True, False]
    if spec.kind == "enum":
        return list(spec.choices)
    points = sorted(set(thresholds))
    if not points:
        return []
    if spec.kind == "int":
        raw: list[float] = [p + d for p in points for d in (-1, 0, 1)]
    else:
        raw = [points[0] - 1, *points, points[-1] + 1]
        raw += [(a + b) / 2 for a, b in itertools.pairwise(points)]
    values: list[Any] = []
    for value in sorted(set(raw)):
        candidate: Any = int(value) if spec.kind == "int" else float(value)
        if spec.accepts(candidate):
            values.append(candidate)
    return values


@dataclass(frozen=True)
class WhatIf:
    """The differential if ``finding`` had ``value``."""

    finding: str
    value: Any
    ranking: tuple[RankedDiagnosis, ...]

    @property
    def top(self) -> str:
        return self.ranking[0].diagnosis


def what_ifs(known: Mapping[str, Any], finding: str, evaluator: Evaluator) -> list[WhatIf]:
    """Re-rank ``known`` with ``finding`` set to each value that can make a difference to some rule."""
    pack = evaluator.pack
    if finding not in pack.findings_read_for_ranking:
        return []
    values = candidate_values(pack.specs[finding], pack.numeric_thresholds.get(finding, ()))
    return [WhatIf(finding, value, evaluator.rank({**known, finding: value})) for value in values]


def posterior_shift(before: tuple[RankedDiagnosis, ...], after: tuple[RankedDiagnosis, ...]) -> float:
    """Total-variation distance between two differentials: ½ Σ |p − q| (0 = same, 1 = disjoint)."""
    old = {entry.diagnosis: entry.probability for entry in before}
    new = {entry.diagnosis: entry.probability for entry in after}
    # A context can bring a diagnosis in or leave it out (metastasis with a cancer history): it counts as 0 there.
    return 0.5 * sum(abs(new.get(d, 0.0) - old.get(d, 0.0)) for d in old.keys() | new.keys())
