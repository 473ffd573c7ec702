"""What a clinician, a teacher and a rule author meet at the keyboard (issue 16): safe files, a dialogue
that goes to the terminal, an interview that listens, quizzes that do not give the answer away."""

from __future__ import annotations

import json
from pathlib import Path

from ddx.case import load_case
from tests.conftest import REFERENCE_CASE, run_ddx, terminal_ddx

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
        terminal.expect("Site of the lesion (site,")
        terminal.send("done")
        assert terminal.finish() == 0
    assert report.read_text().startswith("# ddx report")
    assert "Site of the lesion" not in report.read_text()
    assert "Case saved to" in terminal.seen


def test_prompts_have_line_editing_and_history(tmp_path: Path) -> None:
    terminal = terminal_ddx("new", "--out", str(tmp_path / "c.yaml"))
    terminal.expect("(site,")
    terminal.send_raw(b"proxx\x1b[D\x7f\r")  # a typo, Left, Backspace: "prox"
    terminal.expect("→ on 1 finding:")
    terminal.expect("): ")
    terminal.send_raw(b"\x1b[A\r")  # Up recalls "prox", which the next question refuses as it would any typo
    terminal.expect("'prox'")
    terminal.send("done")
    assert terminal.finish() == 0
    assert load_case(tmp_path / "c.yaml").findings.known() == {"site": "proximal_thigh"}
    assert "\\x1b" not in terminal.seen


def test_findings_can_be_given_out_of_turn_several_at_once(tmp_path: Path) -> None:
    out = tmp_path / "thigh.yaml"
    terminal = terminal_ddx("new", "--out", str(out))
    terminal.expect("(site,")
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
    terminal.expect("(site,")
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
