"""A shareable Markdown report with the same content as the terminal one."""

from __future__ import annotations

from ddx.findings import display_value
from ddx.render import CONVENTION_NOTE, cite, format_findings, likelihood_ratio_text, percent, source_numbers
from ddx.report import RankedEntry, Report


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(report: Report) -> str:
    numbers = source_numbers(report)
    lines: list[str] = [f"# ddx report: {_cell(report.title)}", ""]
    lines += [
        f"Case `{report.case_id}` · rule pack {report.rule_pack.name} {report.rule_pack.version} "
        f"(`{report.rule_pack.digest}`)",
        "",
        f"> **{report.disclaimer}**",
        "",
    ]
    if report.extracted_from:
        lines += ["## Read from the report", "", "| Finding | Value | Read | Sentence |", "|---|---|---|---|"]
        for name, where in report.extracted_from.items():
            lines.append(f"| `{name}` | {_cell(display_value(where.value))} | {where.read} | {_cell(where.sentence)} |")
        lines.append("")
    if report.red_flags:
        lines += ["## Red flags", ""]
        for flag in report.red_flags:
            lines.append(
                f"- **{flag.severity.upper()}** — {_cell(flag.message)} "
                f"(`{flag.rule}`; {format_findings(flag.findings)}) {cite(flag.source_keys, numbers)}"
            )
        lines.append("")
    lines += _differential(report, numbers)
    comparison = report.top_comparison
    labels = {e.diagnosis: e.label for e in report.ranking}
    lines += [
        "",
        f"**Why {labels[comparison.first]} ranks above {labels[comparison.second]}:** log margin "
        f"{comparison.log_margin:+.2f} (prior ratio {comparison.prior_log_ratio:+.2f}).",
        "",
    ]
    for item in comparison.contributions:
        lines.append(f"- `{item.rule}` ({item.direction} {labels[item.diagnosis]}): {item.log_contribution:+.2f}")
    lines.append("")
    for entry in report.ranking:
        lines += [f"### {entry.rank}. {entry.label} — evidence", ""]
        if not entry.evidence:
            lines += ["No rule fired for or against this diagnosis; it rests on its prior.", ""]
            continue
        lines += ["| Rule | Direction | LR | Findings | Rationale | Sources |", "|---|---|---:|---|---|---|"]
        for evidence in entry.evidence:
            lines.append(
                f"| `{evidence.rule}` | {evidence.direction} "
                f"| {likelihood_ratio_text(evidence.likelihood_ratio, evidence.basis)} "
                f"| {format_findings(evidence.findings)} | {_cell(evidence.rationale)} "
                f"| {cite(evidence.source_keys, numbers)} |"
            )
        lines += _not_counted(entry)
        lines.append("")
    lines += [CONVENTION_NOTE, ""]
    lines += ["## Secondary conditions", ""]
    for secondary in report.secondary:
        lines.append(f"**{secondary.label}: {secondary.status}**")
        lines.append("")
        if not secondary.evidence:
            lines.append("- No rule decided it; the findings it needs are unknown.")
        for ev in secondary.evidence:
            lines.append(
                f"- `{ev.rule}` → {ev.status}: {_cell(ev.title)} ({format_findings(ev.findings)}) "
                f"{cite(ev.source_keys, numbers)}"
            )
        lines.append("")
    lines += ["## Recommendations", ""]
    if not report.recommendations:
        lines.append("- None fired for this case.")
    for rec in report.recommendations:
        lines.append(f"- **{rec.category}** — {_cell(rec.text)} (`{rec.rule}`) {cite(rec.source_keys, numbers)}")
    lines += ["", "## Unknown findings that could change the top diagnosis", ""]
    changing = [u for u in report.unknown_findings if u.could_change_top]
    if not changing:
        lines.append("- None: no single unknown finding would change the top diagnosis.")
    for unknown in changing:
        whens = "; ".join(f"{c.value} → {labels.get(c.top, c.top)}" for c in unknown.changes_top_when)
        lines.append(f"- `{unknown.finding}`: {whens}")
    others = [u.finding for u in report.unknown_findings if not u.could_change_top]
    if others:
        lines += ["", f"Other unknown findings (would not change the top): {', '.join(others)}."]
    lines += ["", "## Sources", ""]
    for key, number in numbers.items():
        lines.append(f"{number}. {report.sources[key]}")
    lines += ["", "---", "", f"*{report.disclaimer}*", ""]
    return "\n".join(lines)


def _differential(report: Report, numbers: dict[str, int]) -> list[str]:
    """The headline, the ranking with each diagnosis's prior and posterior, and where the priors came from."""
    lines: list[str] = ["## Differential", ""]
    if report.headline is not None:
        lines += [f"**{_cell(report.headline.text)}**", ""]
    lines += [
        "| Rank | Diagnosis | Probability | Prior | Log-odds | Codes |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for entry in report.ranking:
        codes = f"{entry.codes.icd10_system} {entry.codes.icd10}" if entry.codes.icd10 else "—"
        lines.append(
            f"| {entry.rank} | {entry.label} | {percent(entry.probability)} | {percent(entry.prior)} "
            f"| {entry.log_odds:+.2f} | {codes} |"
        )
    if report.prior_context is not None:
        context = report.prior_context
        lines += [
            "",
            f"Priors for {context.label} ({context.basis}): {_cell(context.rationale)} "
            f"{cite(context.source_keys, numbers)}",
        ]
    return lines


def _not_counted(entry: RankedEntry) -> list[str]:
    if not entry.not_counted:
        return []
    counted = ", ".join(f"`{item.rule}` (LR {item.likelihood_ratio:.3g})" for item in entry.not_counted)
    return ["", f"Also fired, not counted again (one fact counts once): {counted}"]
