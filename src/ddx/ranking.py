"""Priors × likelihood ratios → posterior probabilities and per-rule log-odds contributions.

Each diagnosis gets a score ``ln(prior) + Σ ln(LR)`` over the rules that fired for or against it; the
three scores are normalised (softmax) into probabilities that sum to 1. This treats fired rules as
conditionally independent given the diagnosis — which is why correlated findings are written as one
combined rule in the pack rather than as several rules that would each count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ddx.case import DIAGNOSIS_IDS, DiagnosisId
from ddx.rulepack import DiagnosisEffect, Rule, RulePack

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

    @property
    def log_odds(self) -> float:
        """Natural log of the posterior odds, ln(p / (1 − p)); ±inf are clipped for JSON."""
        p = min(max(self.probability, 1e-12), 1 - 1e-12)
        return math.log(p / (1 - p))


@dataclass(frozen=True)
class _Weights:
    """What ranking needs from a pack, computed once: each rule's contributions and ln(prior)."""

    contributions: dict[str, tuple[Contribution, ...]]
    priors: dict[DiagnosisId, float]
    log_priors: dict[DiagnosisId, float]


def ranking_weights(pack: RulePack) -> _Weights:
    weights: _Weights | None = pack.derived.get("ranking")
    if weights is None:
        table: dict[str, tuple[Contribution, ...]] = {}
        for rule in pack.rules:
            ratios = [(effect, pack.likelihood_ratio(effect)) for effect in rule.effects_of(DiagnosisEffect)]
            contributions = [Contribution(rule, effect, ratio, math.log(ratio)) for effect, ratio in ratios]
            if contributions:
                table[rule.id] = tuple(contributions)
        priors = {d: info.prior for d, info in pack.diagnoses.items()}
        log_priors = {d: math.log(prior) for d, prior in priors.items()}
        weights = pack.derived["ranking"] = _Weights(table, priors, log_priors)
    return weights


def rank(pack: RulePack, fired: Iterable[Rule]) -> tuple[RankedDiagnosis, ...]:
    """Rank the three diagnoses; ties break by the fixed order avulsion, myositis ossificans, sarcoma."""
    weights = ranking_weights(pack)
    table = weights.contributions
    by_diagnosis: dict[DiagnosisId, list[Contribution]] = {d: [] for d in DIAGNOSIS_IDS}
    for rule in fired:
        for contribution in table.get(rule.id, ()):
            by_diagnosis[contribution.diagnosis].append(contribution)
    log_priors = weights.log_priors
    scores = {d: log_priors[d] + math.fsum([c.log_likelihood_ratio for c in cs]) for d, cs in by_diagnosis.items()}
    top_score = max(scores.values())
    relative = {d: math.exp(s - top_score) for d, s in scores.items()}
    total = sum(relative.values())
    # The sort is stable, so diagnoses with equal scores keep the fixed order.
    order = sorted(DIAGNOSIS_IDS, key=lambda d: -round(scores[d], SCORE_DIGITS))
    priors = weights.priors
    return tuple(
        RankedDiagnosis(d, position, priors[d], scores[d], relative[d] / total, tuple(by_diagnosis[d]))
        for position, d in enumerate(order, start=1)
    )
