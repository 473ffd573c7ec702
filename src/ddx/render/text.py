"""The terminal report (rich): red flags first, ranking with bars, evidence, advice, unknowns, disclaimer.

Laid out for the width there is: the evidence is a table only where every column fits whole and the "Why"
column still gets :data:`WHY_WIDTH` characters (never below :data:`WIDE` columns); otherwise it is a stacked
list (direction, likelihood ratio and rule on one line, the findings on the next, the rationale as a wrapped
paragraph). Either way no rule id, citation or finding is ever cut, and a rule's rationale is printed once.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ddx.findings import display_value
from ddx.render import CONVENTION_NOTE, cite, format_findings, likelihood_ratio_text, percent, source_numbers
from ddx.render.console import SafeConsole
from ddx.report import EvidenceItem, RankedEntry, Report, SecondaryEntry

_BAR_WIDTH = 24
WIDE = 100  # below this many columns the evidence is always a stacked list
WHY_WIDTH = 40  # ... and above, a table only if its "Why" column keeps this many characters
_STATUS_STYLE = {"present": "bold magenta", "absent": "green", "indeterminate": "yellow"}
Numbers = dict[str, int]


def _oneline(text: str) -> str:
    return " ".join(text.split())


def _bar(probability: float, width: int = _BAR_WIDTH) -> Text:
    filled = round(probability * width)
    return Text("█" * filled + "░" * (width - filled), style="cyan")


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


def _ranking(report: Report, width: int) -> Table:
    table = Table(title="Differential", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Diagnosis", no_wrap=True)
    table.add_column("Probability", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("prior", justify="right", no_wrap=True, style="dim")
    table.add_column("log-odds", justify="right", no_wrap=True)
    bar = _BAR_WIDTH if width >= WIDE else _BAR_WIDTH // 2
    for entry in report.ranking:
        table.add_row(
            str(entry.rank),
            entry.label,
            _bar(entry.probability, bar),
            percent(entry.probability),
            percent(entry.prior),
            f"{entry.log_odds:+.2f}",
        )
    return table


def _headline(report: Report) -> Text:
    """The answer in one line: the leading diagnosis, or indeterminate with what would decide."""
    if report.headline is None:
        return Text("")
    style = "bold" if report.headline.status == "leading" else "bold yellow"
    return Text(report.headline.text, style=style)


def _base_rates(report: Report, numbers: Numbers) -> Text:
    """Which base rates the ranking started from: the prior context, and whether it is published or judged."""
    context = report.prior_context
    if context is None:
        return Text("")
    return Text(
        f"Priors for {context.label} ({context.basis}): {_oneline(context.rationale)} "
        f"{cite(context.source_keys, numbers)}",
        style="dim",
    )


def _why_top(report: Report, labels: dict[str, str]) -> Panel:
    """Each rule's share of the margin, saying *for* the first or *against* the second (or the reverse)."""
    comparison = report.top_comparison
    rows = Table(box=None, show_header=False, padding=(0, 1))
    rows.add_column(justify="right", no_wrap=True)
    rows.add_column()
    for item in comparison.contributions:
        rows.add_row(f"{item.log_contribution:+.2f}", f"{item.rule} ({item.direction} {labels[item.diagnosis]})")
    margin, prior = comparison.log_margin, comparison.prior_log_ratio
    summary = Text(f"log margin {margin:+.2f} = prior ratio {prior:+.2f} + the rules below")
    title = f"Why {labels[comparison.first]} ranks above {labels[comparison.second]}"
    return Panel(Group(summary, rows), title=title, title_align="left")


def _arrow(direction: str) -> Text:
    return Text("▲ for", style="green") if direction == "for" else Text("▼ against", style="red")


def _why(item: EvidenceItem, numbers: Numbers, shown: dict[str, str], label: str) -> str:
    """The rationale with its citations, or a pointer to where the same rule's rationale was printed."""
    if item.rule in shown:
        return f"(rationale under {shown[item.rule]}) {cite(item.source_keys, numbers)}"
    shown[item.rule] = label
    return f"{_oneline(item.rationale)} {cite(item.source_keys, numbers)}"


def _tokens(entries: list[RankedEntry]) -> list[str]:
    return [
        f"{name}={display_value(value)}"
        for e in entries
        for item in e.evidence
        for name, value in item.findings.items()
    ]


def evidence_as_tables(report: Report, width: int) -> bool:
    """Whether ``width`` columns hold the evidence tables with every id and finding whole and a readable Why."""
    if width < WIDE:
        return False
    rule = max((len(item.rule) for e in report.ranking for item in e.evidence), default=4)
    findings = max(map(len, _tokens(report.ranking)), default=18)
    # columns: rule, direction (9), LR (5), findings, why; each padded by one space either side, plus the margins
    return rule + 9 + 5 + findings + WHY_WIDTH + 5 * 2 + 2 <= width


def _evidence(entry: RankedEntry, numbers: Numbers, tables: bool, shown: dict[str, str]) -> RenderableType:
    title = f"{entry.rank}. {entry.label} — evidence"
    if not tables:
        return _evidence_list(entry, numbers, title, shown)
    tokens = _tokens([entry])
    table = Table(title=title, title_justify="left", box=box.SIMPLE, expand=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Direction", no_wrap=True)
    table.add_column("LR", justify="right", no_wrap=True)
    table.add_column("On the evidence of", no_wrap=True, min_width=max(map(len, tokens), default=10))
    table.add_column("Why", ratio=1, overflow="fold")
    if not entry.evidence:
        table.add_row("—", "", "", "no rule fired", "rests on its prior")
    for item in entry.evidence:
        findings = "\n".join(f"{name}={display_value(value)}" for name, value in item.findings.items())
        label = f"{entry.rank}. {entry.label}"
        table.add_row(
            item.rule,
            _arrow(item.direction),
            likelihood_ratio_text(item.likelihood_ratio, item.basis),
            findings,
            _why(item, numbers, shown, label),
        )
    return table


def _evidence_list(entry: RankedEntry, numbers: Numbers, title: str, shown: dict[str, str]) -> RenderableType:
    lines: list[RenderableType] = [Text(title, style="italic")]
    if not entry.evidence:
        lines.append(Padding(Text("No rule fired for or against it; it rests on its prior."), (0, 0, 0, 2)))
    for item in entry.evidence:
        lr = likelihood_ratio_text(item.likelihood_ratio, item.basis)
        head = Text.assemble(_arrow(item.direction), f"  LR {lr}  ", (item.rule, "bold"))
        findings = Text("on " + format_findings(item.findings), style="dim")
        why = Text(_why(item, numbers, shown, f"{entry.rank}. {entry.label}"))
        lines += [Padding(head, (0, 0, 0, 2)), Padding(Group(findings, why), (0, 0, 1, 4))]
    return Group(*lines)


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


def report_renderables(report: Report, width: int = 120) -> list[RenderableType]:
    """The report as rich renderables for ``width`` columns, in reading order: red flags first, disclaimer last."""
    numbers = source_numbers(report)
    labels: dict[str, str] = {e.diagnosis: e.label for e in report.ranking}
    parts: list[RenderableType] = [_header(report)]
    if report.extracted_from:
        parts.append(_extracted_from(report))
    if report.red_flags:
        parts.append(_red_flags(report, numbers))
    parts += [_headline(report), _ranking(report, width), _base_rates(report, numbers), _why_top(report, labels)]
    shown: dict[str, str] = {}
    tables = evidence_as_tables(report, width)
    for entry in report.ranking:
        parts.append(_evidence(entry, numbers, tables, shown))
        if entry.not_counted:
            counted_once = ", ".join(f"{item.rule} (LR {item.likelihood_ratio:.3g})" for item in entry.not_counted)
            said = Text(f"Also fired, not counted again (one fact counts once): {counted_once}", style="dim")
            parts.append(Padding(said, (0, 0, 1, 2)))
    parts.append(Text(CONVENTION_NOTE, style="dim"))
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
    """The report as text for ``width`` columns (default 110); without colour, no line ends in padding."""
    console = SafeConsole(
        record=True,
        width=width or 110,
        force_terminal=color,
        no_color=color is False,
        file=io.StringIO(),  # rich records what it prints; the caller decides where the text goes
        highlight=False,
    )
    for part in report_renderables(report, console.width):
        console.print(part)
    text = console.export_text(styles=bool(color))
    return text if color else "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
