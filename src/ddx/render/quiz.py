"""The quiz comparison in the terminal: red flags missed first, then each point, then the score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ddx.quiz.model import CitedFinding, Grade
from ddx.quiz.store import Attempt

_VERDICT = {
    "agrees": ("✓", "the engine weighs it the same way", "green"),
    "missed": ("○", "the engine weighs it; you did not cite it", "yellow"),
    "not_weighed": ("·", "no rule weighs it this way", "dim"),
    "misconception": ("✗", "the engine weighs it the other way", "bold red"),
}


def _findings_table(title: str, cited: list[CitedFinding]) -> RenderableType:
    """One line per finding (a list, so a long rule id is never split): mark, finding, verdict, rules."""
    lines: list[RenderableType] = [Text(title, style="italic")]
    for item in cited:
        mark, text, style = _VERDICT[item.verdict]
        line = Text.assemble((f"{mark} ", style), (item.finding, "bold"), f": {text}")
        if item.rules:
            line.append(" · " + ", ".join(item.rules), style="dim")
        lines.append(Padding(line, (0, 0, 0, 2)))
    if not cited:
        lines.append(Padding(Text("— nothing cited and nothing to cite"), (0, 0, 0, 2)))
    return Group(*lines)


def grade_renderables(grade: Grade, labels: Mapping[Any, str]) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if grade.missed_red_flags:
        flags = Text()
        for flag in grade.missed_red_flags:
            flags.append(f"{flag.rule}: ", style="bold red")
            flags.append(f"{flag.message}\n  source: {flag.citation}\n")
        parts.append(Panel(flags, title="Red flags you missed", border_style="red"))
    if grade.false_red_flags:
        parts.append(
            Text(f"Red flags named that do not apply here: {', '.join(grade.false_red_flags)}", style="yellow")
        )

    agreement = grade.ranking_agreement
    ranking = Table(title="Ranking", title_justify="left", box=box.SIMPLE)
    ranking.add_column("#", justify="right")
    ranking.add_column("You")
    ranking.add_column("Engine")
    for position, (mine, engine) in enumerate(zip(agreement.student, agreement.engine, strict=True), start=1):
        ranking.add_row(str(position), labels[mine], labels[engine], style=None if mine == engine else "yellow")
    parts.append(ranking)
    parts.append(
        Text(
            f"Top choice {'matches' if agreement.top1_match else 'differs'}; Kendall τ = {agreement.kendall_tau:+.2f}. "
            + " ".join(
                f"{key.replace('_', ' ').capitalize()}: you said {statuses['student']}, "
                f"the engine says {statuses['engine']}."
                for key, statuses in grade.secondary.items()
            )
        )
    )
    first = labels[agreement.student[0]]
    parts.append(_findings_table(f"Findings you cited for {first}", grade.supports_first))
    for against, cited in grade.against.items():
        parts.append(_findings_table(f"Findings you cited against {labels[against]}", cited))
    if grade.misconceptions:  # a list, not a table: the explanation is the teaching, and must read as prose
        lines: list[RenderableType] = [Text("Misconceptions", style="italic")]
        for item in grade.misconceptions:
            said = f"You said: {item.finding} {item.student_said}"
            if not item.penalised:
                said += " (not penalised: the rule weighs it only together with other findings)"
            lines.append(Text.assemble(("✗ ", "bold red"), said))
            but = f"But {item.rule} weighs it {item.direction} {labels[item.diagnosis]}: {item.rationale}"
            lines.append(Padding(Group(Text(but), Text(f"Source: {item.citation}", style="dim")), (0, 0, 1, 2)))
        parts.append(Group(*lines))
    if grade.script_concordance:
        table = Table(title="Script concordance", title_justify="left", box=box.SIMPLE, expand=True)
        table.add_column("Item", ratio=3)
        table.add_column("You", justify="right")
        table.add_column("Engine", justify="right")
        table.add_column("Credit", justify="right")
        for result in grade.script_concordance:
            answered = "—" if result.student is None else f"{result.student:+d}"
            table.add_row(f"{result.question} [{result.rule}]", answered, f"{result.engine:+d}", f"{result.credit:.2f}")
        parts.append(table)
    score = Table(title=f"Score {grade.score:.0f} / 100", title_justify="left", box=box.SIMPLE)
    score.add_column("Part")
    score.add_column("Points", justify="right")
    score.add_column("of", justify="right")
    for part, maximum in grade.maximum.items():
        points = grade.before_penalty.get(part, grade.breakdown.get(part, 0))
        score.add_row(part.replace("_", " "), f"{points:.1f}", f"{maximum:g}")
    penalised = sum(1 for m in grade.misconceptions if m.penalised)
    if grade.misconceptions:
        score.add_row(f"misconceptions ({penalised} × −5)", f"−{grade.misconception_penalty:.1f}", "")
    parts.append(score)
    if grade.misconceptions:
        parts.append(Text("Misconceptions come off the two findings parts, never below 0.", style="dim"))
    return parts


def history_table(attempts: list[Attempt], title: str, width: int = 120) -> RenderableType:
    """Attempts, oldest first: a table where every case id fits whole, else one line per attempt."""
    rows = [
        (
            str(a.id),
            a.started_at[:16].replace("T", " "),
            a.student,
            a.case_id,
            a.status,
            "—" if a.score is None else f"{a.score:.0f}",
        )
        for a in attempts
    ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(6)]
    if sum(max(w, 8) for w in widths) + 2 * 6 + 2 <= width:
        table = Table(title=title, title_justify="left", box=box.SIMPLE)
        for column in ("#", "Started", "Student", "Case", "Status", "Score"):
            table.add_column(column, no_wrap=True)
        for row in rows:
            table.add_row(*row)
        return table
    lines: list[RenderableType] = [Text(title, style="italic")]
    for number, started, student, case_id, status, score in rows:
        lines.append(Text(f"{number:>3}  {started}  {student}  {status}  {score}"))
        lines.append(Padding(Text(case_id, style="dim"), (0, 0, 0, 5)))
    return Group(*lines)
