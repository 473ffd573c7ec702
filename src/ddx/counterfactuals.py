"""What if an unknown finding were known? The same compiled rules, re-run for each value that matters.

Used twice: the report lists the unknown findings that could change the top diagnosis, and the guided
interview asks next the finding whose answer is expected to move the differential most.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ddx.conditions import comparisons
from ddx.evaluate import Evaluator
from ddx.findings import FindingSpec
from ddx.ranking import SCORE_DIGITS, RankedDiagnosis, rank, ranking_weights
from ddx.rulepack import DiagnosisEffect, DiagnosisId, Rule, RulePack


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


_Weight = tuple[DiagnosisId, float]  # (diagnosis, ln LR): contributions counted by kind, not one by one


def tops(known: Mapping[str, Any], finding: str, evaluator: Evaluator) -> list[tuple[Any, DiagnosisId]]:
    """The top diagnosis if ``finding`` had each value :func:`what_ifs` tries — the same answer, computed
    without re-running every rule for every value.

    Only the rules that read ``finding`` can change as it varies; every other rule's verdict is read once,
    from the case as it is, and ranked once (its groups resolved there). Each reading rule is evaluated once
    per value region of *its own* thresholds (with the plain-Python reading of ``when`` and ``unless``, which
    tests hold equal to durable-rules), and its weight is added to the run of candidate values that region
    covers. Scores are then summed exactly as :func:`ddx.ranking.rank` sums them, so ties break the same way.
    The work is proportional to rules + values, not rules × values. When the finding sets the prior context or
    a reading rule belongs to a group (where only the strongest counts), every value is re-ranked instead.
    """
    pack = evaluator.pack
    if finding not in pack.findings_read_for_ranking:
        return []
    spec = pack.specs[finding]
    values = candidate_values(spec, pack.numeric_thresholds.get(finding, ()))
    if not values:
        return []
    readers = _readers(pack, finding)
    sets_context = any(finding in c.when.findings() for c in pack.info.prior_contexts if c.when is not None)
    if sets_context or any(rule.group is not None for rule in readers.values()):
        return [(what_if.value, what_if.top) for what_if in what_ifs(known, finding, evaluator)]
    facts = {name: value for name, value in known.items() if name != finding}
    base = rank(pack, [r for r in evaluator.fire_evidence(facts) if r.id not in readers], pack.prior_context(facts))
    exact_base = {
        entry.diagnosis: Fraction(math.log(entry.prior))
        + sum((Fraction(c.log_likelihood_ratio) for c in entry.contributions), Fraction(0))
        for entry in base
    }
    weights = ranking_weights(pack)
    steps: dict[_Weight, list[int]] = {}  # per weight: +1 where a run of values starts firing, −1 after it
    for rule in readers.values():
        for start, end in _firing_runs(rule, finding, spec, values, facts):
            for contribution in weights[rule.id]:
                if contribution.diagnosis not in exact_base:
                    continue  # a diagnosis this context does not rank
                step = steps.setdefault(
                    (contribution.diagnosis, contribution.log_likelihood_ratio), [0] * (len(values) + 1)
                )
                step[start] += 1
                step[end] -= 1
    kinds = tuple(steps)
    running = [0] * len(kinds)
    malignant = {d for d, info in pack.diagnoses.items() if info.malignant}
    ranked = [d for d in pack.diagnosis_ids if d in exact_base]  # the pack's order, which rank() sorts stably
    memo: dict[tuple[int, ...], DiagnosisId] = {}
    results: list[tuple[Any, DiagnosisId]] = []
    for index, value in enumerate(values):
        for position, kind in enumerate(kinds):
            running[position] += steps[kind][index]
        state = tuple(running)
        top = memo.get(state)
        if top is None:
            exact = dict(exact_base)
            for (diagnosis, log_ratio), count in zip(kinds, state, strict=True):
                exact[diagnosis] += Fraction(log_ratio) * count
            top = memo[state] = _top(exact, ranked, malignant)
        results.append((value, top))
    return results


def _top(exact: Mapping[DiagnosisId, Fraction], ranked: list[DiagnosisId], malignant: set[DiagnosisId]) -> DiagnosisId:
    # float(Fraction) is correctly rounded, as math.fsum is: the same score rank() computes, bit for bit, and
    # the same stable sort over the pack's order, so ties break the way rank() breaks them.
    scores = {d: float(exact[d]) for d in ranked}
    return sorted(ranked, key=lambda d: (-round(scores[d], SCORE_DIGITS), d not in malignant))[0]


def _readers(pack: RulePack, finding: str) -> dict[str, Rule]:
    """Evidence rules with a diagnosis effect that read ``finding``, by id (built once per pack)."""
    table: dict[str, dict[str, Rule]] | None = pack.derived.get("readers")
    if table is None:
        table = {}
        for rule in pack.evidence_rules:
            if rule.effects_of(DiagnosisEffect):
                for name in rule.reads:
                    table.setdefault(name, {})[rule.id] = rule
        pack.derived["readers"] = table
    return table.get(finding, {})


def _firing_runs(
    rule: Rule, finding: str, spec: FindingSpec, values: list[Any], facts: Mapping[str, Any]
) -> Iterable[tuple[int, int]]:
    """Index ranges ``[start, end)`` of ``values`` (sorted) for which ``rule`` fires.

    Between two consecutive points where one of the rule's own thresholds on ``finding`` falls, every
    value compares the same way with all of them, so the rule fires for all or none: one evaluation each.
    """
    if spec.kind in ("bool", "enum"):
        boundaries = list(range(len(values) + 1))
    else:
        points: set[float] = set()
        for comparison in (c for condition in rule.conditions for c in comparisons(condition)):
            if comparison.finding == finding:
                operands = comparison.value if isinstance(comparison.value, tuple) else (comparison.value,)
                points.update(float(x) for x in operands if isinstance(x, int | float) and not isinstance(x, bool))
        cuts = {0, len(values)}
        for point in points:
            cuts.add(bisect.bisect_left(values, point))
            cuts.add(bisect.bisect_right(values, point))
        boundaries = sorted(cuts)
    for start, end in itertools.pairwise(boundaries):
        if start < end and rule.holds({**facts, finding: values[start]}):
            yield start, end


def posterior_shift(before: tuple[RankedDiagnosis, ...], after: tuple[RankedDiagnosis, ...]) -> float:
    """Total-variation distance between two differentials: ½ Σ |p − q| (0 = same, 1 = disjoint)."""
    old = {entry.diagnosis: entry.probability for entry in before}
    new = {entry.diagnosis: entry.probability for entry in after}
    # A context can bring a diagnosis in or leave it out: where it is not ranked it counts as 0.
    return 0.5 * sum(abs(new.get(d, 0.0) - old.get(d, 0.0)) for d in old.keys() | new.keys())
