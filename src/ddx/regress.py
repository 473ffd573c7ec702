"""Curated cases with expectations → pass/fail, with every broken expectation spelled out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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
    statuses = {s.condition: s.status for s in report.secondary}
    for key, condition in type(expect).conditions.items():
        expected = getattr(expect, key, None)
        if expected is not None and statuses.get(condition) != expected:
            failures.append(f"{key}: expected {expected}, got {statuses.get(condition)}")
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
    unknown = [r for r in (*case.expect.fires, *case.expect.does_not_fire) if r not in evaluator.pack.firing_ids]
    if unknown:
        return CaseResult(path, case.id, report, error=f"expect names unknown rule {unknown[0]}")
    return CaseResult(path, case.id, report, tuple(unmet_expectations(case.expect, report)))


def run_regression(paths: list[Path], evaluator: Evaluator) -> RegressionRun:
    """Check every case file; a file that does not load is a failed result, not an abort."""
    run = RegressionRun()
    for path in paths:
        try:
            case = load_case(path, evaluator.pack)
        except DdxInputError as error:
            run.results.append(CaseResult(str(path), path.stem, None, error=str(error)))
            continue
        run.results.append(check_case(case, evaluator, str(path)))
    return run


def cases_firing(paths: list[Path], evaluator: Evaluator, rule_id: str) -> list[str]:
    """Ids of the cases (that load) on which ``rule_id`` fires: conclusions only, no full reports."""
    firing = []
    for path in paths:
        try:
            case = load_case(path, evaluator.pack)
        except DdxInputError:
            continue
        if any(rule.id == rule_id for rule in evaluator.conclude(case.findings).fired):
            firing.append(case.id)
    return firing


def case_paths(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    if not target.exists():
        raise DdxInputError("no such file or folder", source=target)
    return discover_case_files(target)


# ---- rule coverage -------------------------------------------------------------------------------------


def rule_coverage(run: RegressionRun, pack_rule_ids: list[str]) -> dict[str, list[str]]:
    """For every rule of the pack, the curated cases it fires on (empty: no case exercises it)."""
    coverage: dict[str, list[str]] = {rule_id: [] for rule_id in pack_rule_ids}
    for result in run.results:
        if result.report is not None:
            for rule_id in result.report.fired_rules:
                coverage.setdefault(rule_id, []).append(result.case_id)
    return coverage


# ---- differences between two rule versions -------------------------------------------------------------

_MOVED = 1e-9


@dataclass(frozen=True)
class CaseChange:
    """What one case's answer did between the old and the new rules."""

    case_id: str
    order_before: tuple[str, ...]
    order_after: tuple[str, ...]
    probability_deltas: dict[str, float]
    started: tuple[str, ...]
    stopped: tuple[str, ...]
    secondary: tuple[tuple[str, str, str], ...] = ()
    """Secondary conditions whose status changed: (condition, before, after)."""

    @property
    def rank_changed(self) -> bool:
        return self.order_before != self.order_after

    @property
    def moved(self) -> bool:
        return (
            self.rank_changed
            or any(abs(d) > _MOVED for d in self.probability_deltas.values())
            or bool(self.started or self.stopped)
            or bool(self.secondary)
        )


def compare_reports(before: Report, after: Report) -> CaseChange:
    old_p = {e.diagnosis: e.probability for e in before.ranking}
    new_p = {e.diagnosis: e.probability for e in after.ranking}
    old_status = {s.condition: s.status for s in before.secondary}
    return CaseChange(
        case_id=after.case_id,
        order_before=tuple(e.diagnosis for e in before.ranking),
        order_after=tuple(e.diagnosis for e in after.ranking),
        probability_deltas={d: round(new_p[d] - old_p[d], 6) for d in new_p},
        started=tuple(r for r in after.fired_rules if r not in before.fired_rules),
        stopped=tuple(r for r in before.fired_rules if r not in after.fired_rules),
        secondary=tuple(
            (s.condition, old_status.get(s.condition, ""), s.status)
            for s in after.secondary
            if old_status.get(s.condition, "") != s.status
        ),
    )


def compare_runs(before: RegressionRun, after: RegressionRun) -> list[CaseChange]:
    """Case-by-case changes between two runs over the same files (cases either run could not assess are
    left out; ``not_compared`` names them)."""
    old = {r.path: r.report for r in before.results if r.report is not None}
    changes = []
    for result in after.results:
        previous = old.get(result.path)
        if result.report is not None and previous is not None:
            changes.append(compare_reports(previous, result.report))
    return changes


@dataclass(frozen=True)
class NotCompared:
    """A case one of two runs could assess and the other could not (a value the older rules do not know)."""

    case_id: str
    run: Literal["before", "after"]
    error: str


def not_compared(before: RegressionRun, after: RegressionRun) -> list[NotCompared]:
    """The cases that ``compare_runs`` leaves out because only one of the two runs assessed them."""
    old = {r.path: r for r in before.results}
    skipped = []
    for result in after.results:
        previous = old.get(result.path)
        if previous is None or (previous.report is None) == (result.report is None):
            continue
        failed = previous if previous.report is None else result
        skipped.append(
            NotCompared(result.case_id, "before" if failed is previous else "after", failed.error or "not assessed")
        )
    return skipped


def rules_at(reference: str, rules_dir: Path, workdir: Path, *, repository: Path | None = None) -> Path:
    """A rules folder for ``reference``: itself if it is a folder, else the rules as of that git ref.

    The ref is looked up in the git repository of ``repository`` (the current directory by default), as
    ``git`` itself would; the rules taken from it are ``rules_dir``'s folder if ``rules_dir`` lies in that
    repository, else its ``rules/`` folder — so an edited copy of the pack anywhere (``--rules /tmp/copy``) is
    compared with the repository's rules at that ref.
    """
    import subprocess

    candidate = Path(reference)
    if candidate.is_dir():
        return candidate

    def git(*args: str, cwd: Path) -> bytes:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise DdxInputError(
                f"--against: '{reference}' is neither a rules folder nor a git ref of this repository "
                f"({lines[-1] if lines else 'git failed'})"
            )
        return done.stdout

    rules_dir = rules_dir.resolve()
    root = Path(git("rev-parse", "--show-toplevel", cwd=(repository or Path.cwd()).resolve()).decode().strip())
    relative = rules_dir.relative_to(root).as_posix() if rules_dir.is_relative_to(root) else "rules"
    names = git("ls-tree", "-r", "--name-only", reference, "--", relative, cwd=root).decode().splitlines()
    if not names:
        raise DdxInputError(f"--against: '{reference}' has no files under {relative}/")
    target = workdir / "rules"
    for name in names:
        destination = target / Path(name).relative_to(relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(git("show", f"{reference}:{name}", cwd=root))
    return target


# ---- machine-readable output ----------------------------------------------------------------------------


def junit_xml(run: RegressionRun) -> str:
    import xml.etree.ElementTree as ET

    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="ddx regress",
        tests=str(len(run.results)),
        failures=str(sum(1 for r in run.results if r.failures)),
        errors=str(sum(1 for r in run.results if r.error)),
    )
    for result in run.results:
        case = ET.SubElement(suite, "testcase", classname="ddx.cases", name=result.case_id, file=result.path)
        if result.error is not None:
            ET.SubElement(case, "error", message=result.error).text = result.error
        elif result.failures:
            ET.SubElement(case, "failure", message=result.failures[0]).text = "\n".join(result.failures)
        elif not result.checked:
            ET.SubElement(case, "skipped", message="no expect block")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def run_summary(
    run: RegressionRun,
    coverage: dict[str, list[str]],
    changes: list[CaseChange] | None,
    skipped: Sequence[NotCompared] = (),
) -> dict[str, object]:
    """The regression run as one JSON-ready object."""
    summary: dict[str, object] = {
        "passed": len(run.results) - len(run.failed),
        "failed": len(run.failed),
        "results": [
            {
                "case_id": r.case_id,
                "path": r.path,
                "passed": r.passed,
                "checked": r.checked,
                "failures": list(r.failures),
                "error": r.error,
                "ranking": None
                if r.report is None
                else [{"diagnosis": e.diagnosis, "probability": e.probability} for e in r.report.ranking],
            }
            for r in run.results
        ],
        "coverage": coverage,
        "uncovered_rules": [rule for rule, cases in coverage.items() if not cases],
    }
    if changes is not None:
        summary["changes"] = [
            {
                "case_id": c.case_id,
                "order_before": list(c.order_before),
                "order_after": list(c.order_after),
                "probability_deltas": c.probability_deltas,
                "started": list(c.started),
                "stopped": list(c.stopped),
                "secondary": [list(change) for change in c.secondary],
            }
            for c in changes
            if c.moved
        ]
        summary["not_compared"] = [{"case_id": c.case_id, "run": c.run, "error": c.error} for c in skipped]
    return summary


# ---- golden snapshots of every curated case's full report -----------------------------------------------


def snapshot_text(report: Report) -> str:
    """The report as stored in a snapshot: full JSON except the digest, which any rule-file edit changes."""
    data = report.model_dump(mode="json")
    data["rule_pack"]["digest"] = "<digest>"
    import json

    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _stale_snapshots(run: RegressionRun, directory: Path) -> Iterator[tuple[str, Path, str | None, str]]:
    """(case id, snapshot path, its text or None if missing, the report now) for each report that differs."""
    for result in run.results:
        if result.report is None:
            continue
        path = directory / f"{result.case_id}.json"
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        new = snapshot_text(result.report)
        if old != new:
            yield result.case_id, path, old, new


def snapshot_mismatches(run: RegressionRun, directory: Path) -> list[str]:
    """Case ids whose report differs from (or lacks) its snapshot in ``directory``."""
    return [case_id for case_id, *_ in _stale_snapshots(run, directory)]


@dataclass(frozen=True)
class SnapshotChange:
    """How one case's report differs from its snapshot: the kinds of change and the JSON diff."""

    case_id: str
    kinds: tuple[str, ...]
    diff: str


# Report fields → the kind of change a reviewer reads them as (anything else: "other fields").
_KINDS = {
    "ranking": "ranking (probabilities or evidence)",
    "top_comparison": "ranking (probabilities or evidence)",
    "fired_rules": "rules fired",
    "secondary": "secondary conditions",
    "red_flags": "red flags",
    "recommendations": "recommendations",
    "unknown_findings": "unknown findings only (what could change the top)",
    "sources": "sources",
    "findings": "the case's findings",
    "title": "wording",
    "disclaimer": "wording",
    "rule_pack": "rule pack version",
}


def snapshot_changes(run: RegressionRun, directory: Path) -> list[SnapshotChange]:
    """Each case whose report differs from (or lacks) its snapshot, with the kinds of change and a JSON diff."""
    import difflib
    import json

    changes = []
    for case_id, path, old, new in _stale_snapshots(run, directory):
        if old is None:
            changes.append(SnapshotChange(case_id, ("new: no snapshot yet",), ""))
            continue
        try:
            before, after = json.loads(old), json.loads(new)
            keys = sorted(set(before) | set(after))
            fields = [key for key in keys if before.get(key) != after.get(key)]
        except ValueError:
            fields = []
        kinds = tuple(dict.fromkeys(_KINDS.get(field, "other fields") for field in fields)) or ("format",)
        if len(kinds) > 1:
            kinds = tuple(k for k in kinds if not k.startswith("unknown findings only")) + (
                ("unknown findings",) if "unknown_findings" in fields else ()
            )
        diff = "".join(
            difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), str(path), "report now", n=2
            )
        )
        changes.append(SnapshotChange(case_id, kinds, diff))
    return changes


def write_snapshots(run: RegressionRun, directory: Path) -> list[str]:
    """Rewrite every snapshot; returns the case ids whose snapshot changed."""
    changed = snapshot_mismatches(run, directory)
    directory.mkdir(parents=True, exist_ok=True)
    for result in run.results:
        if result.report is not None:
            (directory / f"{result.case_id}.json").write_text(snapshot_text(result.report), encoding="utf-8")
    return changed
