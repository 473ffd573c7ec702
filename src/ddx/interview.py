"""The guided interview's brain: which unknown finding to ask next.

The next question is the unknown finding whose answer is expected to change the answer most. For each
candidate finding, every value region the rules can tell apart is tried (see :mod:`ddx.counterfactuals`),
with the same compiled rules; the answer's regions are weighted equally, since ddx has no source for how
likely each answer is. A finding's score is the mean, over its values, of

* the total-variation shift of the differential (½ Σ |p − q|, from 0 to 1), plus
* 1 if the secondary condition's status, the red flags or the recommendations would change, else 0 —

so a question that would only settle impingement, raise a red flag or change the advice still outranks one
that changes nothing. Findings no rule reads score 0 and come last, in vocabulary order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ddx.counterfactuals import candidate_values, posterior_shift
from ddx.evaluate import Conclusion, Evaluator
from ddx.findings import FINDING_SPECS


@dataclass(frozen=True)
class QuestionScore:
    finding: str
    score: float
    expected_shift: float
    could_change_top: bool
    values_tried: int


def _outcome(conclusion: Conclusion) -> tuple[tuple[str, ...], ...]:
    """What a clinician acts on besides the probabilities: impingement, red flags, recommendations."""
    statuses = tuple(s.status for s in conclusion.secondary)
    flags = tuple(rule.id for rule, _ in conclusion.red_flags)
    advice = tuple(rule.id for rule, _ in conclusion.recommendations)
    return statuses, flags, advice


def rank_questions(
    known: Mapping[str, Any], evaluator: Evaluator, *, candidates: Iterable[str] | None = None
) -> list[QuestionScore]:
    """Unknown findings, most informative first."""
    pack = evaluator.pack
    names = [n for n in (candidates if candidates is not None else FINDING_SPECS) if n not in known]
    current = evaluator.conclude(known)
    current_outcome = _outcome(current)
    read = {n for rule in pack.rules for n in rule.when.findings()}
    scores = []
    for name in names:
        values = (
            candidate_values(FINDING_SPECS[name], pack.all_numeric_thresholds.get(name, ()))
            if name in read
            else []
        )
        shifts, other_changes, top_changes = [], 0, 0
        for value in values:
            after = evaluator.conclude({**known, name: value})
            shifts.append(posterior_shift(current.ranking, after.ranking))
            other_changes += _outcome(after) != current_outcome
            top_changes += after.top.diagnosis != current.top.diagnosis
        expected_shift = sum(shifts) / len(shifts) if shifts else 0.0
        score = expected_shift + (other_changes / len(values) if values else 0.0)
        scores.append(QuestionScore(name, score, expected_shift, top_changes > 0, len(values)))
    order = {name: index for index, name in enumerate(FINDING_SPECS)}
    scores.sort(key=lambda q: (-round(q.score, 12), order[q.finding]))
    return scores
