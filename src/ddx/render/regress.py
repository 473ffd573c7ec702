"""Regression views: pass/fail per case, rule coverage, and what moved between two rule versions.

Case ids run to 70 characters and rule ids to 40, so every view is laid out for the width there is: a table
where every id fits whole, otherwise one block per case (or rule). An id is never split or cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ddx.display import percent
from ddx.regress import CaseChange, NotCompared, RegressionRun, SnapshotChange
from ddx.report import Report


def _status(result_error: str | None, checked: bool, failures: tuple[str, ...]) -> tuple[str, str]:
    if result_error is not None:
        return "ERROR", "red"
    if not checked:
        return "no expect", "dim"
    if failures:
        return "FAIL", "red"
    return "pass", "green"


def results_table(run: RegressionRun, width: int = 120) -> RenderableType:
    title = Text(f"Regression: {len(run.results)} cases", style="italic")
    longest = max((len(r.case_id) for r in run.results), default=10)
    rows = []
    for result in run.results:
        status, style = _status(result.error, result.checked, result.failures)
        report = result.report
        top = "" if report is None else f"{report.top.diagnosis} {percent(report.top.probability, 0)}"
        details = [result.error] if result.error is not None else list(result.failures)
        rows.append((Text(status, style=style), result.case_id, top, details))
    if longest + 9 + 22 + 30 + 8 <= width:
        table = Table(title=title.plain, title_justify="left", box=box.SIMPLE, expand=True)
        table.add_column("Result", no_wrap=True)
        table.add_column("Case", no_wrap=True)
        table.add_column("Top", no_wrap=True)
        table.add_column("Details", ratio=1, min_width=30)
        for status_text, case_id, top, details in rows:
            table.add_row(status_text, case_id, top, "\n".join(details))
        return table
    lines: list[RenderableType] = [title]
    indent = max(len(status.plain) for status, *_ in rows) + 2 if rows else 6
    for status_text, case_id, top, details in rows:
        line = Text.assemble(status_text, " " * (indent - len(status_text.plain)), case_id)
        if len(line.plain) + 2 + len(top) <= width:
            lines.append(Text.assemble(line, "  ", (top, "dim")))
        else:
            lines += [line, Padding(Text(top, style="dim"), (0, 0, 0, indent))]
        lines += [Padding(Text(detail), (0, 0, 0, indent + 2)) for detail in details]
    return Group(*lines)


def coverage_table(coverage: dict[str, list[str]], width: int = 120) -> RenderableType:
    ordered = sorted(coverage.items(), key=lambda item: (len(item[1]), item[0]))
    longest_case = max((len(c) for cases in coverage.values() for c in cases), default=10)
    longest_rule = max(map(len, coverage), default=10)
    if longest_rule + 8 + longest_case + 8 <= width:
        table = Table(title="Rule coverage by curated cases", title_justify="left", box=box.SIMPLE, expand=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Cases", justify="right", no_wrap=True)
        table.add_column("Fires on", ratio=1, min_width=longest_case)
        for rule_id, cases in ordered:
            count = f"[red]{len(cases)}[/red]" if not cases else str(len(cases))
            table.add_row(rule_id, count, "\n".join(cases) if cases else "[red]no curated case exercises it[/red]")
        return table
    lines: list[RenderableType] = [Text("Rule coverage by curated cases", style="italic")]
    for rule_id, cases in ordered:
        lines.append(Text.assemble((rule_id, "bold"), f"  {len(cases)} case{'s' if len(cases) != 1 else ''}"))
        body = [Text(case) for case in cases] or [Text("no curated case exercises it", style="red")]
        lines.append(Padding(Group(*body), (0, 0, 0, 4)))
    return Group(*lines)


def _order(order: tuple[str, ...], short: Mapping[str, str]) -> str:
    return " > ".join(short.get(d, d) for d in order)


def changes_table(
    changes: list[CaseChange],
    against: str,
    short: Mapping[str, str] | None = None,
    skipped: Sequence[NotCompared] = (),
) -> RenderableType:
    """One block per moved case: its id, the ranking (before → after), the deltas, the rules that changed;
    ``short`` gives each diagnosis's short label (default: its id); ``skipped``, the cases only one set of
    rules could assess, each with why (so a case is never silently missing from the comparison)."""
    short = short or {}
    moved = [c for c in changes if c.moved]
    lines: list[RenderableType] = [
        Text(f"Changes against {against}: {len(moved)} of {len(changes)} cases moved", style="italic")
    ]
    for case in skipped:
        which = f"the rules of {against}" if case.run == "before" else "the current rules"
        lines.append(Text(f"Not compared: {case.case_id} ({which} cannot assess it: {case.error})", style="yellow"))
    for change in moved:
        ranking = (
            Text(f"{_order(change.order_before, short)} → {_order(change.order_after, short)}", style="yellow")
            if change.rank_changed
            else Text(_order(change.order_after, short))
        )
        deltas = " · ".join(
            f"{short.get(d, d)} {v:+.4f}" for d, v in change.probability_deltas.items() if abs(v) > 1e-9
        )
        rules = Text()
        for prefix, ids, style in (("+", change.started, "green"), ("-", change.stopped, "red")):
            for rule_id in ids:
                rules.append(f"{prefix}{rule_id}", style=style)
                rules.append("  ")
        for condition, old, new in change.secondary:
            rules.append(f"{condition.replace('_', ' ')} {old} → {new}")
        body: list[RenderableType] = [ranking, Text(f"Δ probability: {deltas or '—'}")]
        if rules.plain.strip():
            body.append(Text.assemble("rules: ", rules))
        lines += [Text(change.case_id, style="bold"), Padding(Group(*body), (0, 0, 0, 4))]
    return Group(*lines)


def what_if_summary(before: Report, after: Report, changes: str) -> RenderableType:
    """A clinician's summary of a what-if: each diagnosis before → after, and the rules that now fire or stop."""
    old = {e.diagnosis: e.probability for e in before.ranking}
    lines: list[RenderableType] = [Text(f"What if {changes}:", style="bold")]
    moves = "; ".join(f"{e.label} {old[e.diagnosis] * 100:.1f} % → {e.probability * 100:.1f} %" for e in after.ranking)
    if before.top.diagnosis != after.top.diagnosis:
        moves += f" (now first: {after.top.label}, was {before.top.label})"
    lines.append(Padding(Text(moves), (0, 0, 0, 2)))
    titles = {item.rule: item.title for e in after.ranking + before.ranking for item in e.evidence}
    started = [r for r in after.fired_rules if r not in before.fired_rules]
    stopped = [r for r in before.fired_rules if r not in after.fired_rules]
    for words, rules in (("now fires", started), ("no longer fires", stopped)):
        if rules:
            named = "; ".join(f"{r} ({titles[r]})" if r in titles else r for r in rules)
            lines.append(Padding(Text(f"{words}: {named}"), (0, 0, 0, 2)))
    raised = {flag.rule for flag in before.red_flags}
    for flag in after.red_flags:
        if flag.rule not in raised:
            style = "bold red" if flag.severity == "urgent" else "bold yellow"
            said = Text.assemble((f"new {flag.severity} red flag: ", style), " ".join(flag.message.split()))
            lines.append(Padding(said, (0, 0, 0, 2)))
    status = {s.condition: (s.label, s.status) for s in before.secondary}
    for secondary in after.secondary:
        label, was = status.get(secondary.condition, (secondary.label, secondary.status))
        if was != secondary.status:
            lines.append(Padding(Text(f"{label}: {was} → {secondary.status}"), (0, 0, 0, 2)))
    return Group(*lines)


def snapshot_changes_view(changes: list[SnapshotChange], directory: str) -> RenderableType:
    """Each changed report: its case, the kinds of change, and the JSON diff to review (not wrapped)."""
    lines: list[RenderableType] = []
    for change in changes:
        lines.append(Text(f"{change.case_id}: its report changed — {'; '.join(change.kinds)}", style="bold"))
        if change.diff:
            lines.append(Text(change.diff.rstrip("\n"), style="dim"))
    lines.append(
        Text(
            f"{len(changes)} report(s) differ from their snapshot in {directory}: "
            "review each diff above, then refresh on purpose with --update"
        )
    )
    return Group(*lines)
