"""The terminal report (rich): red flags first, ranking with bars, evidence, advice, unknowns, disclaimer."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ddx.render import cite, format_findings, source_numbers
from ddx.report import Report

_BAR_WIDTH = 24


def _bar(probability: float) -> Text:
    filled = round(probability * _BAR_WIDTH)
    return Text("█" * filled + "░" * (_BAR_WIDTH - filled), style="cyan")


def report_renderables(report: Report) -> list[RenderableType]:
    numbers = source_numbers(report)
    labels = {e.diagnosis: e.label for e in report.ranking}
    parts: list[RenderableType] = [
        Text.assemble(
            (f"ddx · {report.title}\n", "bold"),
            (f"case {report.case_id} · rules {report.rule_pack.name} {report.rule_pack.version} "
             f"({report.rule_pack.digest})", "dim"),
        )
    ]
    if report.red_flags:
        flags = Table(box=None, show_header=False, expand=True, padding=(0, 1))
        flags.add_column(style="bold", no_wrap=True)
        flags.add_column(ratio=1)
        for flag in report.red_flags:
            style = "bold red" if flag.severity == "urgent" else "bold yellow"
            flags.add_row(
                Text(flag.severity.upper(), style=style),
                Text(f"{' '.join(flag.message.split())} [{flag.rule}; {format_findings(flag.findings)}] "
                     f"{cite(flag.source_keys, numbers)}"),
            )
        urgent = any(f.severity == "urgent" for f in report.red_flags)
        parts.append(Panel(flags, title="RED FLAGS", border_style="red" if urgent else "yellow"))

    ranking = Table(title="Differential", box=box.SIMPLE_HEAVY, title_justify="left", expand=True)
    ranking.add_column("#", justify="right", no_wrap=True)
    ranking.add_column("Diagnosis", ratio=1)
    ranking.add_column("Probability", no_wrap=True)
    ranking.add_column("%", justify="right", no_wrap=True)
    ranking.add_column("log-odds", justify="right", no_wrap=True)
    for entry in report.ranking:
        ranking.add_row(str(entry.rank), entry.label, _bar(entry.probability), f"{entry.probability:.1%}",
                        f"{entry.log_odds:+.2f}")
    parts.append(ranking)

    comparison = report.top_comparison
    why = Table(box=None, show_header=False, padding=(0, 1))
    why.add_column(justify="right", no_wrap=True)
    why.add_column()
    for item in comparison.contributions:
        why.add_row(f"{item.log_contribution:+.2f}", f"{item.rule} ({labels[item.diagnosis]})")
    parts.append(Panel(
        Group(Text(f"log margin {comparison.log_margin:+.2f} = prior ratio {comparison.prior_log_ratio:+.2f} "
                   "+ the rules below"), why),
        title=f"Why {labels[comparison.first]} ranks above {labels[comparison.second]}",
        title_align="left",
    ))

    for entry in report.ranking:
        table = Table(title=f"{entry.rank}. {entry.label} — evidence", title_justify="left", box=box.SIMPLE,
                      expand=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("", no_wrap=True)
        table.add_column("LR", justify="right", no_wrap=True)
        table.add_column("On the evidence of", ratio=2, overflow="fold")
        table.add_column("Why", ratio=3)
        if not entry.evidence:
            table.add_row("—", "", "", "no rule fired", "rests on its prior")
        for item in entry.evidence:
            arrow = Text("▲ for", style="green") if item.direction == "for" else Text("▼ against", style="red")
            table.add_row(item.rule, arrow, f"{item.likelihood_ratio:.3g}", format_findings(item.findings),
                          f"{' '.join(item.rationale.split())} {cite(item.source_keys, numbers)}")
        parts.append(table)

    for secondary in report.secondary:
        style = {"present": "bold magenta", "absent": "green", "indeterminate": "yellow"}[secondary.status]
        lines: list[RenderableType] = [Text(secondary.status.upper(), style=style)]
        if not secondary.evidence:
            lines.append(Text("No rule decided it; the findings it needs are unknown.", style="dim"))
        for ev in secondary.evidence:
            lines.append(Text(f"• {ev.rule} → {ev.status}: {ev.title} ({format_findings(ev.findings)}) "
                              f"{cite(ev.source_keys, numbers)}"))
        parts.append(Panel(Group(*lines), title=secondary.label, title_align="left"))

    advice = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    advice.add_column(style="bold", no_wrap=True)
    advice.add_column(ratio=1)
    for rec in report.recommendations:
        advice.add_row(rec.category, f"{' '.join(rec.text.split())} [{rec.rule}] {cite(rec.source_keys, numbers)}")
    if not report.recommendations:
        advice.add_row("—", "No recommendation fired for this case.")
    parts.append(Panel(advice, title="Recommendations (decision support, not orders)", title_align="left"))

    changing = [u for u in report.unknown_findings if u.could_change_top]
    unknown_lines: list[RenderableType] = []
    for unknown in changing:
        whens = "; ".join(f"{c.value} → {labels[c.top]}" for c in unknown.changes_top_when)
        unknown_lines.append(Text(f"• {unknown.finding}: {whens}"))
    if not changing:
        unknown_lines.append(Text("No single unknown finding would change the top diagnosis."))
    others = [u.finding for u in report.unknown_findings if not u.could_change_top]
    if others:
        unknown_lines.append(Text(f"Other unknowns: {', '.join(others)}", style="dim"))
    parts.append(Panel(Group(*unknown_lines), title="Unknown findings that could change the top diagnosis",
                       title_align="left"))

    sources = Text()
    for key, number in numbers.items():
        sources.append(f"[{number}] {report.sources[key]}\n", style="dim")
    parts.append(sources)
    parts.append(Panel(Text(report.disclaimer, style="bold"), title="Disclaimer", border_style="yellow"))
    return parts


def render_text(report: Report, *, color: bool | None = None, width: int | None = None) -> str:
    console = Console(record=True, width=width or 110, force_terminal=color, no_color=color is False,
                      file=_NullFile(), highlight=False)
    for part in report_renderables(report):
        console.print(part)
    return console.export_text(styles=bool(color))


class _NullFile:
    """Rich records what it prints; the caller decides where the text goes."""

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None
