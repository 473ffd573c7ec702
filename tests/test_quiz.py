"""Quizzes: a student's reasoning against the engine's, graded the same from a file or the terminal,
kept safely in SQLite, reported over time and exported for an LMS."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from ddx.case import Case, load_case
from ddx.evaluate import Evaluator
from ddx.quiz.export import MOODLE_FRACTIONS, gift, moodle_xml, questions_for
from ddx.quiz.grading import f1, grade, kendall_tau
from ddx.quiz.items import all_items, engine_answer, items_for_case
from ddx.quiz.model import Answers, ScriptItem
from ddx.quiz.session import case_diagnoses
from ddx.quiz.store import QuizStore
from ddx.rulepack import RedFlagEffect
from tests.conftest import CASES_DIR, REFERENCE_CASE, REPO, SHIPPED_PACK, spawn_ddx
from tests.conftest import run_ddx as ddx

EXAMPLE = REPO / "examples" / "quiz-answers-reference.yaml"


def reference_answers(**changes: Any) -> Answers:
    base = {
        "student": "sam",
        "case": "reference-eurorad-14910",
        "ranking": ["avulsion", "myositis_ossificans", "sarcoma", "metastasis"],
        "impingement": "present",
        "supports_first": ["tendon_attachment", "site"],
        "against": {"myositis_ossificans": ["trauma_history"], "sarcoma": ["soft_tissue_mass"]},
        "red_flags": ["RF-PRIOR-MALIGNANCY"],
    }
    return Answers.model_validate({**base, **changes}, context={"pack": SHIPPED_PACK})


def test_the_engines_script_answer_follows_the_likelihood_ratio_scale() -> None:
    assert [engine_answer(lr) for lr in (5, 2, 1.5, 1, 1 / 1.5, 1 / 2, 1 / 5)] == [2, 1, 1, 0, -1, -1, -2]


def test_script_items_ask_only_about_findings_the_case_leaves_unknown(evaluator: Evaluator) -> None:
    case = load_case(REFERENCE_CASE)
    items = items_for_case(case, evaluator.pack)
    assert items
    assert all(item.finding not in case.findings.known() for item in items)
    assert items == items_for_case(case, evaluator.pack)  # stable, so a resumed quiz asks the same


def test_a_panel_scores_by_the_aggregate_method() -> None:
    item = ScriptItem(
        id="X/avulsion",
        diagnosis="avulsion",
        finding="site",
        value="buttock",
        rule="X",
        engine_answer=1,
        likelihood_ratio=2,
        panel={1: 6, 2: 3, 0: 1},
    )
    assert (item.credit(1), item.credit(2), item.credit(0), item.credit(-2)) == (1.0, 0.5, 1 / 6, 0.0)


def test_kendall_tau_and_f1_at_their_edges() -> None:
    assert kendall_tau("abc", "abc") == 1.0
    assert kendall_tau("abc", "cba") == -1.0
    assert f1(set(), set()) == 1.0
    assert f1({"a"}, set()) == 0.0
    assert f1({"a", "b"}, {"a"}) == pytest.approx(2 / 3)


def test_the_engines_own_reasoning_scores_full_marks(evaluator: Evaluator) -> None:
    case = load_case(REFERENCE_CASE)
    conclusion = evaluator.conclude(case.findings)
    from ddx.quiz.grading import engine_weighings

    weighed = engine_weighings(conclusion)
    order = [e.diagnosis for e in conclusion.ranking]

    def cited(diagnosis: str, direction: str) -> list[str]:
        return [
            f for f, ws in weighed.items() if any(w.diagnosis == diagnosis and w.direction == direction for w in ws)
        ]

    answers = Answers(
        student="engine",
        case=case.id,
        ranking=tuple(order),
        secondary={"impingement": conclusion.secondary[0].status},
        supports_first=tuple(cited(order[0], "for")),
        against={d: tuple(cited(d, "against")) for d in order[1:]},
        red_flags=tuple(rule.id for rule, _ in conclusion.red_flags),
        script_concordance={item.id: item.engine_answer for item in items_for_case(case, evaluator.pack)},
    )
    result = grade(answers, case, evaluator)
    assert result.score == 100
    assert result.misconceptions == []


def test_a_finding_cited_the_wrong_way_is_a_misconception_named_with_its_rule_and_source(
    evaluator: Evaluator,
) -> None:
    answers = reference_answers(
        ranking=["myositis_ossificans", "avulsion", "sarcoma", "metastasis"],
        supports_first=["tendon_attachment"],
        against={"avulsion": [], "sarcoma": []},
    )
    result = grade(answers, load_case(REFERENCE_CASE), evaluator)
    (misconception,) = result.misconceptions
    assert (misconception.finding, misconception.rule) == ("tendon_attachment", "AVU-TENDON-INSERTS-ON-LESION")
    assert misconception.direction == "against"
    assert "Eurorad" in misconception.citation
    assert not result.ranking_agreement.top1_match


def test_missed_red_flags_are_reported(evaluator: Evaluator) -> None:
    result = grade(reference_answers(red_flags=[]), load_case(REFERENCE_CASE), evaluator)
    assert [flag.rule for flag in result.missed_red_flags] == ["RF-PRIOR-MALIGNANCY"]


def test_citing_a_finding_the_case_does_not_have_is_refused(evaluator: Evaluator) -> None:
    from ddx.errors import DdxInputError

    with pytest.raises(DdxInputError, match="not a known finding"):
        grade(reference_answers(supports_first=["cleft_from_bone"]), load_case(REFERENCE_CASE), evaluator)


def test_grading_the_worked_example_gives_the_json_contract() -> None:
    done = ddx("quiz", "grade", str(EXAMPLE), "--format", "json", "--cases", str(CASES_DIR))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 0 <= result["score"] <= 100
    assert {"top1_match", "kendall_tau"} <= set(result["ranking_agreement"])
    assert all("rule" in m for m in result["misconceptions"])
    assert [f["rule"] for f in result["missed_red_flags"]] == ["RF-PRIOR-MALIGNANCY"]


def interactive_lines(answers: Answers, case: Case, evaluator: Evaluator) -> str:
    """The same answers as someone would type them at the prompts."""
    findings = list(case.findings.known())
    flags = [rule.id for rule in evaluator.pack.rules if rule.effects_of(RedFlagEffect)]
    lines = [
        " ".join(str(case_diagnoses(case, evaluator).index(d) + 1) for d in answers.ranking),
        answers.secondary["impingement"],
        ",".join(str(findings.index(f) + 1) for f in answers.supports_first) or "none",
    ]
    lines += [",".join(answers.against.get(d, ())) or "none" for d in answers.ranking[1:]]
    lines.append(",".join(str(flags.index(f) + 1) for f in answers.red_flags) or "none")
    lines += [str(answers.script_concordance[item.id]) for item in items_for_case(case, evaluator.pack)]
    return "\n".join(lines) + "\n"


def test_the_interactive_quiz_and_grading_a_file_give_the_same_score(evaluator: Evaluator, tmp_path: Path) -> None:
    from ddx.yamlsource import load_document

    answers = Answers.model_validate(load_document(EXAMPLE).data, context={"pack": SHIPPED_PACK})
    case = load_case(REFERENCE_CASE)
    db = tmp_path / "quiz.db"
    done = ddx(
        "quiz",
        "--case",
        case.id,
        "--student",
        answers.student,
        "--db",
        str(db),
        "--cases",
        str(CASES_DIR),
        stdin=interactive_lines(answers, case, evaluator),
    )
    assert done.returncode == 0, done.stderr
    (attempt,) = QuizStore(db).attempts()
    assert attempt.status == "complete"
    assert attempt.score == grade(answers, case, evaluator).score
    assert f"Score {attempt.score:.0f} / 100" in done.stdout
    assert "Red flags you missed" in done.stdout


def start_quiz(db: Path) -> subprocess.Popen[str]:
    return spawn_ddx(
        "quiz", "--case", "reference-eurorad-14910", "--student", "kim", "--db", str(db), "--cases", str(CASES_DIR)
    )


def wait_for_answers(db: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(db, timeout=5) as connection:
                try:
                    (n,) = connection.execute("SELECT COUNT(*) FROM answer_log").fetchone()
                except sqlite3.OperationalError:
                    n = 0
            if n >= count:
                return
        time.sleep(0.05)
    raise AssertionError("answers never reached the database")


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_quiz_keeps_its_answers_and_resumes(tmp_path: Path, how: signal.Signals) -> None:
    db = tmp_path / "quiz.db"
    process = start_quiz(db)
    assert process.stdin is not None
    process.stdin.write("1 2 3\npresent\n")
    process.stdin.flush()
    wait_for_answers(db, 2)
    process.send_signal(how)
    process.communicate(timeout=60)
    store = QuizStore(db)
    assert store.integrity_ok()
    (attempt,) = store.unfinished("kim")
    assert attempt.answers == {
        "ranking": ["avulsion", "myositis_ossificans", "sarcoma", "metastasis"],
        "impingement": "present",
    }
    rest = "none\n" * 4 + "4\n" + "0\n" * 4  # supports, against the other three, a red flag, four items
    resumed = ddx("quiz", "--resume", "--student", "kim", "--db", str(db), "--cases", str(CASES_DIR), stdin=rest)
    assert resumed.returncode == 0, resumed.stderr
    (done,) = QuizStore(db).attempts("kim")
    assert done.status == "complete"
    assert [q for _, q, _ in QuizStore(db).answer_log(done.id)][:2] == ["ranking", "impingement"]


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "quiz.db"
    QuizStore(db).close()
    script = (
        "import sys\n"
        "from ddx.quiz.store import QuizStore\n"
        "store = QuizStore(__import__('pathlib').Path(sys.argv[1]))\n"
        "for i in range(40):\n"
        "    attempt = store.start(sys.argv[2], 'c', {'version': '1'}, {})\n"
        "    store.record_answer(attempt, 'ranking', [i], {'ranking': [i]})\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(db), name]) for name in ("a", "b", "c")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    store = QuizStore(db)
    assert len(store.attempts()) == 120
    assert all(len(store.answer_log(a.id)) == 1 for a in store.attempts())
    assert store.integrity_ok()


def test_history_and_report_show_progress_over_attempts(tmp_path: Path) -> None:
    db = tmp_path / "quiz.db"
    for ranking in (
        ["sarcoma", "myositis_ossificans", "avulsion", "metastasis"],
        ["avulsion", "sarcoma", "myositis_ossificans", "metastasis"],
        ["avulsion", "myositis_ossificans", "sarcoma", "metastasis"],
    ):
        answers = tmp_path / "answers.yaml"
        data = json.loads(reference_answers(ranking=ranking, against={}).model_dump_json())
        answers.write_text(json.dumps(data))
        assert ddx("quiz", "grade", str(answers), "--save", "--db", str(db), "--cases", str(CASES_DIR)).returncode == 0
    history = ddx("quiz", "history", "--student", "sam", "--db", str(db), "--csv", str(tmp_path / "h.csv"))
    assert history.returncode == 0
    assert history.stdout.count("complete") == 3
    scores = [a.score or 0 for a in QuizStore(db).attempts("sam")]
    assert scores == sorted(scores)
    report = ddx("quiz", "report", "--db", str(db))
    assert "Per student" in report.stdout
    assert "Per case" in report.stdout
    assert " → ".join(f"{s:.0f}" for s in scores) in report.stdout
    assert (tmp_path / "h.csv").read_text().count("\n") == 4


def test_moodle_xml_export_parses_back_with_valid_fractions(evaluator: Evaluator) -> None:
    questions = questions_for(load_case(REFERENCE_CASE), evaluator)
    root = ET.fromstring(moodle_xml(questions))
    parsed = root.findall("question")
    assert root.tag == "quiz"
    assert len(parsed) == len(questions) >= 3
    for node, question in zip(parsed, questions, strict=True):
        assert node.get("type") == "multichoice"
        assert node.findtext("name/text") == question.name
        fractions = [float(a.get("fraction", "x")) for a in node.findall("answer")]
        assert all(any(abs(f - allowed) < 1e-4 for allowed in MOODLE_FRACTIONS) for f in fractions)
        assert max(fractions) == 100


GIFT_QUESTION = re.compile(
    r"::(?P<name>(?:\\.|[^:\\])*)::\[html\](?P<text>(?:\\.|[^{\\])*)\{(?P<body>(?:\\.|[^}\\])*)\}"
)
GIFT_ANSWER = re.compile(r"([=~])(?:%(-?[0-9.]+)%)?((?:\\.|[^=~#\\])*)")


def parse_gift(text: str) -> list[tuple[str, list[tuple[str, float]]]]:
    """A strict reader for the GIFT subset ddx writes: named multiple choice with partial credit."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    parsed = []
    for match in GIFT_QUESTION.finditer(body):
        answers_part = match["body"].split("####")[0]
        answers = [
            (re.sub(r"\\(.)", r"\1", m.group(3)).strip(), 100.0 if m.group(1) == "=" else float(m.group(2) or 0))
            for m in GIFT_ANSWER.finditer(answers_part)
        ]
        parsed.append((re.sub(r"\\(.)", r"\1", match["name"]), answers))
    leftover = GIFT_QUESTION.sub("", body).strip()
    assert leftover == "", f"unparsed GIFT: {leftover[:80]!r}"
    return parsed


def test_gift_export_parses_back_to_the_same_questions(evaluator: Evaluator) -> None:
    questions = questions_for(load_case(REFERENCE_CASE), evaluator)
    parsed = parse_gift(gift(questions))
    assert [name for name, _ in parsed] == [q.name for q in questions]
    for (_, answers), question in zip(parsed, questions, strict=True):
        assert answers == [(c.text, c.fraction) for c in question.choices]


def test_export_of_every_curated_case_runs_from_the_command_line(tmp_path: Path) -> None:
    for export_format, suffix in (("moodle-xml", "xml"), ("gift", "gift")):
        target = tmp_path / f"quiz.{suffix}"
        done = ddx("quiz", "export", "--format", export_format, "-o", str(target), "--cases", str(CASES_DIR))
        assert done.returncode == 0, done.stderr
        assert target.stat().st_size > 10_000
    assert len(ET.parse(tmp_path / "quiz.xml").getroot().findall("question")) > 3 * 40


def test_every_item_comes_from_a_rule_that_exists(evaluator: Evaluator) -> None:
    assert all(item.rule in evaluator.pack.by_id for item in all_items(evaluator.pack).values())
