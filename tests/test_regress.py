"""Regression runs: coverage, JUnit and JSON output, snapshots, and what moved between rule versions."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from ddx.case import discover_case_files
from ddx.evaluate import Evaluator
from ddx.regress import (
    CaseResult,
    RegressionRun,
    compare_runs,
    junit_xml,
    not_compared,
    rule_coverage,
    rules_at,
    run_regression,
    snapshot_mismatches,
    snapshot_text,
    write_snapshots,
)
from ddx.render.regress import changes_table
from ddx.rulepack import load_rule_pack
from tests.conftest import CASES_DIR, REFERENCE_CASE, RULES_DIR

SNAPSHOTS = Path(__file__).parent / "snapshots"


def test_every_rule_is_exercised_by_at_least_one_curated_case(evaluator: Evaluator) -> None:
    run = run_regression(discover_case_files(CASES_DIR), evaluator)
    coverage = rule_coverage(run, [rule.id for rule in evaluator.pack.rules])
    assert [rule for rule, cases in coverage.items() if not cases] == []


def test_every_curated_case_matches_its_golden_snapshot(evaluator: Evaluator) -> None:
    run = run_regression(discover_case_files(CASES_DIR), evaluator)
    orphans = {p.stem for p in SNAPSHOTS.glob("*.json")} - {r.case_id for r in run.results}
    assert orphans == set(), "snapshots of cases that no longer exist; delete them"
    stale = snapshot_mismatches(run, SNAPSHOTS)
    assert stale == [], (
        "reports changed; review the diff, then refresh on purpose with "
        "`ddx regress cases --snapshots tests/snapshots --update`"
    )


def test_snapshots_ignore_the_rule_pack_digest(evaluator: Evaluator) -> None:
    run = run_regression([REFERENCE_CASE], evaluator)
    assert run.results[0].report is not None
    assert '"digest": "<digest>"' in snapshot_text(run.results[0].report)


def test_write_snapshots_reports_what_changed_and_then_nothing(evaluator: Evaluator, tmp_path: Path) -> None:
    run = run_regression([REFERENCE_CASE], evaluator)
    assert write_snapshots(run, tmp_path) == ["reference-eurorad-14910"]
    assert snapshot_mismatches(run, tmp_path) == []


def test_junit_output_has_one_testcase_per_case_and_names_failures(evaluator: Evaluator, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(REFERENCE_CASE.read_text().replace("top: avulsion", "top: sarcoma"))
    run = run_regression([REFERENCE_CASE, broken], evaluator)
    suite = ET.fromstring(junit_xml(run)).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert "expected sarcoma, got avulsion" in (failure.get("message") or "")


@pytest.fixture
def heavier_tendon_rule(tmp_path: Path) -> Path:
    """A copy of the shipped rules with one weight changed: tendon attachment 'strong' → 'moderate'."""
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    avulsion = folder / "avulsion.yaml"
    text = avulsion.read_text()
    old = "      - {diagnosis: avulsion, direction: for, strength: strong}\n      - {diagnosis: myositis_ossificans"
    assert old in text
    avulsion.write_text(text.replace(old, old.replace("strong", "moderate")))
    return folder


def test_changing_one_weight_moves_exactly_the_cases_where_that_rule_fires(
    evaluator: Evaluator, heavier_tendon_rule: Path
) -> None:
    paths = discover_case_files(CASES_DIR)
    current = run_regression(paths, evaluator)
    changed = Evaluator(load_rule_pack(heavier_tendon_rule))
    moved = {c.case_id for c in compare_runs(current, run_regression(paths, changed)) if c.moved}
    fires_on = set(rule_coverage(current, ["AVU-TENDON-INSERTS-ON-LESION"])["AVU-TENDON-INSERTS-ON-LESION"])
    assert moved == fires_on
    assert moved


def test_a_case_the_older_rules_cannot_read_is_named_not_silently_dropped(evaluator: Evaluator) -> None:
    # A new finding value makes a case unreadable to the rules of an older commit; the comparison must say so.
    after = run_regression([REFERENCE_CASE], evaluator)
    path = after.results[0].path
    error = f"{path}:14: findings.mineralization_pattern: got 'new_value'; expected one of none"
    before = RegressionRun([CaseResult(path=path, case_id="reference-eurorad-14910", report=None, error=error)])
    assert compare_runs(before, after) == []
    skipped = not_compared(before, after)
    assert [(c.case_id, c.run, c.error) for c in skipped] == [("reference-eurorad-14910", "before", error)]
    console = Console(width=100, record=True, file=io.StringIO(), no_color=True)
    console.print(changes_table([], "HEAD~1", skipped=skipped))
    shown = " ".join(console.export_text().split())
    assert "Not compared: reference-eurorad-14910 (the rules of HEAD~1 cannot assess it:" in shown


def test_rules_at_a_git_ref_are_read_from_that_commit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(RULES_DIR, repo / "rules")
    for args in (
        ["init", "-q"],
        ["add", "rules"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "rules" / "sarcoma.yaml").write_text("rules: []\n")
    old = rules_at("HEAD", repo / "rules", tmp_path / "work", repository=repo)
    assert (old / "sarcoma.yaml").read_text() == (RULES_DIR / "sarcoma.yaml").read_text()


def test_regress_against_a_rules_folder_lists_the_moved_cases(heavier_tendon_rule: Path) -> None:
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ddx.cli",
            "regress",
            str(CASES_DIR),
            "--rules",
            str(heavier_tendon_rule),
            "--against",
            str(RULES_DIR),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = json.loads(done.stdout)
    moved = {change["case_id"] for change in summary["changes"]}
    assert "reference-eurorad-14910" in moved
    reference = next(c for c in summary["changes"] if c["case_id"] == "reference-eurorad-14910")
    assert reference["probability_deltas"]["avulsion"] < 0
