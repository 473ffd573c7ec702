"""Proof that ddx is an engine: a second, made-up pack (tests/packs/knee) through every command, no code change.

The knee pack has its own findings, sections and synonyms, four diagnoses (the shipped pack has three) and
one secondary condition under its own key (``cyst``); nothing in src/ddx knows any of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ddx.rulepack import load_rule_pack
from tests.conftest import REPO, run_ddx

KNEE = REPO / "tests" / "packs" / "knee"
RULES, CASES = KNEE / "rules", KNEE / "cases"
PACK = ("--rules", str(RULES))


def test_the_pack_loads_with_four_diagnoses_and_its_own_condition() -> None:
    pack = load_rule_pack(RULES)
    assert pack.diagnosis_ids == ("septic_arthritis", "gout", "osteoarthritis", "haemarthrosis")
    assert [c.answer_key for c in pack.info.conditions] == ["cyst"]
    assert "popliteal_cyst" in pack.derived_specs


def test_assess_ranks_all_four_diagnoses() -> None:
    result = run_ddx("assess", str(CASES / "septic-febrile-pus.yaml"), "--format", "json", *PACK)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert next(r["diagnosis"] for r in report["ranking"]) == "septic_arthritis"
    assert len(report["ranking"]) == 4
    assert report["rule_pack"]["name"] == "test-swollen-knee"
    assert [s["condition"] for s in report["secondary"]] == ["popliteal_cyst"]


def test_assess_text_and_what_if_use_the_packs_words() -> None:
    result = run_ddx("assess", str(CASES / "gout-urate.yaml"), "--set", "crystals=none seen", *PACK)
    assert result.returncode == 0, result.stderr
    assert "Popliteal cyst" in result.stdout
    assert "Gout" in result.stdout


def test_new_with_piped_answers_writes_a_case_of_this_pack(tmp_path: Path) -> None:
    out = tmp_path / "knee.yaml"
    # in the vocabulary's order; synonyms of this pack: "pus" is purulent, "msu" is urate
    answers = "\n".join(["61", "left", "no", "yes", "39.5", "no", "pus", "msu"]) + "\n"
    result = run_ddx("new", "--out", str(out), "--order", "fixed", "--format", "json", *PACK, stdin=answers)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rule_pack"]["name"] == "test-swollen-knee"
    saved = out.read_text()
    assert "aspirate: purulent" in saved
    assert "crystals: urate" in saved
    assert "temperature_c: 39.5" in saved
    assessed = run_ddx("assess", str(out), "--format", "json", *PACK)
    assert assessed.returncode == 0, assessed.stderr
    assert json.loads(assessed.stdout)["ranking"][0]["diagnosis"] == "septic_arthritis"


def test_crystals_are_not_asked_when_the_aspirate_is_bloody(tmp_path: Path) -> None:
    answers = "\n".join(["70", "unknown", "yes", "unknown", "unknown", "unknown", "blood"]) + "\n"
    result = run_ddx("new", "--out", str(tmp_path / "b.yaml"), "--order", "fixed", *PACK, stdin=answers)
    assert result.returncode == 0, result.stderr
    assert "(aspirate," in result.stderr
    assert "(crystals," not in result.stderr


def test_regress_passes_and_covers_every_rule() -> None:
    result = run_ddx("regress", str(CASES), "--json", *PACK)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert (summary["passed"], summary["failed"]) == (4, 0)
    assert "not exercised" not in run_ddx("regress", str(CASES), *PACK).stdout


def test_rules_lint_is_clean() -> None:
    result = run_ddx("rules", "lint", *PACK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


def test_rules_views_read_the_packs_vocabulary() -> None:
    findings = run_ddx("rules", "findings", *PACK)
    assert findings.returncode == 0, findings.stderr
    assert "crystals" in findings.stdout
    assert "Negatively birefringent needles." in findings.stdout
    docs = run_ddx("rules", "docs", *PACK)
    assert docs.returncode == 0
    assert "Joint aspirate" in docs.stdout


def test_quiz_grade_reads_an_answers_file_with_the_packs_condition_key() -> None:
    result = run_ddx(
        "quiz", "grade", str(KNEE / "answers" / "septic.yaml"), "--format", "json", "--cases", str(CASES), *PACK
    )
    assert result.returncode == 0, result.stderr
    graded = json.loads(result.stdout)
    assert graded["breakdown"]["cyst"] == 10.0
    assert graded["ranking_agreement"]["top1_match"] is True


def test_interactive_quiz_with_piped_answers(tmp_path: Path) -> None:
    answers = "\n".join(["1 3 2 4", "indeterminate", "2", "none", "none", "none", "1", "2", "2", "2"]) + "\n"
    result = run_ddx(
        "quiz",
        "--case",
        "oa-older-clear",
        "--student",
        "sam",
        "--db",
        str(tmp_path / "quiz.db"),
        "--cases",
        str(CASES),
        *PACK,
        stdin=answers,
    )
    assert result.returncode == 0, result.stderr
    assert "Popliteal cyst: present, absent or indeterminate?" in result.stderr
    graded = " ".join(result.stdout.split())
    assert "Cyst: you said indeterminate, the engine says indeterminate" in graded
    assert "Kendall" in graded


@pytest.mark.parametrize("export_format", ["gift", "moodle-xml"])
def test_quiz_export(export_format: str) -> None:
    result = run_ddx("quiz", "export", "--format", export_format, "--cases", str(CASES), *PACK)
    assert result.returncode == 0, result.stderr
    assert "Haemarthrosis" in result.stdout
    assert "popliteal cyst" in result.stdout


def test_schema_is_this_packs_with_value_meanings() -> None:
    result = run_ddx("schema", *PACK)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    findings = next(d for name, d in schema["$defs"].items() if name.startswith("Findings"))
    assert list(findings["properties"]) == [
        "patient_age",
        "knee_side",
        "anticoagulated",
        "fever",
        "temperature_c",
        "popliteal_swelling",
        "aspirate",
        "crystals",
    ]
    crystals = findings["properties"]["crystals"]
    assert crystals["title"] == "Crystals"
    assert crystals["anyOf"][0]["oneOf"] == [
        {"const": "absent", "title": "none seen", "description": "No crystals seen."},
        {"const": "urate", "title": "urate", "description": "Negatively birefringent needles."},
    ]
    expectation = next(d for name, d in schema["$defs"].items() if name.startswith("Expectation"))
    assert "cyst" in expectation["properties"]


def test_rules_findings_shows_one_finding() -> None:
    result = run_ddx("rules", "findings", "crystals", *PACK)
    assert result.returncode == 0, result.stderr
    assert "applies when: aspirate in {clear, cloudy, purulent}" in result.stdout
    assert "read by: KNEE-URATE" in result.stdout
    assert "aspirate`" not in result.stdout  # only the finding asked for
    unknown = run_ddx("rules", "findings", "crystal", *PACK)
    assert unknown.returncode == 2
    assert "did you mean 'crystals'" in unknown.stderr


def test_validate_on_constructed_reference_cases() -> None:
    result = run_ddx("validate", str(KNEE / "validation"), "--format", "json", *PACK)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["n"] == 2
    assert summary["top1"] == 1.0
    assert summary["malignant_diagnoses"] == ["septic_arthritis"]
    assert summary["malignant_safe"] == 1 == summary["septic_arthritis_safe"]
