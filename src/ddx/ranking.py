"""Priors × likelihood ratios → posterior probabilities and per-rule log-odds contributions.

Each diagnosis gets a score ``ln(prior) + Σ ln(LR)`` over the rules that fired for or against it; the
three scores are normalised (softmax) into probabilities that sum to 1. This treats fired rules as
conditionally independent given the diagnosis — which is why correlated findings are written as one
combined rule in the pack rather than as several rules that would each count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ddx.case import DIAGNOSIS_IDS, DiagnosisId
from ddx.rulepack import DiagnosisEffect, Rule, RulePack

_SCORE_DIGITS = 9  # scores equal to 9 decimals are a tie, broken by the fixed diagnosis order


@dataclass(frozen=True)
class Contribution:
    """One diagnosis effect of one fired rule."""

    rule: Rule
    effect: DiagnosisEffect
    likelihood_ratio: float

    @property
    def diagnosis(self) -> DiagnosisId:
        return self.effect.diagnosis

    @property
    def log_likelihood_ratio(self) -> float:
        return math.log(self.likelihood_ratio)

    @property
    def direction(self) -> Literal["for", "against"]:
        return self.effect.direction


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


def contributions_of(pack: RulePack, fired: Iterable[Rule]) -> list[Contribution]:
    return [
        Contribution(rule, effect, pack.likelihood_ratio(effect))
        for rule in fired
        for effect in rule.effects_of(DiagnosisEffect)
    ]


def rank(pack: RulePack, fired: Iterable[Rule]) -> tuple[RankedDiagnosis, ...]:
    """Rank the three diagnoses; ties break by the fixed order avulsion, myositis ossificans, sarcoma."""
    contributions = contributions_of(pack, fired)
    scores: dict[DiagnosisId, float] = {}
    for diagnosis in DIAGNOSIS_IDS:
        prior = pack.diagnoses[diagnosis].prior
        scores[diagnosis] = math.log(prior) + sum(
            c.log_likelihood_ratio for c in contributions if c.diagnosis == diagnosis
        )
    top_score = max(scores.values())
    weights = {d: math.exp(s - top_score) for d, s in scores.items()}
    total = sum(weights.values())
    order = sorted(DIAGNOSIS_IDS, key=lambda d: (-round(scores[d], _SCORE_DIGITS), DIAGNOSIS_IDS.index(d)))
    return tuple(
        RankedDiagnosis(
            diagnosis=d,
            rank=position,
            prior=pack.diagnoses[d].prior,
            score=scores[d],
            probability=weights[d] / total,
            contributions=tuple(c for c in contributions if c.diagnosis == d),
        )
        for position, d in enumerate(order, start=1)
    )
