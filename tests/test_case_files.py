"""Case files: YAML or JSON in, a validated Case out, or one error naming file, line and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ddx.case import load_case
from ddx.errors import DdxInputError
from tests.conftest import REFERENCE_CASE

Write = Callable[[str, str], Path]


def error_for(path: Path) -> DdxInputError:
    with pytest.raises(DdxInputError) as caught:
        load_case(path)
    return caught.value


def test_reference_case_loads_with_its_findings() -> None:
    case = load_case(REFERENCE_CASE)
    assert case.findings.known().get("age_years") == 55
    assert case.findings.known().get("ischiofemoral_space_mm") == 7
    assert case.findings.known().get("cleft_from_bone") is None


def test_json_case_files_are_read(write: Write) -> None:
    path = write("c.json", '{"id": "j", "title": "t", "findings": {"age_years": 14}}')
    assert load_case(path).findings.known().get("age_years") == 14


def test_unknown_finding_names_the_line_and_suggests_the_right_name(write: Write) -> None:
    path = write("c.yaml", "id: c\ntitle: t\nfindings:\n  age_years: 3\n  tendon_attachement: true\n")
    error = error_for(path)
    assert (error.line, error.field) == (5, "findings.tendon_attachement")
    assert "did you mean 'tendon_attachment'" in str(error)


def test_out_of_range_number_names_the_allowed_range(write: Write) -> None:
    error = error_for(write("c.yaml", "id: c\ntitle: t\nfindings:\n  age_years: 200\n"))
    assert str(error).endswith("findings.age_years: got 200; expected an integer ≥ 0 and ≤ 120")


def test_unknown_enum_value_lists_the_allowed_values(write: Write) -> None:
    error = error_for(write("c.yaml", "id: c\ntitle: t\nfindings:\n  quadratus_femoris: oedema\n"))
    assert "one of normal, edema, atrophy, edema_and_atrophy" in str(error)
    assert "did you mean 'edema'" in str(error)


def test_missing_title_is_reported_as_required(write: Write) -> None:
    error = error_for(write("c.yaml", "id: c\nfindings: {}\n"))
    assert error.field == "title"
    assert "required" in str(error)


def test_unknown_top_level_key_suggests_the_right_one(write: Write) -> None:
    error = error_for(write("c.yaml", "id: c\ntitle: t\nfinding:\n  age_years: 3\n"))
    assert "did you mean 'findings'" in str(error)
    assert error.line == 3


def test_yaml_syntax_error_names_its_line(write: Write) -> None:
    error = error_for(write("c.yaml", "id: c\ntitle: t\nfindings: [\n"))
    assert error.line is not None
    assert "invalid YAML" in str(error)


def test_json_syntax_error_names_its_line(write: Write) -> None:
    error = error_for(write("c.json", '{"id": "c",\n "title": "t",\n}'))
    assert error.line == 3


def test_duplicate_keys_are_rejected(write: Write) -> None:
    error = error_for(write("c.yaml", "id: c\ntitle: t\nfindings:\n  age_years: 3\n  age_years: 4\n"))
    assert "duplicate key" in str(error)


def test_empty_file_is_not_a_case(write: Write) -> None:
    assert "expected a mapping" in str(error_for(write("c.yaml", "")))


def test_a_list_is_not_a_case(write: Write) -> None:
    assert "got list" in str(error_for(write("c.yaml", "- 1\n- 2\n")))


def test_aliases_are_refused_before_expansion(write: Write) -> None:
    bomb = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\n'
    assert "anchors and aliases" in str(error_for(write("c.yaml", bomb)))


def test_binary_content_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\x00\x01\x02")
    assert "binary" in str(error_for(path))


def test_invalid_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"id: c\ntitle: \xff\n")
    error = error_for(path)
    assert (error.line, "UTF-8" in str(error)) == (2, True)


def test_missing_file_says_so() -> None:
    assert "file not found" in str(error_for(Path("/nonexistent/case.yaml")))


def test_expectation_names_must_be_diagnoses(write: Write) -> None:
    error = error_for(write("c.yaml", "id: c\ntitle: t\nexpect:\n  top: fracture\n"))
    assert error.field == "expect.top"
