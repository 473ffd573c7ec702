"""Ranking: priors × likelihood ratios, normalised; deterministic ties; monotone in supporting evidence."""

from __future__ import annotations

import math

import pytest

from ddx.evaluate import Evaluator
from ddx.ranking import rank
from ddx.rulepack import DiagnosisEffect, PriorContext, RulePack


def test_an_empty_case_returns_the_priors(evaluator: Evaluator) -> None:
    ranking = evaluator.rank({})
    for entry in ranking:
        assert entry.probability == pytest.approx(entry.prior / sum(e.prior for e in ranking))


def test_ties_break_toward_the_malignant_diagnosis_then_the_pack_order(pack: RulePack) -> None:
    even = PriorContext(
        id="even",
        label="even",
        probabilities={"avulsion": 1 / 3, "myositis_ossificans": 1 / 3, "sarcoma": 1 / 3},
        basis="judgement",
        rationale="test",
    )
    assert [e.diagnosis for e in rank(pack, [], even)] == ["sarcoma", "avulsion", "myositis_ossificans"]


def test_probabilities_sum_to_one(evaluator: Evaluator) -> None:
    ranking = evaluator.rank({"age_years": 60, "soft_tissue_mass": True, "site": "buttock"})
    assert math.fsum(e.probability for e in ranking) == pytest.approx(1.0)


def test_ranks_follow_probability(evaluator: Evaluator) -> None:
    ranking = evaluator.rank({"mineralization_pattern": "zonal_peripheral", "trauma_history": "recent"})
    assert [e.rank for e in ranking] == list(range(1, len(ranking) + 1))
    assert ranking[0].probability >= ranking[1].probability >= ranking[2].probability
    assert ranking[0].diagnosis == "myositis_ossificans"


def test_score_is_log_prior_plus_log_likelihood_ratios(pack: RulePack) -> None:
    rule = pack.by_id["SAR-SOFT-TISSUE-MASS"]
    context = pack.info.prior_contexts[-1]
    sarcoma = next(e for e in rank(pack, [rule], context) if e.diagnosis == "sarcoma")
    assert sarcoma.score == pytest.approx(
        math.log(context.probabilities["sarcoma"])
        + math.log(pack.likelihood_ratio(rule.effects_of(DiagnosisEffect)[0]))
    )


def test_a_rule_with_two_effects_moves_both_diagnoses(pack: RulePack) -> None:
    rule = pack.by_id["AVU-TENDON-INSERTS-ON-LESION"]
    moved = {e.diagnosis: [c.direction for c in e.contributions] for e in rank(pack, [rule])}
    assert moved == {"avulsion": ["for"], "myositis_ossificans": ["against"], "sarcoma": []}


def test_rules_of_one_group_count_once_per_diagnosis_the_strongest(pack: RulePack) -> None:
    tendon, continuity = pack.by_id["AVU-TENDON-INSERTS-ON-LESION"], pack.by_id["AVU-MATURE-BONE-IN-CONTINUITY"]
    assert tendon.group == continuity.group
    avulsion = next(e for e in rank(pack, [tendon, continuity]) if e.diagnosis == "avulsion")
    assert [c.rule.id for c in avulsion.contributions] == [tendon.id]
    assert [c.rule.id for c in avulsion.not_counted] == [continuity.id]


def test_adding_a_finding_that_only_supports_a_diagnosis_never_lowers_it(evaluator: Evaluator) -> None:
    base = {"age_years": 40, "site": "buttock"}
    before = {e.diagnosis: e.probability for e in evaluator.rank(base)}
    after = {e.diagnosis: e.probability for e in evaluator.rank({**base, "growth_on_followup": True})}
    assert after["sarcoma"] > before["sarcoma"]


def test_reference_case_ranks_avulsion_first_and_weighs_the_prior_cancer(evaluator: Evaluator) -> None:
    from ddx.case import load_case
    from tests.conftest import REFERENCE_CASE

    ranking = evaluator.rank(load_case(REFERENCE_CASE).findings.known())
    assert [e.diagnosis for e in ranking] == ["avulsion", "myositis_ossificans", "metastasis", "sarcoma"]
