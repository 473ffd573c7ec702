"""Shared fixtures: the shipped rule pack compiled once per test session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ddx.evaluate import Evaluator
from ddx.rulepack import RulePack, load_rule_pack

REPO = Path(__file__).resolve().parent.parent
RULES_DIR = REPO / "rules"
CASES_DIR = REPO / "cases"
REFERENCE_CASE = CASES_DIR / "reference-eurorad-14910.yaml"


@pytest.fixture(scope="session")
def pack() -> RulePack:
    return load_rule_pack(RULES_DIR)


@pytest.fixture(scope="session")
def evaluator(pack: RulePack) -> Iterator[Evaluator]:
    shipped = Evaluator(pack)
    yield shipped
    shipped.close()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write
