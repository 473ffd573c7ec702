"""Ranking: priors × likelihood ratios, normalised; deterministic ties; monotone in supporting evidence."""

from __future__ import annotations

import math

import pytest

from ddx.evaluate import Evaluator
from ddx.ranking import rank
from ddx.rulepack import DiagnosisEffect, RulePack


def test_an_empty_case_returns_the_priors(evaluator: Evaluator) -> None:
    ranking = evaluator.rank({})
    for entry in ranking:
        assert entry.probability == pytest.approx(entry.prior / sum(e.prior for e in ranking))


def test_ties_break_in_the_fixed_diagnosis_order(evaluator: Evaluator) -> None:
    assert [e.diagnosis for e in evaluator.rank({})] == ["avulsion", "myositis_ossificans", "sarcoma"]


def test_probabilities_sum_to_one(evaluator: Evaluator) -> None:
    ranking = evaluator.rank({"age_years": 60, "soft_tissue_mass": True, "site": "buttock"})
    assert math.fsum(e.probability for e in ranking) == pytest.approx(1.0)


def test_ranks_follow_probability(evaluator: Evaluator) -> None:
    ranking = evaluator.rank({"mineralization_pattern": "zonal_peripheral", "trauma_history": "recent"})
    assert [e.rank for e in ranking] == [1, 2, 3]
    assert ranking[0].probability >= ranking[1].probability >= ranking[2].probability
    assert ranking[0].diagnosis == "myositis_ossificans"


def test_score_is_log_prior_plus_log_likelihood_ratios(pack: RulePack) -> None:
    rule = pack.by_id["SAR-SOFT-TISSUE-MASS"]
    sarcoma = next(e for e in rank(pack, [rule]) if e.diagnosis == "sarcoma")
    assert sarcoma.score == pytest.approx(
        math.log(pack.diagnoses["sarcoma"].prior) + math.log(pack.likelihood_ratio(rule.effects_of(DiagnosisEffect)[0]))
    )


def test_a_rule_with_two_effects_moves_both_diagnoses(pack: RulePack) -> None:
    rule = pack.by_id["AVU-TENDON-INSERTS-ON-LESION"]
    moved = {e.diagnosis: [c.direction for c in e.contributions] for e in rank(pack, [rule])}
    assert moved == {"avulsion": ["for"], "myositis_ossificans": ["against"], "sarcoma": []}


def test_adding_a_finding_that_only_supports_a_diagnosis_never_lowers_it(evaluator: Evaluator) -> None:
    base = {"age_years": 40, "site": "buttock"}
    before = {e.diagnosis: e.probability for e in evaluator.rank(base)}
    after = {e.diagnosis: e.probability for e in evaluator.rank({**base, "growth_on_followup": True})}
    assert after["sarcoma"] > before["sarcoma"]


def test_reference_case_ranks_avulsion_then_myositis_ossificans_then_sarcoma(evaluator: Evaluator) -> None:
    from ddx.case import load_case
    from tests.conftest import REFERENCE_CASE

    ranking = evaluator.rank(load_case(REFERENCE_CASE).findings.known())
    assert [e.diagnosis for e in ranking] == ["avulsion", "myositis_ossificans", "sarcoma"]
