"""Regression views: pass/fail per case, rule coverage, and what moved between two rule versions."""

from __future__ import annotations

from collections.abc import Mapping

from rich import box
from rich.table import Table

from ddx.regress import CaseChange, RegressionRun


def results_table(run: RegressionRun) -> Table:
    table = Table(title=f"Regression: {len(run.results)} cases", title_justify="left", box=box.SIMPLE, expand=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Case", overflow="fold", ratio=1, min_width=16)
    table.add_column("Top", no_wrap=True)
    table.add_column("Details", ratio=2, min_width=30, overflow="fold")
    for result in run.results:
        if result.error is not None:
            status, details = "[red]ERROR[/red]", result.error
        elif not result.checked:
            status, details = "[dim]no expect[/dim]", ""
        elif result.failures:
            status, details = "[red]FAIL[/red]", "\n".join(result.failures)
        else:
            status, details = "[green]pass[/green]", ""
        top = "" if result.report is None else f"{result.report.top.diagnosis} {result.report.top.probability:.0%}"
        table.add_row(status, result.case_id, top, details)
    return table


def coverage_table(coverage: dict[str, list[str]]) -> Table:
    table = Table(title="Rule coverage by curated cases", title_justify="left", box=box.SIMPLE, expand=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Cases", justify="right", no_wrap=True)
    table.add_column("Fires on", ratio=1, overflow="fold")
    for rule_id, cases in sorted(coverage.items(), key=lambda item: (len(item[1]), item[0])):
        count = f"[red]{len(cases)}[/red]" if not cases else str(len(cases))
        table.add_row(rule_id, count, ", ".join(cases) if cases else "[red]no curated case exercises it[/red]")
    return table


def _order(order: tuple[str, ...], short: Mapping[str, str]) -> str:
    return " > ".join(short.get(d, d) for d in order)


def changes_table(changes: list[CaseChange], against: str, short: Mapping[str, str] | None = None) -> Table:
    """What moved between two rule versions; ``short`` gives each diagnosis's short label (default: its id)."""
    short = short or {}
    moved = [c for c in changes if c.moved]
    table = Table(
        title=f"Changes against {against}: {len(moved)} of {len(changes)} cases moved",
        title_justify="left",
        box=box.SIMPLE,
        expand=True,
    )
    table.add_column("Case", overflow="fold", ratio=2, min_width=16)
    table.add_column("Ranking", ratio=2, min_width=24)
    table.add_column("Δ probability", no_wrap=True)
    table.add_column("Rules", ratio=2, min_width=20, overflow="fold")
    for change in moved:
        ranking = (
            f"[yellow]{_order(change.order_before, short)}\n→ {_order(change.order_after, short)}[/yellow]"
            if change.rank_changed
            else _order(change.order_after, short)
        )
        deltas = "\n".join(f"{short.get(d, d)} {v:+.4f}" for d, v in change.probability_deltas.items() if abs(v) > 1e-9)
        rules = [f"[green]+{r}[/green]" for r in change.started] + [f"[red]-{r}[/red]" for r in change.stopped]
        rules += [f"{condition.replace('_', ' ')} {old} → {new}" for condition, old, new in change.secondary]
        table.add_row(change.case_id, ranking, deltas or "—", "\n".join(rules) or "—")
    return table
