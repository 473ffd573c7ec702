"""Progress over attempts: per student, per case, and the misconceptions that recur, for tables and CSV."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ddx.display import csv_cell
from ddx.quiz.store import Attempt


@dataclass(frozen=True)
class ProgressRow:
    group: str
    attempts: int
    mean_score: float
    first_score: float
    last_score: float
    scores: tuple[float, ...]

    @property
    def change(self) -> float:
        return self.last_score - self.first_score


def progress(attempts: list[Attempt], key: str) -> list[ProgressRow]:
    """Completed attempts grouped by ``student`` or ``case_id``, oldest first within each group."""
    groups: dict[str, list[float]] = defaultdict(list)
    for attempt in attempts:
        if attempt.status == "complete" and attempt.score is not None:
            groups[getattr(attempt, key)].append(attempt.score)
    return [
        ProgressRow(name, len(scores), sum(scores) / len(scores), scores[0], scores[-1], tuple(scores))
        for name, scores in sorted(groups.items())
    ]


class _SafeWriter:
    """Every CSV ddx writes goes through this: no cell is read as a formula by a spreadsheet (OWASP)."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([csv_cell(cell) for cell in row])


def attempts_csv(attempts: list[Attempt]) -> str:
    buffer = io.StringIO()
    writer = _SafeWriter(csv.writer(buffer))
    parts = sorted({part for a in attempts for part in (a.breakdown or {})})
    writer.writerow(
        ["attempt", "student", "case", "status", "started_at", "finished_at", "score", *parts, "rule_pack_version"]
    )
    for a in attempts:
        breakdown = a.breakdown or {}
        writer.writerow(
            [
                a.id,
                a.student,
                a.case_id,
                a.status,
                a.started_at,
                a.finished_at or "",
                "" if a.score is None else a.score,
                *(breakdown.get(p, "") for p in parts),
                a.rule_pack.get("version", ""),
            ]
        )
    return buffer.getvalue()


SUMMARY_COLUMNS = ("table", "name", "attempts", "mean", "first", "last", "change", "scores", "finding", "times")


def summary_csv(attempts: list[Attempt], misconceptions: list[tuple[str, str, int]]) -> str:
    """What ``ddx quiz report`` shows, as one CSV: per student, per case, then the common misconceptions.

    The ``table`` column says which of the three a row belongs to (``student``, ``case``, ``misconception``);
    for a misconception, ``name`` is the rule and ``finding`` and ``times`` are filled in.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SUMMARY_COLUMNS)
    for key, table in (("student", "student"), ("case_id", "case")):
        for row in progress(attempts, key):
            scores = " ".join(f"{s:.0f}" for s in row.scores)
            numbers = (row.mean_score, row.first_score, row.last_score)
            writer.writerow(
                [table, row.group, row.attempts, *(f"{n:.1f}" for n in numbers), f"{row.change:+.1f}", scores, "", ""]
            )
    for rule_id, finding, count in misconceptions:
        writer.writerow(["misconception", rule_id, "", "", "", "", "", "", finding, count])
    return buffer.getvalue()
