"""Curated cases with expectations → pass/fail, with every broken expectation spelled out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ddx.case import Case, Expectation, discover_case_files, load_case
from ddx.errors import DdxInputError
from ddx.evaluate import Evaluator
from ddx.explain import build_report
from ddx.report import Report


@dataclass(frozen=True)
class CaseResult:
    path: str
    case_id: str
    report: Report | None
    failures: tuple[str, ...] = ()
    error: str | None = None
    checked: bool = True

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failures


@dataclass
class RegressionRun:
    results: list[CaseResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def passed(self) -> bool:
        return not self.failed


def unmet_expectations(expect: Expectation, report: Report) -> list[str]:
    """Each expectation the report does not meet, as a sentence naming what was expected and found."""
    failures: list[str] = []
    order = [entry.diagnosis for entry in report.ranking]
    if expect.top is not None and order[0] != expect.top:
        failures.append(f"top: expected {expect.top}, got {order[0]}")
    if expect.order is not None and list(expect.order) != order:
        failures.append(f"order: expected {' > '.join(expect.order)}, got {' > '.join(order)}")
    status = {s.condition: s.status for s in report.secondary}.get("ischiofemoral_impingement")
    if expect.impingement is not None and status != expect.impingement:
        failures.append(f"impingement: expected {expect.impingement}, got {status}")
    if expect.red_flags is not None and bool(report.red_flags) != expect.red_flags:
        raised = ", ".join(flag.rule for flag in report.red_flags) or "none"
        failures.append(f"red_flags: expected {'some' if expect.red_flags else 'none'}, got {raised}")
    if expect.urgent_red_flag is not None:
        urgent = any(flag.severity == "urgent" for flag in report.red_flags)
        if urgent != expect.urgent_red_flag:
            failures.append(
                f"urgent_red_flag: expected {str(expect.urgent_red_flag).lower()}, got {str(urgent).lower()}"
            )
    fired = set(report.fired_rules)
    failures += [f"rule {rule} should fire but did not" for rule in expect.fires if rule not in fired]
    failures += [f"rule {rule} fired but should not" for rule in expect.does_not_fire if rule in fired]
    return failures


def check_case(case: Case, evaluator: Evaluator, path: str = "") -> CaseResult:
    report = build_report(case, evaluator)
    if case.expect is None:
        return CaseResult(path, case.id, report, checked=False)
    unknown = [r for r in (*case.expect.fires, *case.expect.does_not_fire) if r not in evaluator.pack.by_id]
    if unknown:
        return CaseResult(path, case.id, report, error=f"expect names unknown rule {unknown[0]}")
    return CaseResult(path, case.id, report, tuple(unmet_expectations(case.expect, report)))


def run_regression(paths: list[Path], evaluator: Evaluator) -> RegressionRun:
    """Check every case file; a file that does not load is a failed result, not an abort."""
    run = RegressionRun()
    for path in paths:
        try:
            case = load_case(path)
        except DdxInputError as error:
            run.results.append(CaseResult(str(path), path.stem, None, error=str(error)))
            continue
        run.results.append(check_case(case, evaluator, str(path)))
    return run


def case_paths(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    if not target.exists():
        raise DdxInputError("no such file or folder", source=target)
    return discover_case_files(target)
