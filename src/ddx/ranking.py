"""Priors × likelihood ratios → posterior probabilities and per-rule log-odds contributions.

Each diagnosis of the case's prior context gets a score ``ln(prior) + Σ ln(LR)`` over the rules that fired
for or against it; the scores are normalised (softmax) into probabilities that sum to 1. This treats fired
rules as conditionally independent given the diagnosis, so rules that restate one underlying fact share a
``group`` and only the strongest of them counts for each diagnosis.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ddx.rulepack import DiagnosisEffect, DiagnosisId, PriorContext, Rule, RulePack

SCORE_DIGITS = 9  # scores equal to 9 decimals are a tie, broken by the fixed diagnosis order


@dataclass(frozen=True)
class Contribution:
    """One diagnosis effect of one fired rule, with its weight (immutable, so built once per pack)."""

    rule: Rule
    effect: DiagnosisEffect
    likelihood_ratio: float
    log_likelihood_ratio: float
    # Read for every case that fires the rule, so stored rather than recomputed from the effect.
    diagnosis: DiagnosisId = field(init=False)
    direction: Literal["for", "against"] = field(init=False)
    display_order: tuple[bool, float] = field(init=False)
    """Evidence for before evidence against, strongest first."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "diagnosis", self.effect.diagnosis)
        object.__setattr__(self, "direction", self.effect.direction)
        object.__setattr__(self, "display_order", (self.effect.direction != "for", -abs(self.log_likelihood_ratio)))


@dataclass(frozen=True)
class RankedDiagnosis:
    diagnosis: DiagnosisId
    rank: int
    prior: float
    score: float
    probability: float
    contributions: tuple[Contribution, ...]
    not_counted: tuple[Contribution, ...] = ()
    """Fired evidence of a group whose stronger member already counts for this diagnosis (one fact counts once)."""

    @property
    def log_odds(self) -> float:
        """Natural log of the posterior odds, ln(p / (1 − p)); ±inf are clipped for JSON."""
        p = min(max(self.probability, 1e-12), 1 - 1e-12)
        return math.log(p / (1 - p))


def ranking_weights(pack: RulePack) -> dict[str, tuple[Contribution, ...]]:
    """Each rule's contributions, computed once per pack."""
    table: dict[str, tuple[Contribution, ...]] | None = pack.derived.get("ranking")
    if table is None:
        table = {}
        for rule in pack.rules:
            ratios = [(effect, pack.likelihood_ratio(effect)) for effect in rule.effects_of(DiagnosisEffect)]
            contributions = [Contribution(rule, effect, ratio, math.log(ratio)) for effect, ratio in ratios]
            if contributions:
                table[rule.id] = tuple(contributions)
        pack.derived["ranking"] = table
    return table


def _count_once(contributions: list[Contribution]) -> tuple[list[Contribution], list[Contribution]]:
    """Within a group, only the strongest effect on a diagnosis counts; the rest are kept apart to show."""
    strongest: dict[str, Contribution] = {}
    for contribution in contributions:
        group = contribution.rule.group
        if group is None:
            continue
        held = strongest.get(group)
        if held is None or (abs(contribution.log_likelihood_ratio), held.rule.id) > (
            abs(held.log_likelihood_ratio),
            contribution.rule.id,
        ):
            strongest[group] = contribution
    # Identity, not equality: comparing contributions would compare whole rule models, case after case.
    counts = [c.rule.group is None or strongest[c.rule.group] is c for c in contributions]
    return (
        [c for c, counted in zip(contributions, counts, strict=True) if counted],
        [c for c, counted in zip(contributions, counts, strict=True) if not counted],
    )


def rank(pack: RulePack, fired: Iterable[Rule], context: PriorContext | None = None) -> tuple[RankedDiagnosis, ...]:
    """Rank the diagnoses of the prior context (the pack's default without one).

    Scores are ln(prior) plus the fired rules' ln(LR), one per group and diagnosis. Ties break toward a
    malignant diagnosis (missing it costs more), then by the pack's order of diagnoses.
    """
    table = ranking_weights(pack)
    priors = (context or pack.info.prior_contexts[-1]).probabilities
    ranked_ids = [d for d in pack.diagnosis_ids if d in priors]
    by_diagnosis: dict[DiagnosisId, list[Contribution]] = {d: [] for d in ranked_ids}
    for rule in fired:
        for contribution in table.get(rule.id, ()):
            if contribution.diagnosis in by_diagnosis:
                by_diagnosis[contribution.diagnosis].append(contribution)
    split = {d: _count_once(cs) for d, cs in by_diagnosis.items()}
    # One correctly rounded sum of ln(prior) and every ln(LR), which the what-if search reproduces exactly.
    scores = {d: math.fsum([math.log(priors[d]), *(c.log_likelihood_ratio for c in split[d][0])]) for d in ranked_ids}
    top_score = max(scores.values())
    relative = {d: math.exp(s - top_score) for d, s in scores.items()}
    total = sum(relative.values())
    malignant = {d for d, info in pack.diagnoses.items() if info.malignant}
    # The sort is stable, so equal scores keep the pack's order after the malignant ones.
    order = sorted(ranked_ids, key=lambda d: (-round(scores[d], SCORE_DIGITS), d not in malignant))
    return tuple(
        RankedDiagnosis(d, position, priors[d], scores[d], relative[d] / total, tuple(split[d][0]), tuple(split[d][1]))
        for position, d in enumerate(order, start=1)
    )
