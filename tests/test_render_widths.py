"""Every view read at 80 and 120 columns, compared with reviewed text snapshots in tests/snapshots/render/.

The knowledge pack changes, and with it these texts: after reviewing a change, regenerate them with
``DDX_UPDATE_RENDER_SNAPSHOTS=1 pytest tests/test_render_widths.py`` and review the diff before committing.
Independently of the snapshots, every view is checked for what must never happen at any width: a line
wider than the terminal, padding at line ends, or an id, a citation or a finding cut or split.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from ddx.api import assess
from ddx.case import load_case
from ddx.evaluate import Evaluator
from ddx.findings import display_value
from ddx.quiz.grading import grade
from ddx.quiz.model import Answers
from ddx.regress import compare_reports, run_regression
from ddx.render import source_numbers
from ddx.render.quiz import grade_renderables
from ddx.render.regress import changes_table, coverage_table, results_table
from ddx.render.rules import rules_table
from ddx.render.text import render_text
from ddx.report import Report
from tests.conftest import CASES_DIR, FINDING_SPECS, REFERENCE_CASE

SNAPSHOTS = Path(__file__).parent / "snapshots" / "render"
UPDATE = os.environ.get("DDX_UPDATE_RENDER_SNAPSHOTS") == "1"
WIDTHS = (80, 120)
SARCOMA_CASE = CASES_DIR / "sarcoma-extraskeletal-osteosarcoma-older-adult-deep.yaml"


def plain(parts: list[RenderableType], width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), no_color=True, highlight=False)
    for part in parts:
        console.print(part)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run with DDX_UPDATE_RENDER_SNAPSHOTS=1, then review it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its reviewed snapshot; if the change is intended, regenerate with "
        "DDX_UPDATE_RENDER_SNAPSHOTS=1 and review the diff"
    )


def assert_laid_out(text: str, width: int) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        assert len(line) <= width, f"line {number} is {len(line)} wide: {line!r}"
        assert line == line.rstrip(), f"line {number} ends in padding"
    assert "…" not in text


def report_tokens(report: Report) -> list[str]:
    numbers = source_numbers(report)
    tokens = [item.rule for entry in report.ranking for item in entry.evidence]
    tokens += [f"{n}={display_value(v)}" for e in report.ranking for i in e.evidence for n, v in i.findings.items()]
    return tokens + [f"[{number}]" for number in numbers.values()]


RULE_ID = re.compile(r"(?<![\w-])[A-Z]{2,}(?:-[A-Z0-9]+)+(?![\w-])")
FINDING = re.compile(r"(?<![\w/?&-])([a-z]+(?:_[a-z]+)+)=")
CASE_ID = re.compile(r"(?<![\w./-])[a-z0-9]+(?:[-.][a-z0-9]+){3,}(?![\w-])")


def whole_in(text: str, tokens: list[str], evaluator: Evaluator | None = None) -> None:
    """Each token appears whole, and nothing that looks like a rule id, finding or case id is a fragment."""
    flat = " ".join(text.split())
    for token in tokens:
        assert re.search(r"(?<![\w=-])" + re.escape(token) + r"(?![\w-])", flat), f"{token!r} is cut or split"
    if evaluator is not None:
        prefixes = {rule_id.split("-")[0] for rule_id in evaluator.pack.firing_ids}
        for fragment in RULE_ID.findall(text):
            if fragment.split("-")[0] in prefixes:
                assert fragment in evaluator.pack.firing_ids, f"{fragment!r}: a rule id cut or split"
    for name in FINDING.findall(text):
        assert name in FINDING_SPECS, f"{name!r}: a finding cut or split"
    cases = {path.stem for path in CASES_DIR.glob("*.yaml")}
    prefixes = {case.split("-")[0] for case in cases}
    for fragment in CASE_ID.findall(text):
        if fragment.split("-")[0] in prefixes and "." not in fragment:  # not a web address
            assert fragment in cases, f"{fragment!r}: a case id cut or split"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", [REFERENCE_CASE, SARCOMA_CASE], ids=["reference", "sarcoma"])
def test_the_report_at_each_width(case: Path, width: int, evaluator: Evaluator) -> None:
    report = assess(load_case(case), evaluator)
    text = render_text(report, color=False, width=width)
    assert_laid_out(text, width)
    whole_in(text, report_tokens(report), evaluator)
    check_snapshot(f"report-{case.stem.split('-')[0]}-{width}.txt", text)


def test_the_report_at_80_columns_is_a_stacked_list_and_prints_each_rationale_once(evaluator: Evaluator) -> None:
    report = assess(load_case(REFERENCE_CASE), evaluator)
    text = render_text(report, color=False, width=80)
    assert "  ▲ for  LR 5†  AVU-TENDON-INSERTS-ON-LESION\n    on tendon_attachment=true\n" in text
    assert text.count("An avulsed apophysis carries the hamstring origin") == 1
    assert "(rationale under 1. Apophyseal avulsion)" in text
    assert len(text.splitlines()) < 280


def test_why_the_first_beats_the_second_says_for_and_against(evaluator: Evaluator) -> None:
    report = assess(load_case(REFERENCE_CASE), evaluator)
    text = " ".join(render_text(report, color=False, width=120).split())
    assert "AVU-TENDON-INSERTS-ON-LESION (against Myositis ossificans)" in text
    assert "AVU-TENDON-INSERTS-ON-LESION (for Apophyseal avulsion)" in text
    from ddx.render.markdown import render_markdown

    assert "`MO-NO-TRAUMA` (against Myositis ossificans)" in render_markdown(report)


@pytest.mark.parametrize("width", WIDTHS)
def test_rules_list_at_each_width(width: int, evaluator: Evaluator) -> None:
    pack = evaluator.pack
    text = plain([rules_table(pack, width)], width)
    assert_laid_out(text, width)
    whole_in(text, [rule.id for rule in pack.rules] + [f"{Path(r.file).name}:{r.line}" for r in pack.rules], evaluator)
    words = {w for rule in pack.rules for w in rule.when.to_text().split()}
    whole_in(text, sorted(w.strip("()") for w in words if w.strip("()")))
    check_snapshot(f"rules-list-{width}.txt", text)


@pytest.mark.parametrize("width", WIDTHS)
def test_regress_tables_at_each_width(width: int, evaluator: Evaluator) -> None:
    paths = sorted(CASES_DIR.glob("*.yaml"))
    run = run_regression(paths, evaluator)
    coverage: dict[str, list[str]] = {rule_id: [] for rule_id in evaluator.pack.firing_ids}
    for result in run.results:
        assert result.report is not None
        for rule_id in result.report.fired_rules:
            coverage[rule_id].append(result.case_id)
    reference = load_case(REFERENCE_CASE)
    changed = reference.model_copy(
        update={"findings": type(reference.findings).model_validate({**reference.findings.known(), "age_years": 15})}
    )
    moved = compare_reports(assess(reference, evaluator), assess(changed, evaluator))
    text = plain([results_table(run, width), coverage_table(coverage, width), changes_table([moved], "x")], width)
    assert_laid_out(text, width)
    whole_in(text, [r.case_id for r in run.results] + list(coverage), evaluator)
    check_snapshot(f"regress-{width}.txt", text)


@pytest.mark.parametrize("width", WIDTHS)
def test_quiz_feedback_with_misconceptions_at_each_width(width: int, evaluator: Evaluator) -> None:
    answers = Answers.model_validate(
        {
            "student": "alex",
            "case": "reference-eurorad-14910",
            "ranking": ["myositis_ossificans", "avulsion", "sarcoma", "metastasis"],
            "impingement": "absent",
            "supports_first": ["trauma_history", "degenerative_changes"],
            "against": {"avulsion": ["tendon_attachment"], "sarcoma": ["soft_tissue_mass"]},
            "red_flags": [],
        },
        context={"pack": evaluator.pack},
    )
    result = grade(answers, load_case(REFERENCE_CASE), evaluator)
    assert result.misconceptions
    labels = {d: info.label for d, info in evaluator.pack.diagnoses.items()}
    text = plain(grade_renderables(result, labels), width)
    assert_laid_out(text, width)
    whole_in(text, [m.rule for m in result.misconceptions], evaluator)
    check_snapshot(f"quiz-feedback-{width}.txt", text)


def test_a_piped_report_has_no_padding_at_line_ends() -> None:
    from tests.conftest import run_ddx

    done = run_ddx("assess", str(REFERENCE_CASE), env={"COLUMNS": "80"})
    assert done.returncode == 0
    assert all(line == line.rstrip() for line in done.stdout.splitlines())
    assert "  ▲ for  LR 5†  AVU-TENDON-INSERTS-ON-LESION" in done.stdout
    listed = run_ddx("rules", "list", env={"COLUMNS": "80"})
    assert all(line == line.rstrip() for line in listed.stdout.splitlines())
