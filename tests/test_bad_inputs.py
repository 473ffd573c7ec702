"""Every bad input gets one clear line naming file, line or field and what was expected; never a traceback.

The corpus is data: tests/bad_inputs/cases/*, rules/* and the expected message fragment for each in
cases.json and rules.json. Inputs too large or too odd to commit are made here.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ddx.cli import main
from tests.conftest import REFERENCE_CASE, REPO, assert_one_line_error

CORPUS = Path(__file__).parent / "bad_inputs"
CASE_EXPECTATIONS: dict[str, str] = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))
RULE_EXPECTATIONS: dict[str, str] = json.loads((CORPUS / "rules.json").read_text(encoding="utf-8"))
ANSWER_EXPECTATIONS: dict[str, str] = json.loads((CORPUS / "answers.json").read_text(encoding="utf-8"))

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def ddx(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["ddx", *args])
        monkeypatch.delenv("DDX_DEBUG", raising=False)
        with pytest.raises(SystemExit) as done:
            main()
        out, err = capsys.readouterr()
        return int(done.value.code or 0), out, err

    return run


def test_the_corpus_has_at_least_sixty_inputs() -> None:
    generated = 3  # huge, deeply nested, not a file
    assert len(CASE_EXPECTATIONS) + len(RULE_EXPECTATIONS) + len(ANSWER_EXPECTATIONS) + len(CLI_CASES) + generated >= 60


def test_every_corpus_file_has_an_expectation() -> None:
    assert {p.name for p in (CORPUS / "cases").iterdir()} == set(CASE_EXPECTATIONS)
    assert {p.name for p in (CORPUS / "rules").iterdir()} == set(RULE_EXPECTATIONS)
    assert {p.name for p in (CORPUS / "answers").iterdir()} == set(ANSWER_EXPECTATIONS)


@pytest.mark.parametrize(("name", "says"), sorted(ANSWER_EXPECTATIONS.items()))
def test_a_bad_quiz_answers_file_is_refused_in_one_line(ddx: Run, name: str, says: str) -> None:
    path = CORPUS / "answers" / name
    code, out, err = ddx("quiz", "grade", str(path), "--cases", str(REPO / "cases"))
    assert (code, out) == (2, "")
    assert_one_line_error(err, says)


@pytest.mark.parametrize(("name", "says"), sorted(CASE_EXPECTATIONS.items()))
def test_a_bad_case_file_is_refused_in_one_line(ddx: Run, name: str, says: str) -> None:
    path = CORPUS / "cases" / name
    code, out, err = ddx("assess", str(path), "--format", "json")
    assert (code, out) == (2, "")
    assert_one_line_error(err, str(path), says)


def test_a_huge_case_file_is_refused(ddx: Run, tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("id: x\ntitle: t\ndescription: " + "x" * 1_100_000 + "\n")
    code, _, err = ddx("assess", str(path))
    assert code == 2
    assert_one_line_error(err, str(path), "the limit is 1000000 bytes")


def test_deep_nesting_is_refused(ddx: Run, tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("id: x\ntitle: t\ndescription: " + "[" * 40 + "]" * 40 + "\n")
    code, _, err = ddx("assess", str(path))
    assert code == 2
    assert_one_line_error(err, str(path), "nesting deeper than 32 levels")


def test_a_folder_given_as_a_case_file_is_refused(ddx: Run, tmp_path: Path) -> None:
    code, _, err = ddx("assess", str(tmp_path))
    assert code == 2
    assert_one_line_error(err, str(tmp_path), "is a directory")


@pytest.fixture
def rules_with(tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        folder = tmp_path / "rules"
        shutil.copytree(REPO / "rules", folder)
        shutil.copy(CORPUS / "rules" / name, folder / f"zz-{name}")
        return folder

    return make


@pytest.mark.parametrize(("name", "says"), sorted(RULE_EXPECTATIONS.items()))
def test_a_bad_rule_file_stops_assess_in_one_line(
    ddx: Run, rules_with: Callable[[str], Path], name: str, says: str
) -> None:
    folder = rules_with(name)
    code, out, err = ddx("assess", str(REFERENCE_CASE), "--rules", str(folder))
    assert (code, out) == (2, "")
    assert_one_line_error(err, str(folder / f"zz-{name}") + ":", says)


@pytest.mark.parametrize(("name", "says"), sorted(RULE_EXPECTATIONS.items()))
def test_lint_reports_a_bad_rule_file_with_its_line(
    ddx: Run, rules_with: Callable[[str], Path], name: str, says: str
) -> None:
    folder = rules_with(name)
    code, out, _ = ddx("rules", "lint", "--rules", str(folder))
    assert code == 1
    assert any(line.startswith(str(folder / f"zz-{name}") + ":") and says in line for line in out.splitlines()), out


CLI_CASES: list[tuple[list[str], str]] = [
    (["new", "--order", "random"], "expected adaptive or fixed"),
    (["new", "--resume", "/no/such/draft"], "file not found"),
    (["assess", str(REFERENCE_CASE), "--set", "age_years=200"], "out of range"),
    (["assess", str(REFERENCE_CASE), "--format", "pdf"], "expected one of text, markdown, json"),
    (["assess", str(REFERENCE_CASE), "--frmat", "json"], "No such option"),
    (["asses", str(REFERENCE_CASE)], "No such command"),
    (["assess", "/no/such/case.yaml"], "file not found"),
    (["assess", str(REFERENCE_CASE), "--rules", "/no/such/rules"], "rules folder not found"),
    (["assess", str(REFERENCE_CASE), "-o", "/no/such/folder/report.md"], "cannot write"),
    (["regress", "/no/such/cases"], "no such file or folder"),
    (["regress", str(REFERENCE_CASE), "--update"], "--update needs --snapshots"),
    (
        ["regress", str(REFERENCE_CASE), "--against", "no-such-ref-xyz"],
        "neither a rules folder nor a git ref",
    ),
    (["rules", "show", "NO-SUCH-RULE"], "no rule 'NO-SUCH-RULE'"),
    (["rules", "frobnicate"], "No such command"),
    (["schema", "extra-argument"], "unexpected extra argument"),
    (["rules", "show", "X" * 5000], "(5000 characters)"),
    (["assess", str(REFERENCE_CASE), "--set", "age_years=" + "9" * 5000], "a value of 5000 characters"),
    (["assess", str(REFERENCE_CASE), "--set", "x" * 5000 + "=1"], "(5002 characters)"),
    (["new", "--id", "has spaces"], "--id: got 'has spaces'"),
    (["new", "--id", "../escape"], "--id: got '../escape'"),
    (["new", "--out", "a case.yaml"], "give --id"),
    (["quiz", "--case", "c" * 3000, "--student", "s", "--cases", str(REPO / "cases")], "(3000 characters)"),
]


@pytest.mark.parametrize(("args", "says"), CLI_CASES, ids=[" ".join(a)[:60] for a, _ in CLI_CASES])
def test_bad_command_line_arguments_exit_2_in_one_line(ddx: Run, args: list[str], says: str) -> None:
    code, _, err = ddx(*args)
    assert code == 2
    assert err.count("\n") == 1, err
    assert says.lower() in err.lower(), err
    assert "Traceback" not in err
