"""Shared fixtures: the shipped rule pack compiled once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ddx.evaluate import Evaluator
from ddx.rulepack import RulePack, load_rule_pack

REPO = Path(__file__).resolve().parent.parent
RULES_DIR = REPO / "rules"
CASES_DIR = REPO / "cases"
REFERENCE_CASE = CASES_DIR / "reference-eurorad-14910.yaml"

# The shipped pack's vocabulary, for tests that name its findings: specs and the findings model.
SHIPPED_PACK = load_rule_pack(RULES_DIR)
FINDING_SPECS = SHIPPED_PACK.specs
Findings = SHIPPED_PACK.vocabulary.findings_model


@pytest.fixture(scope="session")
def pack() -> RulePack:
    return SHIPPED_PACK


@pytest.fixture(scope="session")
def evaluator(pack: RulePack) -> Iterator[Evaluator]:
    shipped = Evaluator(pack)
    yield shipped
    shipped.close()


def run_ddx(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``ddx ARGS`` in a fresh process, as a user runs it (wide terminal, so tables do not wrap)."""
    return subprocess.run(
        [sys.executable, "-m", "ddx.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
    )


def spawn_ddx(*args: str) -> subprocess.Popen[str]:
    """``ddx ARGS`` started in a fresh process with pipes, for tests that answer it and interrupt it."""
    return subprocess.Popen(
        [sys.executable, "-m", "ddx.cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write
