"""`ddx validate`: the figures on validation cases, each worked out by hand on a constructed fixture.

tests/validation_fixture/ is a three-rule pack with equal priors and exact likelihood ratios, and six cases:

| case | reference | engine's ranking (probabilities)            | reference rank | urgent flag | baseline |
|------|-----------|---------------------------------------------|----------------|-------------|----------|
| a    | sarcoma   | sarcoma 7/9, avulsion 1/9, MO 1/9            | 1              | no          | sarcoma  |
| b    | MO        | sarcoma 7/11, avulsion 3/11, MO 1/11         | 3              | no          | sarcoma  |
| c    | avulsion  | avulsion 6/11, MO 3/11, sarcoma 2/11         | 1              | no          | avulsion |
| d    | sarcoma   | avulsion 6/11, MO 3/11, sarcoma 2/11         | 3              | yes         | avulsion |
| e    | sarcoma   | avulsion 6/11, MO 3/11, sarcoma 2/11         | 3              | no          | avulsion |
| f    | MO        | avulsion 6/11, MO 3/11, sarcoma 2/11         | 2              | no          | avulsion |

Constructed cases test the machinery only; accuracy figures are computed on validation/, never here.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ddx.errors import DdxInputError
from ddx.rulepack import RulePack, load_rule_pack
from ddx.validate import CaseOutcome, ranked_under_malignant
from tests.conftest import RULES_DIR, Cli, assert_one_line_error

FIXTURE = Path(__file__).resolve().parent / "validation_fixture"
FIXTURE_RULES = FIXTURE / "rules"
FIXTURE_CASES = FIXTURE / "cases"


def _rules_with_pack_edit(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the shipped rules with ``old`` replaced by ``new`` in pack.yaml."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    pack_file = rules / "pack.yaml"
    text = pack_file.read_text(encoding="utf-8")
    assert old in text
    pack_file.write_text(text.replace(old, new), encoding="utf-8")
    return rules


# ---- the pack's data: which diagnoses are malignant, and the rule-of-thumb baseline -----------------------


def test_the_shipped_pack_marks_only_its_malignant_diagnoses(pack: RulePack) -> None:
    malignant = {d for d, info in pack.diagnoses.items() if info.malignant}
    assert malignant == {"sarcoma", "metastasis"}


def test_the_shipped_baseline_is_the_three_line_rule_of_thumb(pack: RulePack) -> None:
    from ddx.validate import baseline_diagnosis

    assert baseline_diagnosis(pack, {"soft_tissue_mass": True, "site": "ischial_tuberosity"}) == "sarcoma"
    assert baseline_diagnosis(pack, {"soft_tissue_mass": False, "site": "ischial_tuberosity"}) == "avulsion"
    assert baseline_diagnosis(pack, {"site": "buttock"}) == "myositis_ossificans"


def test_a_baseline_step_counts_only_when_its_condition_is_known_true(pack: RulePack) -> None:
    from ddx.validate import baseline_diagnosis

    assert baseline_diagnosis(pack, {}) == "myositis_ossificans"


def test_a_baseline_condition_outside_the_vocabulary_is_an_error_with_its_line(tmp_path: Path) -> None:
    rules = _rules_with_pack_edit(tmp_path, "when: {site: ischial_tuberosity}", "when: {site: nowhere}")
    with pytest.raises(DdxInputError, match=r"pack\.yaml:\d+: baseline\.1\.when\.site: 'nowhere' is not a value"):
        load_rule_pack(rules)


def test_only_the_last_baseline_step_may_go_without_a_condition(tmp_path: Path) -> None:
    rules = _rules_with_pack_edit(tmp_path, "  - diagnosis: myositis_ossificans\n", "")
    with pytest.raises(DdxInputError, match=r"pack\.yaml:\d+: baseline\.1: the last step is the default"):
        load_rule_pack(rules)


# ---- the figures, on the hand-computable fixture ---------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_summary() -> dict[str, Any]:
    from ddx.api import evaluator_for
    from ddx.validate import load_validation_cases, summary, validate

    evaluator = evaluator_for(FIXTURE_RULES)
    return summary(validate(load_validation_cases(FIXTURE_CASES, evaluator.pack), evaluator))


def test_top1_and_top2_count_the_reference_among_the_first_one_and_two(fixture_summary: dict[str, Any]) -> None:
    assert fixture_summary["n"] == 6
    assert fixture_summary["top1"] == pytest.approx(2 / 6, abs=1e-6)  # a, c
    assert fixture_summary["top2"] == pytest.approx(3 / 6, abs=1e-6)  # a, c, f


def test_log_loss_is_the_mean_negative_log_probability_of_the_reference(fixture_summary: dict[str, Any]) -> None:
    expected = -(math.log(7 / 9) + math.log(1 / 11) + math.log(6 / 11) + 2 * math.log(2 / 11) + math.log(3 / 11)) / 6
    assert fixture_summary["log_loss"] == pytest.approx(expected, abs=1e-5)


def test_brier_sums_squared_errors_over_every_diagnosis_then_averages_cases(fixture_summary: dict[str, Any]) -> None:
    per_case = [6 / 81, 158 / 121, 38 / 121, 126 / 121, 126 / 121, 104 / 121]
    assert fixture_summary["brier"] == pytest.approx(sum(per_case) / 6, abs=1e-5)


def test_per_diagnosis_sensitivity_is_top1_recall(fixture_summary: dict[str, Any]) -> None:
    rows = fixture_summary["per_diagnosis"]
    assert {d: (r["n"], r["correct"]) for d, r in rows.items()} == {
        "avulsion": (1, 1),
        "myositis_ossificans": (2, 0),
        "sarcoma": (3, 1),
    }
    assert rows["sarcoma"]["sensitivity"] == pytest.approx(1 / 3, abs=1e-6)


def test_the_confusion_table_crosses_reference_with_the_top_diagnosis(fixture_summary: dict[str, Any]) -> None:
    assert fixture_summary["confusion"] == {
        "avulsion": {"avulsion": 1, "myositis_ossificans": 0, "sarcoma": 0},
        "myositis_ossificans": {"avulsion": 1, "myositis_ossificans": 0, "sarcoma": 1},
        "sarcoma": {"avulsion": 2, "myositis_ossificans": 0, "sarcoma": 1},
    }


def test_a_malignant_case_is_safe_when_ranked_first_or_urgently_flagged(fixture_summary: dict[str, Any]) -> None:
    s = fixture_summary
    assert (s["sarcoma_n"], s["sarcoma_first"], s["sarcoma_flagged"], s["sarcoma_safe"]) == (3, 1, 1, 2)
    assert s["sarcoma_unsafe"] == ["e-sarcoma-third-unflagged"]


def test_calibration_bins_every_probability_given_with_how_often_it_was_right(
    fixture_summary: dict[str, Any],
) -> None:
    bins = {round(b["lower"] * 10): (b["count"], b["observed"]) for b in fixture_summary["calibration"]["bins"]}
    assert bins[0] == (1, pytest.approx(1.0))  # b: MO 1/11
    assert bins[1] == (6, pytest.approx(2 / 6, abs=1e-6))  # a: 1/9 twice; c-f: sarcoma 2/11 (d, e right)
    assert bins[2] == (5, pytest.approx(1 / 5, abs=1e-6))  # b: avulsion 3/11; c-f: MO 3/11 (f right)
    assert bins[5] == (4, pytest.approx(1 / 4, abs=1e-6))  # c-f: avulsion 6/11 (c right)
    assert sum(b["count"] for b in fixture_summary["calibration"]["bins"]) == 6 * 3


def test_a_benign_case_counts_as_under_malignant_when_a_malignant_diagnosis_ranks_above_it(
    fixture_summary: dict[str, Any],
) -> None:
    # b (MO third, sarcoma first) is under sarcoma; f (MO second behind avulsion) is not. c is avulsion first.
    assert fixture_summary["ranked_under_malignant"]["myositis_ossificans"] == {
        "n": 2,
        "under": 1,
        "fraction": 0.5,
        "by_diagnosis": {"sarcoma": 1},
        "cases": ["b-mo-third"],
    }
    assert fixture_summary["ranked_under_malignant"]["avulsion"]["under"] == 0


def test_ranked_under_malignant_counts_each_malignant_diagnosis_ranked_above_the_benign_one() -> None:
    def mo_case(case_id: str, *ranking: str) -> CaseOutcome:
        return CaseOutcome(
            path=f"{case_id}.yaml",
            case_id=case_id,
            reference="myositis_ossificans",
            ranking=tuple((d, 0.1) for d in ranking),
            urgent_red_flag=True,
            baseline=None,
            hard=None,
            subtype=None,
            source="PMID 1",
        )

    outcomes = [
        mo_case("both-above", "metastasis", "sarcoma", "myositis_ossificans"),
        mo_case("sarcoma-above", "sarcoma", "myositis_ossificans"),
        mo_case("first", "myositis_ossificans", "sarcoma", "metastasis"),
    ]
    row = ranked_under_malignant(outcomes, ["myositis_ossificans", "sarcoma", "metastasis"], ["sarcoma", "metastasis"])
    assert row["myositis_ossificans"]["under"] == 2
    assert row["myositis_ossificans"]["by_diagnosis"] == {"sarcoma": 2, "metastasis": 1}


def test_the_baseline_is_scored_on_the_same_cases(fixture_summary: dict[str, Any]) -> None:
    assert fixture_summary["baseline_top1"] == pytest.approx(2 / 6, abs=1e-6)  # a, c
    assert [c["baseline"] for c in fixture_summary["cases"]] == ["sarcoma", "sarcoma", *["avulsion"] * 4]


def test_misses_name_the_reference_the_top_answer_and_the_source(fixture_summary: dict[str, Any]) -> None:
    misses = {m["case_id"]: m for m in fixture_summary["misses"]}
    assert set(misses) == {"b-mo-third", "d-sarcoma-third-flagged", "e-sarcoma-third-unflagged", "f-mo-second"}
    b = misses["b-mo-third"]
    assert (b["reference"], b["top"], b["source"]) == ("myositis_ossificans", "sarcoma", "PMID 2")
    assert b["top_probability"] == pytest.approx(7 / 11, abs=1e-6)


def test_each_case_says_whether_it_is_marked_hard(fixture_summary: dict[str, Any]) -> None:
    hard = {c["case_id"]: c["hard"] for c in fixture_summary["cases"] if c["hard"]}
    assert hard == {"d-sarcoma-third-flagged": "taken for an avulsion"}
    assert (fixture_summary["hard_n"], fixture_summary["hard_top1"]) == (1, 0.0)


def test_nothing_is_fitted_so_nothing_needs_cross_validation(fixture_summary: dict[str, Any]) -> None:
    assert fixture_summary["fitted"] == "none"


# ---- cross-validation, for whatever is fitted one day -----------------------------------------------------


def test_when_every_reference_is_ranked_the_within_figures_are_the_headline(fixture_summary: dict[str, Any]) -> None:
    within = fixture_summary["within_differential"]
    assert {key: within[key] for key in ("n", "top1", "top2", "log_loss", "brier", "baseline_top1")} == {
        key: fixture_summary[key] for key in ("n", "top1", "top2", "log_loss", "brier", "baseline_top1")
    }
    assert fixture_summary["outside_differential"] == {"n": 0, "flagged": 0, "cases": []}


def _metastasis_case(folder: Path, name: str, cancer_known: bool) -> None:
    (folder / f"{name}.yaml").write_text(
        f"id: {name}\ntitle: a thigh mass\nfindings: {{age_years: 60, site: proximal_thigh, soft_tissue_mass: true, "
        f"history_of_malignancy: {str(cancer_known).lower()}}}\n"
        "reference: {diagnosis: metastasis, confirmed_by: histology, citation: a case report, url: https://example.org,"
        " checked: constructed for this test}\n",
        encoding="utf-8",
    )


def test_a_reference_the_case_cannot_rank_counts_outside_the_differential_and_in_the_headline(
    tmp_path: Path,
) -> None:
    from ddx.api import evaluator_for
    from ddx.validate import load_validation_cases, summary, validate

    _metastasis_case(tmp_path, "known-cancer", cancer_known=True)
    _metastasis_case(tmp_path, "no-known-cancer", cancer_known=False)  # the shipped pack ranks metastasis only with one
    evaluator = evaluator_for(None)
    result = summary(validate(load_validation_cases(tmp_path, evaluator.pack), evaluator))
    assert result["n"] == 2
    assert result["within_differential"]["n"] == 1
    assert result["outside_differential"]["cases"] == ["no-known-cancer"]
    assert result["outside_differential"]["flagged"] == 1  # the mass in a 60-year-old keeps sarcoma open


def test_a_folder_with_no_case_inside_the_differential_still_prints_its_tables(cli: Cli, tmp_path: Path) -> None:
    _metastasis_case(tmp_path, "no-known-cancer", cancer_known=False)
    code, out, _ = cli("validate", str(tmp_path))
    assert code == 0
    assert "Outside the differential" in out
    assert "— / —" in out  # within it: no cases, so no log loss or Brier


def test_kfold_holds_every_case_out_exactly_once_and_never_trains_on_it() -> None:
    from ddx.validate import kfold

    folds = kfold(10, 3)
    held_out = sorted(i for _, test in folds for i in test)
    assert held_out == list(range(10))
    assert all(not set(train) & set(test) and len(train) + len(test) == 10 for train, test in folds)


def test_a_fitted_step_predicts_each_case_from_the_other_folds_only() -> None:
    from ddx.api import evaluator_for
    from ddx.case import Case
    from ddx.explain import build_report
    from ddx.report import Report
    from ddx.validate import ValidationCase, load_validation_cases, validate

    evaluator = evaluator_for(FIXTURE_RULES)
    cases = load_validation_cases(FIXTURE_CASES, evaluator.pack)
    trained_on: dict[str, set[str]] = {}

    def fit(training: Sequence[ValidationCase]) -> Callable[[Case], Report]:
        seen = {c.case.id for c in training}

        def predict(case: Case) -> Report:
            trained_on[case.id] = seen
            return build_report(case, evaluator)

        return predict

    run = validate(cases, evaluator, fit=fit, folds=3)
    assert all(case_id not in seen for case_id, seen in trained_on.items())
    assert len(trained_on) == 6
    assert run.fitted == "fit, 3-fold"


# ---- input that is not a validation set ------------------------------------------------------------------


def test_a_case_without_a_reference_block_is_an_error_with_its_file_and_line(tmp_path: Path) -> None:
    from ddx.validate import load_validation_cases

    (tmp_path / "x.yaml").write_text("id: x\ntitle: t\nfindings: {}\n", encoding="utf-8")
    with pytest.raises(DdxInputError, match=r"x\.yaml:1: no 'reference:' block"):
        load_validation_cases(tmp_path, load_rule_pack(FIXTURE_RULES))


def test_a_reference_diagnosis_the_pack_does_not_rank_is_an_error_at_its_line(tmp_path: Path) -> None:
    from ddx.validate import load_validation_cases

    text = (FIXTURE_CASES / "a-sarcoma-first.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text.replace("diagnosis: sarcoma", "diagnosis: lipoma"), encoding="utf-8")
    with pytest.raises(DdxInputError, match=r"a\.yaml:6: reference\.diagnosis: got 'lipoma'; the rule pack ranks"):
        load_validation_cases(tmp_path, load_rule_pack(FIXTURE_RULES))


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    from ddx.validate import load_validation_cases

    with pytest.raises(DdxInputError, match="no case files"):
        load_validation_cases(tmp_path, load_rule_pack(FIXTURE_RULES))


def test_a_case_id_used_twice_is_an_error(tmp_path: Path) -> None:
    from ddx.validate import load_validation_cases

    for name in ("one.yaml", "two.yaml"):
        shutil.copy(FIXTURE_CASES / "a-sarcoma-first.yaml", tmp_path / name)
    with pytest.raises(DdxInputError, match=r"two\.yaml:1: id: duplicate case id"):
        load_validation_cases(tmp_path, load_rule_pack(FIXTURE_RULES))


# ---- the command ----------------------------------------------------------------------------------------

ON_FIXTURE = (str(FIXTURE_CASES), "--rules", str(FIXTURE_RULES))


@pytest.fixture
def cli_columns() -> int:
    return 160  # the headline table's "compare with" column stays on one line


def test_json_carries_the_headline_figures_as_fractions_and_counts(cli: Cli) -> None:
    code, out, _ = cli("validate", *ON_FIXTURE, "--format", "json")
    document = json.loads(out)
    assert code == 0
    fractions = ("top1", "top2", "baseline_top1")
    counts = ("n", "sarcoma_n", "sarcoma_safe")
    assert all(isinstance(document[k], float) and 0 <= document[k] <= 1 for k in fractions)
    assert all(isinstance(document[k], int) for k in counts)
    assert all(isinstance(document[k], float) for k in ("log_loss", "brier"))
    assert {"per_diagnosis", "confusion", "calibration", "misses", "fitted"} <= set(document)


def test_the_terminal_report_shows_every_table_and_says_nothing_is_fitted(cli: Cli) -> None:
    code, out, _ = cli("validate", *ON_FIXTURE)
    assert code == 0
    for heading in ("Top-1 accuracy", "Per diagnosis", "Confusion", "Calibration", "Misses: 4", "Fitted to cases"):
        assert heading in out
    assert "e-sarcoma-third-unflagged" in out


def test_markdown_is_tables_for_the_readme(cli: Cli) -> None:
    code, out, _ = cli("validate", *ON_FIXTURE, "--format", "markdown")
    assert code == 0
    assert out.startswith("## Validation: 6 cases")
    assert "| Top-1 accuracy | 33% (2 of 6) |" in out
    assert "| Reference ↓ / top answer → | avulsion | myositis_ossificans | sarcoma |" in out


def test_validation_reports_and_does_not_gate_poor_figures_exit_0(cli: Cli) -> None:
    assert cli("validate", *ON_FIXTURE)[0] == 0  # top-1 is 33 % on the fixture


def test_a_case_without_a_reference_is_exit_2_with_file_and_line(cli: Cli, tmp_path: Path) -> None:
    shutil.copy(FIXTURE_CASES / "a-sarcoma-first.yaml", tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("id: b\ntitle: t\nfindings: {}\n", encoding="utf-8")
    code, out, err = cli("validate", str(tmp_path), "--rules", str(FIXTURE_RULES))
    assert (code, out) == (2, "")
    assert_one_line_error(err, "b.yaml:1: no 'reference:' block")


def test_an_empty_folder_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("validate", str(tmp_path))
    assert code == 2
    assert "no case files" in err


def test_plot_writes_the_reliability_diagram_and_confusion_matrix(cli: Cli, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "validation.png"
    code, _, err = cli("validate", *ON_FIXTURE, "--plot", str(target))
    assert code == 0
    assert target.read_bytes().startswith(b"\x89PNG")
    assert f"Plot written to {target}" in err


def test_plot_without_matplotlib_is_one_line_naming_the_extra(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    code, out, err = cli("validate", *ON_FIXTURE, "--plot", str(tmp_path / "x.png"))
    assert (code, out) == (2, "")
    assert err == "ddx: error: --plot needs matplotlib, the optional extra 'plot': pip install 'ddx[plot]'\n"
    assert not (tmp_path / "x.png").exists()


def test_matplotlib_is_imported_only_for_a_plot() -> None:
    script = (
        "import sys, contextlib, io\n"
        "from ddx.cli import main\n"
        f"sys.argv = ['ddx', 'validate', *{list(ON_FIXTURE)!r}, '--format', 'json']\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main()\n"
        "print('matplotlib' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "False"
