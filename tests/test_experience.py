"""What a clinician, a teacher and a rule author meet at the keyboard (issue 16): safe files, a dialogue
that goes to the terminal, an interview that listens, quizzes that do not give the answer away."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from ddx.case import load_case
from ddx.evaluate import Evaluator
from ddx.quiz.grading import grade
from ddx.quiz.items import neutral_label
from ddx.quiz.model import Answers
from ddx.quiz.store import QuizStore
from ddx.render.quiz import grade_renderables
from tests.conftest import CASES_DIR, REFERENCE_CASE, REPO, Terminal, run_ddx, terminal_ddx

# ---- never replace a user's file silently -----------------------------------------------------------------


def test_new_refuses_to_replace_an_existing_case_without_force(tmp_path: Path) -> None:
    existing = tmp_path / "patient.yaml"
    existing.write_text(REFERENCE_CASE.read_text())
    done = run_ddx("new", "--out", str(existing), stdin="done\n")
    assert done.returncode == 2
    assert "exists; use --force" in done.stderr
    assert existing.read_text() == REFERENCE_CASE.read_text()
    forced = run_ddx("new", "--out", str(existing), "--force", "--format", "json", stdin="done\n")
    assert forced.returncode == 0, forced.stderr
    assert load_case(existing).findings.known() == {}


def test_new_asks_before_replacing_in_a_terminal(tmp_path: Path) -> None:
    existing = tmp_path / "patient.yaml"
    existing.write_text(REFERENCE_CASE.read_text())
    terminal = terminal_ddx("new", "--out", str(existing))
    terminal.expect("replace the case file? [y/N]")
    terminal.send("")
    assert terminal.finish() == 2
    assert "not replaced" in terminal.seen
    assert existing.read_text() == REFERENCE_CASE.read_text()
    terminal = terminal_ddx("new", "--out", str(existing), "--order", "fixed")
    terminal.expect("[y/N]")
    terminal.send("y")
    terminal.expect("(age_years, 0–120):")
    terminal.send("33")
    terminal.expect("(sex,")
    terminal.send("done")
    assert terminal.finish() == 0
    assert load_case(existing).findings.known() == {"age_years": 33}


def test_assess_output_onto_its_own_input_is_refused(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(REFERENCE_CASE.read_text())
    done = run_ddx("assess", str(case), "-o", str(case))
    assert done.returncode == 2
    assert "use --force" in done.stderr
    assert case.read_text() == REFERENCE_CASE.read_text()


def test_assess_output_infers_the_format_from_the_extension(tmp_path: Path) -> None:
    for name, starts in (("r.md", "# ddx report"), ("r.json", "{")):
        done = run_ddx("assess", str(REFERENCE_CASE), "-o", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name).read_text().startswith(starts)
        assert f"written to {tmp_path / name}" in done.stderr
    json.loads((tmp_path / "r.json").read_text())


def test_assess_without_a_case_and_without_a_terminal_exits_2() -> None:
    done = run_ddx("assess", "--format", "json")
    assert done.returncode == 2
    assert "no case file given" in done.stderr
    assert done.stdout == ""


# ---- the interview: it listens, and it talks on the terminal ----------------------------------------------


def test_a_redirected_report_keeps_the_dialogue_on_the_terminal(tmp_path: Path) -> None:
    out, report = tmp_path / "p.yaml", tmp_path / "p.md"
    with report.open("w") as handle:
        terminal = terminal_ddx("new", "--out", str(out), "--format", "markdown", stdout=handle.fileno())
        terminal.expect("(history_of_malignancy, yes/no): ")
        terminal.send("done")
        assert terminal.finish() == 0
    assert report.read_text().startswith("# ddx report")
    assert "history_of_malignancy, yes/no" not in report.read_text()
    assert "Case saved to" in terminal.seen


def test_prompts_have_line_editing_and_history(tmp_path: Path) -> None:
    terminal = terminal_ddx("new", "--out", str(tmp_path / "c.yaml"))
    terminal.expect("(history_of_malignancy, yes/no): ")  # the prompt's last line: readline is listening
    terminal.send_raw(b"noo\x1b[D\x7f\r")  # a typo, Left, Backspace: "no"
    terminal.expect("→ on 1 finding:")
    terminal.expect("5 other): ")
    terminal.send_raw(b"\x1b[A\r")  # Up recalls "no", which the site question refuses as it would any typo
    terminal.expect("'no'")
    terminal.send("done")
    assert terminal.finish() == 0
    assert load_case(tmp_path / "c.yaml").findings.known() == {"history_of_malignancy": False}
    assert "\\x1b" not in terminal.seen


def test_a_long_prompt_wraps_between_words(tmp_path: Path) -> None:
    terminal = terminal_ddx("new", "--out", str(tmp_path / "c.yaml"), "--order", "fixed")
    terminal.expect("(age_years, 0–120): ")
    terminal.send("unknown")
    terminal.expect("(sex, ")
    terminal.send("skip")
    shown = terminal.expect("3 recent): ").split("\n")
    prompt = shown[shown.index(next(line for line in shown if line.startswith("Any injury to the region"))) :]
    assert len(prompt) >= 2
    assert all(len(line) < 80 for line in prompt)
    assert any("(trauma_history, " in line for line in prompt)
    terminal.send("done")
    assert terminal.finish() == 0


def test_findings_can_be_given_out_of_turn_several_at_once(tmp_path: Path) -> None:
    out = tmp_path / "thigh.yaml"
    terminal = terminal_ddx("new", "--out", str(out))
    terminal.expect("): ")
    terminal.send("age_years=24, site=proximal_thigh, lesion_size_cm=9,5, cleft_from_bone=yes")
    terminal.expect("age_years=24, site=proximal_thigh, lesion_size_cm=9.5, cleft_from_bone=yes")
    terminal.expect("→ on 4 findings:")
    terminal.expect("): ")
    terminal.send("age_yers=25")
    terminal.expect("did you mean 'age_years'")
    terminal.send("unknown")
    terminal.expect("): ")
    terminal.send("show")
    shown = terminal.expect("not asked yet:")
    assert "cleft_from_bone=yes" in shown
    assert "answered unknown: " in shown
    assert "True" not in shown
    terminal.send("done")
    assert terminal.finish() == 0
    known = load_case(out).findings.known()
    assert known["age_years"] == 24
    assert known["lesion_size_cm"] == 9.5
    assert known["cleft_from_bone"] is True


def test_an_ambiguous_beginning_says_which_values_it_matches(tmp_path: Path) -> None:
    done = run_ddx("new", "--out", str(tmp_path / "c.yaml"), stdin="lesion_maturity=matur\ndone\n")
    assert "'matur' matches mature and maturing" in done.stderr


def test_resume_summarises_the_answers_so_far(tmp_path: Path) -> None:
    out = tmp_path / "c.yaml"
    draft = tmp_path / "c.yaml.draft"
    terminal = terminal_ddx("new", "--out", str(out))
    terminal.expect("): ")
    terminal.send("site=proximal_thigh, trauma_history=recent, soft_tissue_mass=no")
    terminal.expect("→ on 3 findings:")
    terminal.expect("): ")
    terminal.send_raw(b"\x03")  # Ctrl-C
    assert terminal.finish() == 130
    terminal = terminal_ddx("new", "--resume", str(draft))
    shown = terminal.expect("): ")
    assert "Resuming with 3 answers so far:" in shown
    assert "site=proximal_thigh, trauma_history=recent, soft_tissue_mass=no" in shown
    assert "→ on 3 findings:" in shown
    terminal.send("done")
    assert terminal.finish() == 0


def test_the_saved_title_is_readable(tmp_path: Path) -> None:
    out = tmp_path / "c.yaml"
    run_ddx("new", "--out", str(out), stdin="done\n")
    title = load_case(out).title
    assert title.startswith("Case entered with ddx new on ")
    assert " at " in title
    assert "-" not in title


# ---- quizzes that do not give the answer away -------------------------------------------------------------


def quiz_in_terminal(db: Path, case: str = "mo-nontraumatic-biceps-femoris-75yo-woman-annali") -> Terminal:
    return terminal_ddx(
        "quiz", "--case", case, "--student", "sam", "--db", str(db), "--cases", str(CASES_DIR), columns=120
    )


def test_the_quiz_shows_a_neutral_label_takes_the_printed_minus_and_labels_and_goes_back(tmp_path: Path) -> None:
    case = "mo-nontraumatic-biceps-femoris-75yo-woman-annali"
    terminal = quiz_in_terminal(tmp_path / "q.db", case)
    opening = terminal.expect("Rank the diagnoses")
    assert case not in opening
    assert f"{neutral_label(case).capitalize()}:" in opening
    terminal.send("3 2 1")
    terminal.expect("present, absent or indeterminate?")
    terminal.send("back")
    terminal.expect("Back one question.")
    terminal.expect("Rank the diagnoses")
    terminal.send("1 2 3")
    terminal.expect("indeterminate?")
    terminal.send("absent")
    for _ in range(4):  # supports, against ×2, red flags
        terminal.expect("): ")
        terminal.send("none")
    terminal.expect("likely) ")
    terminal.send("\u22122")  # as printed in the hint
    terminal.expect("likely) ")
    terminal.send("much more likely")
    terminal.expect("likely) ")
    terminal.send("+1 more likely")
    terminal.expect("likely) ")
    terminal.send("0")
    assert terminal.finish() == 0
    assert "answer −2" not in terminal.seen
    (attempt,) = QuizStore(tmp_path / "q.db").attempts("sam")
    assert attempt.answers["ranking"] == ["avulsion", "myositis_ossificans", "sarcoma"]
    assert sorted(attempt.answers["script_concordance"].values()) == [-2, 0, 1, 2]


def test_the_misconception_penalty_is_in_the_breakdown_and_spares_combined_rules(evaluator: Evaluator) -> None:
    answers = Answers.model_validate(
        {
            "student": "alex",
            "case": "reference-eurorad-14910",
            "ranking": ["myositis_ossificans", "avulsion", "sarcoma", "metastasis"],
            "impingement": "present",
            "supports_first": ["trauma_history"],
            "against": {
                "avulsion": ["tendon_attachment"],
                "sarcoma": ["soft_tissue_mass"],
                "metastasis": ["trauma_history"],
            },
        },
        context={"pack": evaluator.pack},
    )
    result = grade(answers, load_case(REFERENCE_CASE), evaluator)
    by_finding = {(m.finding, m.rule): m.penalised for m in result.misconceptions}
    # trauma_history counts for metastasis only together with age and continuity: shown, not penalised
    assert by_finding[("trauma_history", "MET-AVULSION-WITHOUT-TRAUMA")] is False
    assert by_finding[("tendon_attachment", "AVU-TENDON-INSERTS-ON-LESION")] is True
    assert by_finding[("trauma_history", "MO-NO-TRAUMA")] is True
    assert result.misconception_penalty == min(10.0, sum(result.before_penalty.values()))
    labels = {d: info.label for d, info in evaluator.pack.diagnoses.items()}
    console = Console(width=120, record=True, file=io.StringIO(), no_color=True)
    for part in grade_renderables(result, labels):
        console.print(part)
    text = console.export_text()
    penalty = f"−{result.misconception_penalty:.1f}"
    assert re.search(r"misconceptions \(2 × −5\)\s+" + penalty, text)
    assert "not penalised: the rule weighs it only together with other findings" in " ".join(text.split())


def test_exports_only_determinate_questions_for_the_chosen_cases_under_neutral_names() -> None:
    everything = run_ddx("quiz", "export", "--format", "gift", "--cases", str(CASES_DIR))
    assert everything.returncode == 0, everything.stderr
    assert "=indeterminate" not in everything.stdout
    assert not any(path.stem in everything.stdout.split("::")[1::2] for path in CASES_DIR.glob("*.yaml"))
    chosen = run_ddx("quiz", "export", "-f", "gift", "--cases", str(CASES_DIR), "--case", "reference-eurorad-14910")
    assert chosen.returncode == 0, chosen.stderr
    names = re.findall(r"^::(.*?)::", chosen.stdout, flags=re.MULTILINE)
    label = neutral_label("reference-eurorad-14910").capitalize()
    assert names
    assert all(name.startswith(label) for name in names)
    assert "from 1 cases" in chosen.stderr


def test_quiz_report_csv_holds_the_summaries_shown_on_screen(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    example = REPO / "examples" / "quiz-answers-reference.yaml"
    assert run_ddx("quiz", "grade", str(example), "--save", "--db", str(db), "--cases", str(CASES_DIR)).returncode == 0
    target = tmp_path / "report.csv"
    done = run_ddx("quiz", "report", "--db", str(db), "--csv", str(target))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(target.read_text().splitlines()))
    tables = {row["table"] for row in rows}
    assert {"student", "case"} <= tables
    student = next(row for row in rows if row["table"] == "student")
    assert (student["name"], student["attempts"]) == ("alex", "1")
    assert "attempt" not in rows[0]


# ---- rule authors -----------------------------------------------------------------------------------------


def test_authoring_notes_reach_rule_authors_and_never_the_clinician(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    text = (rules / "avulsion.yaml").read_text()
    marker = "    citations: [ferraro-2023, rossi-dragoni-2001]\n"
    anchor = text.index("  - id: AVU-FORCEFUL-HAMSTRING-EVENT")
    at = text.index(marker, anchor)
    note = "    notes: One finding, two consequences, so one rule with two effects (AUTHORING-NOTE).\n"
    (rules / "avulsion.yaml").write_text(text[:at] + note + text[at:])
    shown = run_ddx("rules", "show", "AVU-FORCEFUL-HAMSTRING-EVENT", "--rules", str(rules))
    assert shown.returncode == 0, shown.stderr
    assert "Notes for rule authors" in shown.stdout
    assert "AUTHORING-NOTE" in shown.stdout
    assert "AUTHORING-NOTE" in run_ddx("rules", "docs", "--rules", str(rules)).stdout
    for output_format in ("text", "markdown", "json"):
        report = run_ddx("assess", str(REFERENCE_CASE), "--rules", str(rules), "-f", output_format)
        assert report.returncode == 0, report.stderr
        assert "AUTHORING-NOTE" not in report.stdout


def test_rules_show_explains_the_review_status() -> None:
    shown = run_ddx("rules", "show", "MO-CLEFT-FROM-BONE")
    assert "status: draft (no review recorded for this rule" in " ".join(shown.stdout.split())


# ---- what if, and the smaller points ----------------------------------------------------------------------


def test_what_if_opens_with_a_clinicians_summary() -> None:
    case = CASES_DIR / "mo-nontraumatic-biceps-femoris-75yo-woman-annali.yaml"
    done = run_ddx("assess", str(case), "--set", "cleft_from_bone=yes", "--set", "trauma_history=recent")
    assert done.returncode == 0, done.stderr
    first = " ".join(done.stdout.split("ddx ·")[0].split())
    assert first.startswith("What if cleft_from_bone=yes, trauma_history=recent:")
    assert re.search(r"Myositis ossificans \d+\.\d % → \d+\.\d %", first)
    assert "now fires: MO-CLEFT-FROM-BONE (" in first
    assert "no longer fires: MO-NO-TRAUMA" in first
    assert done.stdout.index("What if") < done.stdout.index("Disclaimer") < done.stdout.index("Changes against")


def test_what_if_names_a_new_red_flag_in_the_summary() -> None:
    done = run_ddx("assess", str(REFERENCE_CASE), "--set", "lesion_maturity=immature")
    first = " ".join(done.stdout.split("ddx ·")[0].split())
    assert "new urgent red flag: History of malignancy with a growing" in first


def test_set_without_a_value_says_what_is_missing() -> None:
    done = run_ddx("assess", str(REFERENCE_CASE), "--set", "age_years")
    assert done.returncode == 2
    assert "--set age_years: missing =VALUE" in done.stderr


def test_shell_completion_follows_typers_convention() -> None:
    shown = run_ddx("--show-completion", env={"SHELL": "/bin/bash"})
    assert shown.returncode == 0, shown.stderr
    assert "_ddx_completion" in shown.stdout
    assert "--install-completion" in run_ddx("--help").stdout
    completed = run_ddx(env={"_DDX_COMPLETE": "complete_bash", "COMP_WORDS": "ddx ass", "COMP_CWORD": "1"})
    assert completed.stdout.split() == ["assess"]


def test_the_api_takes_a_mapping_and_says_clearly_what_it_cannot_take(evaluator: Evaluator) -> None:
    from ddx import api

    by_findings = api.assess({"age_years": 24, "site": "proximal_thigh", "trauma_history": "recent"}, evaluator)
    by_document = api.assess({"findings": {"age_years": 24, "site": "proximal_thigh", "trauma_history": "recent"}})
    assert by_findings.ranking == by_document.ranking
    assert by_findings.top.diagnosis == "myositis_ossificans"
    with pytest.raises(TypeError, match="takes a ddx Case or a mapping"):
        api.assess("cases/reference-eurorad-14910.yaml")  # type: ignore[arg-type]
    for function in (api.assess, api.assess_file, api.evaluator_for, api.as_case):
        assert function.__doc__


def test_against_a_git_ref_is_looked_up_in_the_current_repository(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(REPO / "rules", copy)
    done = subprocess.run(
        [sys.executable, "-m", "ddx.cli", "regress", str(REFERENCE_CASE), "--rules", str(copy), "--against", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stderr
    assert "Changes against HEAD: 0 of 1 cases moved" in done.stdout


def test_snapshots_show_a_json_diff_and_the_kind_of_change(tmp_path: Path) -> None:
    assert run_ddx("regress", str(REFERENCE_CASE), "--snapshots", str(tmp_path), "--update").returncode == 0
    snapshot = tmp_path / "reference-eurorad-14910.json"
    data = json.loads(snapshot.read_text())
    data["unknown_findings"][0]["could_change_top"] = not data["unknown_findings"][0]["could_change_top"]
    snapshot.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    done = run_ddx("regress", str(REFERENCE_CASE), "--snapshots", str(tmp_path))
    assert done.returncode == 1
    assert "reference-eurorad-14910: its report changed — unknown findings only" in done.stdout
    assert '-      "could_change_top": ' in done.stdout
    assert '+      "could_change_top": ' in done.stdout
    machine = json.loads(run_ddx("regress", str(REFERENCE_CASE), "--snapshots", str(tmp_path), "--json").stdout)
    (change,) = machine["snapshot_changes"]
    assert change["kinds"] == ["unknown findings only (what could change the top)"]
    assert change["diff"].startswith("---")


def test_the_quiz_takes_a_unique_beginning_of_a_finding(evaluator: Evaluator) -> None:
    from ddx.quiz.session import QuizSession

    session = QuizSession(load_case(REFERENCE_CASE), evaluator, "kim")
    assert session._findings("palpable, tendon") == ["palpable_mass", "tendon_attachment"]


def test_quiz_history_never_cuts_a_case_id(tmp_path: Path) -> None:
    from ddx.render.quiz import history_table

    store = QuizStore(tmp_path / "q.db")
    case = "sarcoma-at-ischial-tuberosity-after-sprint-mimicking-avulsion-constructed"
    store.start("alex", case, {"name": "p", "version": "1", "digest": "d"}, {})
    for width in (80, 120):
        console = Console(width=width, record=True, file=io.StringIO(), no_color=True)
        console.print(history_table(store.attempts(), "Quiz attempts", width))
        text = console.export_text()
        assert case in text.split()
        assert "…" not in text
