"""The terminal report (rich): red flags first, ranking with bars, evidence, advice, unknowns, disclaimer."""

from __future__ import annotations

import io

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ddx.display import SafeConsole
from ddx.findings import display_value
from ddx.render import cite, format_findings, source_numbers
from ddx.report import RankedEntry, Report, SecondaryEntry

_BAR_WIDTH = 24
_STATUS_STYLE = {"present": "bold magenta", "absent": "green", "indeterminate": "yellow"}
Numbers = dict[str, int]


def _oneline(text: str) -> str:
    return " ".join(text.split())


def _bar(probability: float) -> Text:
    filled = round(probability * _BAR_WIDTH)
    return Text("█" * filled + "░" * (_BAR_WIDTH - filled), style="cyan")


def _header(report: Report) -> Text:
    stamp = report.rule_pack
    return Text.assemble(
        (f"ddx · {report.title}\n", "bold"),
        (f"case {report.case_id} · rules {stamp.name} {stamp.version} ({stamp.digest})", "dim"),
    )


def _red_flags(report: Report, numbers: Numbers) -> Panel:
    flags = Table(box=None, show_header=False, expand=True, padding=(0, 1))
    flags.add_column(style="bold", no_wrap=True)
    flags.add_column(ratio=1)
    for flag in report.red_flags:
        style = "bold red" if flag.severity == "urgent" else "bold yellow"
        details = f"[{flag.rule}; {format_findings(flag.findings)}] {cite(flag.source_keys, numbers)}"
        flags.add_row(Text(flag.severity.upper(), style=style), Text(f"{_oneline(flag.message)} {details}"))
    urgent = any(f.severity == "urgent" for f in report.red_flags)
    return Panel(flags, title="RED FLAGS", border_style="red" if urgent else "yellow")


def _ranking(report: Report) -> Table:
    table = Table(title="Differential", box=box.SIMPLE_HEAVY, title_justify="left", expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Diagnosis", ratio=1)
    table.add_column("Probability", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("log-odds", justify="right", no_wrap=True)
    for entry in report.ranking:
        table.add_row(
            str(entry.rank),
            entry.label,
            _bar(entry.probability),
            f"{entry.probability:.1%}",
            f"{entry.log_odds:+.2f}",
        )
    return table


def _why_top(report: Report, labels: dict[str, str]) -> Panel:
    comparison = report.top_comparison
    rows = Table(box=None, show_header=False, padding=(0, 1))
    rows.add_column(justify="right", no_wrap=True)
    rows.add_column()
    for item in comparison.contributions:
        rows.add_row(f"{item.log_contribution:+.2f}", f"{item.rule} ({labels[item.diagnosis]})")
    margin, prior = comparison.log_margin, comparison.prior_log_ratio
    summary = Text(f"log margin {margin:+.2f} = prior ratio {prior:+.2f} + the rules below")
    title = f"Why {labels[comparison.first]} ranks above {labels[comparison.second]}"
    return Panel(Group(summary, rows), title=title, title_align="left")


def _evidence(entry: RankedEntry, numbers: Numbers) -> Table:
    table = Table(title=f"{entry.rank}. {entry.label} — evidence", title_justify="left", box=box.SIMPLE, expand=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("LR", justify="right", no_wrap=True)
    table.add_column("On the evidence of", ratio=2, overflow="fold")
    table.add_column("Why", ratio=3)
    if not entry.evidence:
        table.add_row("—", "", "", "no rule fired", "rests on its prior")
    for item in entry.evidence:
        arrow = Text("▲ for", style="green") if item.direction == "for" else Text("▼ against", style="red")
        why = f"{_oneline(item.rationale)} {cite(item.source_keys, numbers)}"
        table.add_row(item.rule, arrow, f"{item.likelihood_ratio:.3g}", format_findings(item.findings), why)
    return table


def _secondary(secondary: SecondaryEntry, numbers: Numbers) -> Panel:
    lines: list[RenderableType] = [Text(secondary.status.upper(), style=_STATUS_STYLE[secondary.status])]
    if not secondary.evidence:
        lines.append(Text("No rule decided it; the findings it needs are unknown.", style="dim"))
    for ev in secondary.evidence:
        lines.append(
            Text(
                f"• {ev.rule} → {ev.status}: {ev.title} ({format_findings(ev.findings)}) "
                f"{cite(ev.source_keys, numbers)}"
            )
        )
    return Panel(Group(*lines), title=secondary.label, title_align="left")


def _recommendations(report: Report, numbers: Numbers) -> Panel:
    advice = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    advice.add_column(style="bold", no_wrap=True)
    advice.add_column(ratio=1)
    for rec in report.recommendations:
        advice.add_row(rec.category, f"{_oneline(rec.text)} [{rec.rule}] {cite(rec.source_keys, numbers)}")
    if not report.recommendations:
        advice.add_row("—", "No recommendation fired for this case.")
    return Panel(advice, title="Recommendations (decision support, not orders)", title_align="left")


def _unknowns(report: Report, labels: dict[str, str]) -> Panel:
    lines: list[RenderableType] = []
    for unknown in report.unknown_findings:
        if unknown.could_change_top:
            whens = "; ".join(f"{c.value} → {labels.get(c.top, c.top)}" for c in unknown.changes_top_when)
            lines.append(Text(f"• {unknown.finding}: {whens}"))
    if not lines:
        lines.append(Text("No single unknown finding would change the top diagnosis."))
    others = [u.finding for u in report.unknown_findings if not u.could_change_top]
    if others:
        lines.append(Text(f"Other unknowns: {', '.join(others)}", style="dim"))
    return Panel(Group(*lines), title="Unknown findings that could change the top diagnosis", title_align="left")


def _sources(report: Report, numbers: Numbers) -> Text:
    sources = Text()
    for key, number in numbers.items():
        sources.append(f"[{number}] {report.sources[key]}\n", style="dim")
    return sources


def report_renderables(report: Report) -> list[RenderableType]:
    """The report as rich renderables, in reading order: red flags first, disclaimer last."""
    numbers = source_numbers(report)
    labels: dict[str, str] = {e.diagnosis: e.label for e in report.ranking}
    parts: list[RenderableType] = [_header(report)]
    if report.extracted_from:
        parts.append(_extracted_from(report))
    if report.red_flags:
        parts.append(_red_flags(report, numbers))
    parts += [_ranking(report), _why_top(report, labels)]
    parts += [_evidence(entry, numbers) for entry in report.ranking]
    parts += [_secondary(secondary, numbers) for secondary in report.secondary]
    parts += [_recommendations(report, numbers), _unknowns(report, labels), _sources(report, numbers)]
    parts.append(Panel(Text(report.disclaimer, style="bold"), title="Disclaimer", border_style="yellow"))
    return parts


def _extracted_from(report: Report) -> Table:
    """For a case extracted from a report: each finding with the sentence it was read from."""
    table = Table(title="Read from the report", box=box.SIMPLE, title_justify="left", show_lines=False)
    table.add_column("Finding", no_wrap=True)
    table.add_column("Value", no_wrap=True)
    table.add_column("Read", no_wrap=True)
    table.add_column("Sentence (the words read in bold)", ratio=1)
    for name, where in (report.extracted_from or {}).items():
        sentence = Text(where.sentence)
        sentence.highlight_words([where.text], style="bold")
        table.add_row(name, display_value(where.value), where.read, sentence)
    return table


def render_text(report: Report, *, color: bool | None = None, width: int | None = None) -> str:
    console = SafeConsole(
        record=True,
        width=width or 110,
        force_terminal=color,
        no_color=color is False,
        file=io.StringIO(),  # rich records what it prints; the caller decides where the text goes
        highlight=False,
    )
    for part in report_renderables(report):
        console.print(part)
    return console.export_text(styles=bool(color))
