"""Explanations: evidence with its findings, the margin between the top two, unknowns that matter."""

from __future__ import annotations

import pytest

from ddx.case import Case, load_case
from ddx.counterfactuals import candidate_values
from ddx.evaluate import Evaluator
from ddx.explain import build_report
from ddx.report import Report
from tests.conftest import FINDING_SPECS, REFERENCE_CASE, Findings


@pytest.fixture(scope="module")
def reference_report(evaluator: Evaluator) -> Report:
    return build_report(load_case(REFERENCE_CASE), evaluator)


def report_for(evaluator: Evaluator, **findings: object) -> Report:
    return build_report(Case(id="t", title="t", findings=Findings.model_validate(findings)), evaluator)


def test_reference_case_is_avulsion_with_impingement_present(reference_report: Report) -> None:
    assert [e.diagnosis for e in reference_report.ranking] == ["avulsion", "myositis_ossificans", "sarcoma"]
    assert reference_report.secondary[0].status == "present"


def test_reference_case_management_matches_the_published_reasoning(reference_report: Report) -> None:
    texts = " ".join(r.text for r in reference_report.recommendations)
    for phrase in ("anti-inflammatory", "gabapentin", "FITT-VP", "Surgery only"):
        assert phrase in texts


def test_evidence_names_the_findings_that_triggered_it(reference_report: Report) -> None:
    item = next(e for e in reference_report.ranking[0].evidence if e.rule == "AVU-TENDON-INSERTS-ON-LESION")
    assert item.findings == {"tendon_attachment": True}
    assert item.likelihood_ratio == 5.0
    assert "Eurorad" in item.citation


def test_an_any_condition_names_only_the_branches_that_held(evaluator: Evaluator) -> None:
    report = report_for(evaluator, bone_destruction=False, periosteal_reaction=True)
    item = next(
        e for r in report.ranking for e in r.evidence if e.rule == "SAR-BONE-DESTRUCTION-OR-PERIOSTEAL-REACTION"
    )
    assert item.findings == {"periosteal_reaction": True}


def test_margin_between_the_top_two_is_the_sum_of_its_parts(reference_report: Report) -> None:
    comparison = reference_report.top_comparison
    total = comparison.prior_log_ratio + sum(item.log_contribution for item in comparison.contributions)
    assert comparison.log_margin == pytest.approx(total, abs=1e-5)
    assert (comparison.first, comparison.second) == ("avulsion", "myositis_ossificans")


def test_an_unknown_finding_that_could_change_the_top_is_found_with_its_value(evaluator: Evaluator) -> None:
    report = report_for(evaluator, site="ischial_tuberosity")
    growth = next(u for u in report.unknown_findings if u.finding == "soft_tissue_mass")
    assert not growth.could_change_top
    report = report_for(evaluator, age_years=60)
    mineral = next(u for u in report.unknown_findings if u.finding == "mineralization_pattern")
    assert mineral.could_change_top
    assert {(c.value, c.top) for c in mineral.changes_top_when} >= {("zonal_peripheral", "myositis_ossificans")}


def test_findings_no_rule_reads_are_listed_as_unknown_but_never_change_the_top(evaluator: Evaluator) -> None:
    report = report_for(evaluator)
    sex = next(u for u in report.unknown_findings if u.finding == "sex")
    assert (sex.read_by_rules, sex.could_change_top) == (False, False)


def test_an_empty_case_lists_every_finding_as_unknown(evaluator: Evaluator) -> None:
    assert {u.finding for u in report_for(evaluator).unknown_findings} == set(FINDING_SPECS)


def test_candidate_values_cover_every_region_between_numeric_thresholds() -> None:
    values = candidate_values(FINDING_SPECS["ischiofemoral_space_mm"], [15.0, 17.0])
    assert values == [14.0, 15.0, 16.0, 17.0, 18.0]
    assert candidate_values(FINDING_SPECS["age_years"], [25.0]) == [24, 25, 26]
    assert candidate_values(FINDING_SPECS["lesion_size_cm"], []) == []


def test_urgent_red_flags_come_before_cautions(evaluator: Evaluator) -> None:
    report = report_for(evaluator, history_of_malignancy=True, bone_destruction=True)
    assert next(f.severity for f in report.red_flags) == "urgent"
    assert "caution" in [f.severity for f in report.red_flags]


def test_a_tied_first_place_triggers_no_advice_that_depends_on_the_top_diagnosis(
    evaluator: Evaluator,
) -> None:
    report = report_for(evaluator)
    assert report.recommendations == []
    assert "top_diagnosis" not in evaluator.conclude({}).facts
