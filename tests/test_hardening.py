"""Inputs the corpus in tests/bad_inputs/ cannot hold: special files, closed or odd standard streams, a full
disk, failing reads and writes, interrupted saves, cached packs. Each is one line and exit 2, and quick."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path
from typing import IO

import pytest

from ddx.errors import DdxInputError
from ddx.interview import write_text_atomically
from ddx.quiz.store import QuizStore
from tests.conftest import CASES_DIR, REFERENCE_CASE, REPO, RULES_DIR, assert_one_line_error, run_ddx

ANSWERS = REPO / "examples" / "quiz-answers-reference.yaml"
TOO_MANY_GROUPS = REPO / "tests" / "bad_inputs" / "rules" / "too-many-groups.yaml"


def one_rule(rule_id: str, *, when: str, fires: str, extra: str = "") -> str:
    """A rule file holding one weak avulsion rule; ``when``, ``fires`` and ``extra`` are YAML flow text."""
    return (
        f"rules:\n  - id: {rule_id}\n    title: t\n    rationale: r\n    citations: [eurorad-14910]\n"
        f"    when: {when}\n    effects: [{{diagnosis: avulsion, direction: for, strength: weak}}]\n"
        f"    examples: {{fires: [{fires}], does_not_fire: [{{}}]}}\n" + (f"    {extra}\n" if extra else "")
    )


def copy_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    return folder


# ---- special files and bounded reads ---------------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_case_file_linked_to_a_device_is_refused_before_reading(tmp_path: Path, device: str) -> None:
    link = tmp_path / "case.yaml"
    link.symlink_to(device)
    done = run_ddx("assess", str(link))
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "is a character device, not a regular file")


def test_a_fifo_given_as_a_case_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "case.yaml"
    os.mkfifo(fifo)
    done = run_ddx("assess", str(fifo))  # run_ddx times out after 120 s: a hang fails the test
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "is a named pipe (FIFO)")


@pytest.mark.parametrize("kind", ["fifo", "zero", "folder"])
def test_a_special_file_in_the_rules_folder_is_a_pack_problem_for_every_command(tmp_path: Path, kind: str) -> None:
    rules = copy_rules(tmp_path)
    odd = rules / "x.yaml"
    if kind == "fifo":
        os.mkfifo(odd)
    elif kind == "zero":
        odd.symlink_to("/dev/zero")
    else:
        odd.mkdir()
    for command in (
        ["assess", str(REFERENCE_CASE)],
        ["rules", "list"],
        ["rules", "docs"],
        ["regress", str(CASES_DIR)],
        ["quiz", "grade", str(ANSWERS), "--cases", str(CASES_DIR)],
    ):
        done = run_ddx(*command, "--rules", str(rules))
        assert done.returncode == 2, (command, done.stderr)
        assert_one_line_error(done.stderr, f"{odd}: is ")
    linted = run_ddx("rules", "lint", "--rules", str(rules))
    assert linted.returncode == 1
    assert f"{odd}: is " in linted.stdout


def test_standard_input_from_a_device_is_refused() -> None:
    with open("/dev/zero", "rb") as zero:
        done = run_ddx_with_stdin(zero, "assess", "-")
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "standard input is a character device")


def test_standard_input_is_read_with_a_bound(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"id: x\ntitle: t\ndescription: " + b"x" * 1_100_000 + b"\n")
    with big.open("rb") as handle:
        done = run_ddx_with_stdin(handle, "assess", "-")
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "the limit is 1000000")


def test_a_read_that_fails_after_open_is_assert_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from ddx.yamlsource import read_bounded

    def failing_read(*_: object) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "read", failing_read)
    with pytest.raises(DdxInputError, match=r"cannot read file \(Input/output error\)"):
        read_bounded(REFERENCE_CASE)


# ---- closed and full standard streams --------------------------------------------------------------------


def run_ddx_with_stdin(stdin: IO[bytes] | None, *args: str, stdout: IO[bytes] | None = None) -> _Done:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "ddx.cli", *args],
        stdin=stdin,
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )
    return _Done(done.returncode, done.stderr.decode())


class _Done:
    def __init__(self, returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr


@pytest.mark.parametrize("args", [["assess", "-"], ["new", "--out", "x.yaml"], ["quiz", "--student", "s"]])
def test_a_closed_standard_input_is_assert_one_line_error(tmp_path: Path, args: list[str]) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.close(0); from ddx.cli import main; main()", *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert_one_line_error(done.stderr.decode(), "standard input is closed")
    assert not (tmp_path / "x.yaml.draft").exists()


@pytest.mark.parametrize("output_format", ["json", "text", "markdown"])
def test_standard_output_on_a_full_disk_is_assert_one_line_error(output_format: str) -> None:
    with open("/dev/full", "wb") as full:
        done = run_ddx_with_stdin(None, "assess", str(REFERENCE_CASE), "--format", output_format, stdout=full)
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "No space left on device")


# ---- the quiz database -----------------------------------------------------------------------------------


def test_a_read_only_quiz_database_is_assert_one_line_error(tmp_path: Path) -> None:
    store = QuizStore(tmp_path / "quiz.sqlite3")
    store._connection.execute("PRAGMA query_only = ON")  # what a read-only file or folder gives: no writes
    with pytest.raises(DdxInputError, match="cannot write to the quiz database"):
        store.start("s", "c", {}, {})


def test_a_graded_file_is_saved_in_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill between the steps of a save (simulated: the last step fails) leaves nothing half-saved."""
    import ddx.quiz.store as store_module

    def killed(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module, "_finish", killed)
    store = QuizStore(tmp_path / "quiz.sqlite3")
    with pytest.raises(KeyboardInterrupt):
        store.save_graded(
            student="s",
            case_id="c",
            rule_pack={},
            engine={},
            question="answers file",
            answer="a.yaml",
            answers={},
            grade=None,
        )
    assert store.attempts() == []
    assert store.unfinished() == []


def test_quiz_grade_save_leaves_one_complete_attempt(tmp_path: Path) -> None:
    db = tmp_path / "quiz.sqlite3"
    done = run_ddx("quiz", "grade", str(ANSWERS), "--cases", str(CASES_DIR), "--save", "--db", str(db))
    assert done.returncode == 0, done.stderr
    store = QuizStore(db)
    assert [a.status for a in store.attempts()] == ["complete"]
    assert store.unfinished() == []


# ---- what users type is shown safely ---------------------------------------------------------------------


def test_terminal_escapes_and_formulas_in_a_student_name_are_neutralised(tmp_path: Path) -> None:
    db, csv_file = tmp_path / "quiz.sqlite3", tmp_path / "attempts.csv"
    answers = tmp_path / "answers.yaml"
    text = ANSWERS.read_text(encoding="utf-8")
    answers.write_text(text.replace("student: alex", 'student: "=HYPERLINK(1)\\e[31m\\e]0;owned\\a"'), encoding="utf-8")
    graded = run_ddx("quiz", "grade", str(answers), "--cases", str(CASES_DIR), "--save", "--db", str(db))
    assert graded.returncode == 0, graded.stderr
    for command in (["history", "--csv", str(csv_file)], ["report"]):
        shown = run_ddx("quiz", *command, "--db", str(db))
        assert shown.returncode == 0, shown.stderr
        assert "\x1b" not in shown.stdout
        assert "\x07" not in shown.stdout
        if command[0] == "history":
            assert "\\x1b" in shown.stdout
    rows = csv_file.read_text(encoding="utf-8").splitlines()
    assert rows[1].split(",")[1].startswith("'=HYPERLINK")
    assert "\x1b" not in rows[1]


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t"])
def test_every_formula_prefix_is_neutralised(prefix: str) -> None:
    from ddx.display import csv_cell

    assert str(csv_cell(prefix + "1+1")).startswith("'")
    assert csv_cell(-3.5) == -3.5


def test_a_case_title_with_escapes_is_not_sent_to_the_terminal(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text('id: c\ntitle: "bad \\e[2J title"\nfindings: {age_years: 40}\n', encoding="utf-8")
    for output_format in ("text", "markdown"):
        done = run_ddx("assess", str(case), "--format", output_format)
        assert done.returncode == 0, done.stderr
        assert "\x1b[2J" not in done.stdout
        assert "\\x1b[2J" in done.stdout


# ---- the interview ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--id", "has spaces"], "--id: got 'has spaces'"),
        (["--out", "my case.yaml"], "give --id"),
        (["--id", "ok", "--title", "t" * 600], "(600 characters)"),
    ],
)
def test_new_checks_its_arguments_before_the_first_question(tmp_path: Path, args: list[str], says: str) -> None:
    done = run_ddx("new", *args, stdin="55\n")
    assert done.returncode == 2
    assert_one_line_error(done.stderr, says)
    assert "?" not in done.stderr.split("error:")[0]  # no question was asked
    assert not list(tmp_path.glob("*.draft"))


def test_a_draft_with_an_id_that_cannot_be_saved_is_refused_and_can_be_given_one(tmp_path: Path) -> None:
    draft = tmp_path / "c.yaml.draft"
    draft.write_text(
        '{"format": "ddx-interview-draft-1", "case_id": "bad id", "title": "t", "out": "'
        + str(tmp_path / "c.yaml")
        + '", "findings": {"age_years": 40}}\n',
        encoding="utf-8",
    )
    refused = run_ddx("new", "--resume", str(draft))
    assert refused.returncode == 2
    assert_one_line_error(refused.stderr, "case_id")
    fixed = run_ddx("new", "--resume", str(draft), "--id", "good-id", "--format", "json", stdin="done\n")
    assert fixed.returncode == 0, fixed.stderr
    assert "id: good-id" in (tmp_path / "c.yaml").read_text(encoding="utf-8")


def test_case_files_are_written_with_the_users_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_text_atomically(tmp_path / "c.yaml", "id: c\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "c.yaml").stat().st_mode) == 0o640


# ---- assess --set --------------------------------------------------------------------------------------


def test_what_if_honours_output_file(tmp_path: Path) -> None:
    report = tmp_path / "what-if.json"
    done = run_ddx(
        "assess", str(REFERENCE_CASE), "--set", "growth_on_followup=yes", "-o", str(report), "--format", "json"
    )
    assert (done.returncode, done.stdout) == (0, "")
    assert '"growth_on_followup": true' in report.read_text(encoding="utf-8")


def test_a_huge_what_if_value_is_shortened_in_the_error() -> None:
    done = run_ddx("assess", str(REFERENCE_CASE), "--set", "age_years=" + "9" * 5000)
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "a value of 5000 characters")
    assert len(done.stderr) < 300


# ---- rule packs -----------------------------------------------------------------------------------------


def test_a_yaml_date_in_a_rule_file_is_exit_2_with_the_cache_on_as_off(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    bad = rules / "zz.yaml"
    bad.write_text(one_rule("DATED-RULE", when="{age_years: 2024-01-01}", fires="{age_years: 1}"), encoding="utf-8")
    for cache in (str(tmp_path / "cache"), str(tmp_path / "cache"), "off"):  # a miss, then a hit, then off
        done = run_ddx("assess", str(REFERENCE_CASE), "--rules", str(rules), env={"DDX_CACHE_DIR": cache})
        assert done.returncode == 2, done.stderr
        assert_one_line_error(done.stderr, f"{bad}:6: rule DATED-RULE: when.age_years: '2024-01-01' is not a value")


def test_a_date_where_text_is_expected_loads_with_or_without_the_cache(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    (rules / "zz.yaml").write_text(
        one_rule("DATED-RULE", when="{age_years: 1}", fires="{age_years: 1}", extra="maintenance: {added: 2024-01-01}"),
        encoding="utf-8",
    )
    for cache in (str(tmp_path / "cache"), str(tmp_path / "cache"), "off"):
        done = run_ddx("rules", "show", "DATED-RULE", "--rules", str(rules), env={"DDX_CACHE_DIR": cache})
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", [["rules", "list"], ["rules", "docs"], ["regress", str(CASES_DIR)]])
def test_a_rule_beyond_the_engines_limits_is_exit_2_from_every_command(tmp_path: Path, command: list[str]) -> None:
    rules = copy_rules(tmp_path)
    shutil.copy(TOO_MANY_GROUPS, rules / "zz.yaml")
    done = run_ddx(*command, "--rules", str(rules))
    assert done.returncode == 2
    assert_one_line_error(done.stderr, f"{rules / 'zz.yaml'}:")


def test_yml_rule_files_are_loaded(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    (rules / "extra.yml").write_text(
        one_rule("YML-RULE", when="{age_years: 101}", fires="{age_years: 101}"), encoding="utf-8"
    )
    done = run_ddx("rules", "show", "YML-RULE", "--rules", str(rules))
    assert done.returncode == 0, done.stderr


def test_lint_catches_a_weak_strength_larger_than_the_strong_one(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    pack_file = rules / "pack.yaml"
    pack_file.write_text(pack_file.read_text(encoding="utf-8").replace("weak: 1.5", "weak: 6.0"), encoding="utf-8")
    done = run_ddx("rules", "lint", "--rules", str(rules))
    assert done.returncode == 1
    assert f"{pack_file}: strength_scale: expected strong > moderate > weak" in done.stdout


def test_a_corrupt_database_file_is_assert_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "quiz.sqlite3"
    db.write_bytes(b"not a database" * 100)
    with pytest.raises(DdxInputError, match="not a usable quiz database"):
        QuizStore(db)


def test_a_draft_with_a_number_written_as_text_is_refused(tmp_path: Path) -> None:
    draft = tmp_path / "c.yaml.draft"
    draft.write_text(
        '{"format": "ddx-interview-draft-1", "case_id": "c", "title": "t", "out": "c.yaml",\n'
        ' "findings": {"ischiofemoral_space_mm": "7"}}\n',
        encoding="utf-8",
    )
    done = run_ddx("new", "--resume", str(draft))
    assert done.returncode == 2
    assert_one_line_error(done.stderr, f"{draft}:2: findings.ischiofemoral_space_mm: got '7' (text)")
