"""Explanations: evidence with its findings, the margin between the top two, unknowns that matter."""

from __future__ import annotations

import pytest

from ddx.case import Case, load_case
from ddx.counterfactuals import candidate_values
from ddx.evaluate import Evaluator
from ddx.explain import build_report
from ddx.report import Report
from ddx.rulepack import PriorContext, RulePack
from tests.conftest import FINDING_SPECS, REFERENCE_CASE, Findings


@pytest.fixture(scope="module")
def reference_report(evaluator: Evaluator) -> Report:
    return build_report(load_case(REFERENCE_CASE), evaluator)


def report_for(evaluator: Evaluator, **findings: object) -> Report:
    return build_report(Case(id="t", title="t", findings=Findings.model_validate(findings)), evaluator)


def test_reference_case_is_avulsion_with_impingement_present(reference_report: Report) -> None:
    assert [e.diagnosis for e in reference_report.ranking] == [
        "avulsion",
        "myositis_ossificans",
        "metastasis",
        "sarcoma",
    ]
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
    report = report_for(evaluator, bone_destruction=False, growth_on_followup=True)
    flag = next(f for f in report.red_flags if f.rule == "RF-AGGRESSIVE-FEATURES")
    assert flag.findings == {"growth_on_followup": True}


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


def test_a_tied_first_place_triggers_no_advice_that_depends_on_the_top_diagnosis(pack: RulePack) -> None:
    even = PriorContext(
        id="even",
        label="even",
        probabilities={"avulsion": 0.5, "myositis_ossificans": 0.5},
        basis="judgement",
        rationale="test",
    )
    tied = Evaluator(pack.model_copy(update={"info": pack.info.model_copy(update={"priors": (even,)})}))
    conclusion = tied.conclude({})
    assert "top_diagnosis" not in conclusion.facts
    assert conclusion.recommendations == ()
    tied.close()


def test_a_malignant_diagnosis_that_cannot_be_excluded_is_flagged_with_what_keeps_it_open(
    evaluator: Evaluator,
) -> None:
    report = report_for(evaluator, site="proximal_thigh", age_years=60, soft_tissue_mass=True)
    flag = next(f for f in report.red_flags if f.rule == "RF-SARCOMA-NOT-EXCLUDED")
    assert flag.severity == "urgent"
    assert flag.findings == {"age_years": 60, "soft_tissue_mass": True}
    mature = report_for(evaluator, site="proximal_thigh", age_years=60, lesion_maturity="mature")
    assert "RF-SARCOMA-NOT-EXCLUDED" not in [f.rule for f in mature.red_flags]


def test_metastasis_is_ranked_only_with_a_history_of_cancer(evaluator: Evaluator) -> None:
    assert "metastasis" not in [e.diagnosis for e in report_for(evaluator, age_years=60).ranking]
    assert "metastasis" not in [e.diagnosis for e in report_for(evaluator, history_of_malignancy=False).ranking]
    with_cancer = report_for(evaluator, history_of_malignancy=True)
    assert "metastasis" in [e.diagnosis for e in with_cancer.ranking]
    assert with_cancer.prior_context is not None
    assert with_cancer.prior_context.id == "cancer-history"


def test_below_the_threshold_the_headline_says_indeterminate_and_names_what_would_decide(
    evaluator: Evaluator,
) -> None:
    report = report_for(evaluator, site="proximal_thigh", age_years=40)
    assert report.headline is not None
    assert report.headline.status == "indeterminate"
    assert 1 <= len(report.headline.deciding_findings) <= 3
    assert "Indeterminate" in report.headline.text
    assert report.headline.next_step
    clear = report_for(evaluator, site="proximal_thigh", mineralization_pattern="zonal_peripheral", direct_blow=True)
    assert clear.headline is not None
    assert clear.headline.status == "leading"


def test_within_8_weeks_of_an_injury_the_sarcoma_rules_early_myositis_ossificans_mimics_do_not_count(
    evaluator: Evaluator,
) -> None:
    early = report_for(evaluator, trauma_history="recent", lesion_age_weeks=4, soft_tissue_mass=True)
    late = report_for(evaluator, trauma_history="recent", lesion_age_weeks=16, soft_tissue_mass=True)
    assert "SAR-SOFT-TISSUE-MASS" not in early.fired_rules
    assert "MO-EARLY-MASS-AFTER-INJURY" in early.fired_rules
    assert "SAR-PERSISTENT-SOFT-TISSUE-MASS" in late.fired_rules


def test_every_contribution_says_whether_its_weight_is_published_or_a_convention(reference_report: Report) -> None:
    items = [item for entry in reference_report.ranking for item in entry.evidence]
    assert items
    assert all(item.basis in ("published", "convention") for item in items)
    assert {item.basis for item in items} == {"convention"}  # no rule of the shipped pack has a published LR
