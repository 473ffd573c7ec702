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
