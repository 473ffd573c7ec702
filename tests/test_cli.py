"""The ddx command as users run it: exit codes, one-line errors, every format, schema and regress."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CASES_DIR, REFERENCE_CASE, REPO, Cli, assert_one_line_error, spawn_ddx


def test_assess_prints_a_ranked_report_with_red_flags_first_and_the_disclaimer(cli: Cli) -> None:
    code, out, _ = cli("assess", str(REFERENCE_CASE))
    assert code == 0
    assert out.index("RED FLAGS") < out.index("Differential") < out.index("Disclaimer")
    assert out.index("Apophyseal avulsion") < out.index("Myositis ossificans")


def test_assess_json_follows_the_contract(cli: Cli) -> None:
    code, out, _ = cli("assess", str(REFERENCE_CASE), "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert [r["diagnosis"] for r in document["ranking"]] == ["avulsion", "myositis_ossificans", "metastasis", "sarcoma"]


def test_assess_markdown_has_tables_and_sources(cli: Cli) -> None:
    code, out, _ = cli("assess", str(REFERENCE_CASE), "-f", "markdown")
    assert code == 0
    assert out.startswith("# ddx report")
    assert "| Rank | Diagnosis |" in out
    assert "## Sources" in out


def test_assess_writes_to_a_file_when_asked(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    assert cli("assess", str(REFERENCE_CASE), "-f", "markdown", "-o", str(target))[0] == 0
    assert "Decision support for clinicians" in target.read_text()


def test_assess_reads_standard_input(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(REFERENCE_CASE.read_bytes())))
    code, out, _ = cli("assess", "-", "--format", "json")
    assert code == 0
    assert json.loads(out)["case_id"] == "reference-eurorad-14910"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "id: c\ntitle: t\nfindings:\n  age_years: 200\n",
            ":4: findings.age_years: got 200; expected an integer",
        ),
        ("id: c\ntitle: t\nfindings:\n  tendon: true\n", "unknown finding 'tendon'"),
        ("id: c\ntitle: t\nfindings: [\n", "invalid YAML"),
        ("", "expected a mapping"),
    ],
)
def test_bad_case_files_get_one_line_errors_and_exit_2(cli: Cli, tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(content)
    code, out, err = cli("assess", str(path))
    assert (code, out) == (2, "")
    assert_one_line_error(err, expected, starts=f"ddx: error: {path}")


def test_missing_file_exits_2(cli: Cli) -> None:
    code, _, err = cli("assess", "no-such-case.yaml")
    assert (code, err.strip()) == (2, "ddx: error: no-such-case.yaml: file not found")


def test_unknown_format_exits_2(cli: Cli) -> None:
    code, _, err = cli("assess", str(REFERENCE_CASE), "--format", "pdf")
    assert code == 2
    assert "expected one of text, markdown, json" in err


def test_unknown_option_exits_2_with_one_line(cli: Cli) -> None:
    code, _, err = cli("assess", "--frmat", "json")
    assert code == 2
    assert err.count("\n") == 1
    assert "No such option" in err


def test_schema_is_a_json_schema_for_case_files(cli: Cli) -> None:
    code, out, _ = cli("schema")
    schema = json.loads(out)
    assert code == 0
    assert set(schema["required"]) == {"id", "title"}
    assert "findings" in schema["properties"]


def test_regress_passes_on_the_curated_cases(cli: Cli) -> None:
    code, out, _ = cli("regress", str(CASES_DIR))
    assert code == 0
    assert " 0 failed" in out


def test_regress_never_shows_a_top_diagnosis_at_100_percent(cli: Cli) -> None:
    # A rule-based estimate cannot claim certainty; rounding must not make it look as if it did.
    code, out, _ = cli("regress", str(CASES_DIR / "myositis-ossificans-mature-thigh-zonal-cleft.yaml"))
    assert code == 0
    assert ">99%" in out
    assert "100%" not in out


def test_regress_fails_with_exit_1_and_says_what_broke(cli: Cli, tmp_path: Path) -> None:
    case = tmp_path / "wrong.yaml"
    text = REFERENCE_CASE.read_text().replace("top: avulsion", "top: sarcoma")
    case.write_text(text)
    code, out, _ = cli("regress", str(case))
    assert code == 1
    assert "expected sarcoma, got avulsion" in " ".join(out.split())


def test_regress_reports_a_broken_case_file_without_stopping(cli: Cli, tmp_path: Path) -> None:
    shutil.copy(REFERENCE_CASE, tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("id: b\ntitle: t\nfindings:\n  age: 3\n")
    code, out, _ = cli("regress", str(tmp_path))
    assert code == 1
    assert "1 passed, 1 failed" in out


def test_version(cli: Cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0
    assert out.startswith("ddx ")


def test_the_installed_console_script_runs_the_reference_case() -> None:
    executable = shutil.which("ddx", path=str(Path(sys.executable).parent))
    assert executable is not None, "ddx console script is not installed next to this Python"
    done = subprocess.run(
        [executable, "assess", str(REFERENCE_CASE), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ranking"][0]["diagnosis"] == "avulsion"


def test_an_internal_error_is_one_line_with_exit_3(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import ddx.api

    def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ddx.api, "assess", broken)
    monkeypatch.delenv("DDX_DEBUG", raising=False)
    code, _, err = cli("assess", str(REFERENCE_CASE))
    assert code == 3
    assert err.count("\n") == 1
    assert "internal error: RuntimeError: boom" in err


def test_rules_list_shows_every_rule(cli: Cli) -> None:
    code, out, _ = cli("rules", "list")
    assert code == 0
    assert "AVU-TENDON-INSERTS-ON-LESION" in out
    assert "rules/avulsion.yaml:" in out


def test_rules_show_gives_rationale_examples_cases_and_references(cli: Cli) -> None:
    code, out, _ = cli("rules", "show", "AVU-TENDON-INSERTS-ON-LESION", "--cases", str(CASES_DIR))
    assert code == 0
    for heading in ("What it does", "Why", "Examples", "Curated cases it fires on", "References"):
        assert heading in out
    assert "reference-eurorad-14910" in out
    assert "Eurorad case 14910" in out


def test_rules_show_an_unknown_id_suggests_the_closest(cli: Cli) -> None:
    code, _, err = cli("rules", "show", "AVU-TENDON-INSERTS")
    assert code == 2
    assert "did you mean 'AVU-TENDON-INSERTS-ON-LESION'" in err


def test_rules_lint_is_clean_on_the_shipped_pack(cli: Cli) -> None:
    code, out, _ = cli("rules", "lint")
    assert code == 0
    assert "no problems" in out


def test_rules_lint_exits_1_with_file_and_line(cli: Cli, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "zz.yaml").write_text("rules:\n  - id: BAD-RULE\n    title: t\n")
    code, out, _ = cli("rules", "lint", "--rules", str(rules))
    assert code == 1
    assert f"{rules / 'zz.yaml'}:2: rule BAD-RULE:" in out


def test_generated_rule_docs_are_up_to_date(cli: Cli) -> None:
    code, out, _ = cli("rules", "docs")
    assert code == 0
    assert out == (REPO / "docs" / "rules.md").read_text(encoding="utf-8"), (
        "docs/rules.md is stale: run `ddx rules docs > docs/rules.md`"
    )


def test_regress_writes_junit_for_ci(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "junit.xml"
    code, _, _ = cli("regress", str(REFERENCE_CASE), "--junit", str(target))
    assert code == 0
    assert "<testcase" in target.read_text()


def test_regress_against_an_unknown_ref_is_a_one_line_error(cli: Cli) -> None:
    code, _, err = cli("regress", str(REFERENCE_CASE), "--against", "no-such-ref-xyz")
    assert code == 2
    assert_one_line_error(err, "neither a rules folder nor a git ref")


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    process = spawn_ddx("assess", str(REFERENCE_CASE))
    assert process.stdout is not None
    assert process.stdin is not None
    process.stdin.close()
    process.stdout.readline()
    process.stdout.close()  # as `ddx assess case.yaml | head -1` does
    assert process.wait(timeout=120) == 0
    assert process.stderr is not None
    assert process.stderr.read() == ""
