"""Every curated case in cases/ meets its `expect` block (collected as data, one test per file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddx.case import discover_case_files, load_case
from ddx.evaluate import Evaluator
from ddx.regress import check_case
from tests.conftest import CASES_DIR

_CASE_FILES = discover_case_files(CASES_DIR)


def test_there_are_at_least_a_dozen_curated_cases_besides_the_reference() -> None:
    assert len(_CASE_FILES) >= 13


@pytest.mark.parametrize("path", _CASE_FILES, ids=[p.stem for p in _CASE_FILES])
def test_curated_case_meets_its_expectations(evaluator: Evaluator, path: Path) -> None:
    case = load_case(path)
    assert case.expect is not None, f"{path} has no expect block"
    assert case.id == path.stem, "a curated case's id is its file name"
    assert case.source, f"{path} has no source line"
    result = check_case(case, evaluator, str(path))
    assert result.passed, "; ".join(result.failures) or result.error
