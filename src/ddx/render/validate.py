"""Views of a validation run (the JSON-ready summary of :func:`ddx.validate.summary`): rich tables for the
terminal, Markdown for the README, and a reliability diagram with the confusion matrix (matplotlib, optional)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ddx.display import percent
from ddx.errors import DdxInputError

Summary = dict[str, Any]
PLOT_EXTRA_HINT = "--plot needs matplotlib, the optional extra 'plot': pip install 'ddx[plot]'"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _count(summary: Summary, key: str, cases: list[dict[str, Any]] | None = None) -> int:
    return sum(1 for case in (summary["cases"] if cases is None else cases) if case[key])


def headline_rows(summary: Summary) -> list[tuple[str, ...]]:
    """(figure, value, what to compare it with), in the order a reader wants them."""
    n, m = summary["n"], len(summary["diagnoses"])
    hard = [case for case in summary["cases"] if case["hard"]]
    rows: list[tuple[str, ...]] = [
        ("Cases", str(n), ""),
        ("Top-1 accuracy", f"{_percent(summary['top1'])} ({_count(summary, 'top1')} of {n})", ""),
        ("Top-2 accuracy", f"{_percent(summary['top2'])} ({_count(summary, 'top2')} of {n})", ""),
        (
            "Mean log loss",
            f"{summary['log_loss']:.3f}",
            f"uniform guessing over {m}: {math.log(m):.3f}; lower is better",
        ),
        ("Brier score", f"{summary['brier']:.3f}", f"uniform guessing over {m}: {1 - 1 / m:.3f}; lower is better"),
    ]
    within, outside = summary["within_differential"], summary["outside_differential"]
    if outside["n"]:
        rows += [
            (
                "Outside the differential",
                f"{outside['n']} of {n}",
                f"reference not ranked for the case's findings (its prior context leaves it out); "
                f"urgent red flag on {outside['flagged']}",
            ),
            (
                "Within it: top-1 / top-2",
                f"{_percent(within['top1'])} / {_percent(within['top2'])}",
                f"{within['n']} cases; baseline top-1 {_percent(within['baseline_top1'])}",
            ),
            ("Within it: log loss / Brier", f"{_score(within['log_loss'])} / {_score(within['brier'])}", ""),
        ]
    malignant = ", ".join(summary["malignant_diagnoses"]) or "none marked in the pack"
    unsafe = summary["malignant_unsafe"]
    rows.append(
        (
            f"Malignant ({malignant}) ranked first or urgently flagged",
            f"{summary['malignant_safe']} of {summary['malignant_n']}",
            f"first {summary['malignant_first']}, urgent red flag {summary['malignant_flagged']}"
            + (f"; neither: {', '.join(unsafe)}" if unsafe else ""),
        )
    )
    for diagnosis, row in summary["ranked_under_malignant"].items():
        by_diagnosis = row["by_diagnosis"]
        # With one malignant diagnosis the per-diagnosis count repeats the total.
        each = "".join(f"; under {m}: {k}" for m, k in by_diagnosis.items()) if len(by_diagnosis) > 1 else ""
        rows.append(
            (
                f"{diagnosis} ranked under a malignant diagnosis",
                f"{row['under']} of {row['n']} ({_percent(row['fraction'])})",
                "the benign lesion worked up as a tumour" + each,
            )
        )
    baseline = summary["baseline_top1"]
    if baseline is None:
        rows.append(("Rule-of-thumb baseline, top-1", "—", "the pack has no baseline"))
    else:
        points = (summary["top1"] - baseline) * 100
        rows.append(("Rule-of-thumb baseline, top-1", _percent(baseline), f"engine − baseline: {points:+.0f} points"))
    if hard:
        rows.append(
            (
                "Hard cases, top-1",
                f"{_percent(summary['hard_top1'])} ({_count(summary, 'top1', hard)} of {len(hard)})",
                "",
            )
        )
    fitted = summary["fitted"]
    rows.append(
        ("Fitted to cases", fitted, "nothing to cross-validate" if fitted == "none" else "figures are cross-validated")
    )
    return rows


def per_diagnosis_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [
        (
            d,
            str(row["n"]),
            str(row["correct"]),
            _percent(row["sensitivity"]),
            str(row["predicted"]),
            _percent(row["precision"]),
        )
        for d, row in summary["per_diagnosis"].items()
    ]


PER_DIAGNOSIS_HEADER = ("Diagnosis", "Cases", "Ranked first", "Sensitivity", "Top answer", "Precision")
CALIBRATION_HEADER = ("Predicted", "Probabilities", "Mean predicted", "Observed")
MISSES_HEADER = ("Case", "Reference (p, rank)", "Top answer", "Hard", "Source")


def calibration_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [
        (f"{b['lower']:.0%}–{b['upper']:.0%}", str(b["count"]), f"{b['mean_predicted']:.0%}", f"{b['observed']:.0%}")
        for b in summary["calibration"]["bins"]
        if b["count"]
    ]


def miss_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [
        (
            miss["case_id"],
            f"{miss['reference']} ({percent(miss['reference_probability'], 0)}, "
            f"{miss['reference_rank'] or 'unranked'})",
            f"{miss['top']} ({percent(miss['top_probability'], 0)})",
            miss["hard"] or "",
            miss["source"],
        )
        for miss in summary["misses"]
    ]


def confusion_rows(summary: Summary) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    diagnoses = list(summary["diagnoses"])
    header = ("Reference ↓ / top answer →", *diagnoses)
    rows = [(ref, *(str(summary["confusion"][ref][top]) for top in diagnoses)) for ref in diagnoses]
    return header, rows


# ---- terminal -------------------------------------------------------------------------------------------


def validation_renderables(summary: Summary) -> list[Any]:
    from rich import box
    from rich.table import Table

    def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> Table:
        view = Table(title=title, title_justify="left", box=box.SIMPLE)
        for index, column in enumerate(header):
            view.add_column(column, justify="left" if index == 0 else "right", no_wrap=index == 0)
        for row in rows:
            view.add_row(*row)
        return view

    pack = summary["rule_pack"]
    headline = Table(
        title=f"Validation: {summary['n']} cases, rule pack {pack['name']} {pack['version']}",
        title_justify="left",
        box=box.SIMPLE,
    )
    headline.add_column("Figure")
    headline.add_column("Value", justify="right")
    headline.add_column("Compare with", overflow="fold")
    for row in headline_rows(summary):
        headline.add_row(*row)
    confusion_header, confusion_body = confusion_rows(summary)
    parts: list[Any] = [
        headline,
        table("Per diagnosis", PER_DIAGNOSIS_HEADER, per_diagnosis_rows(summary)),
        table("Confusion", confusion_header, confusion_body),
        table(
            f"Calibration (every probability given; ECE {summary['calibration']['ece']:.3f})",
            CALIBRATION_HEADER,
            calibration_rows(summary),
        ),
    ]
    misses = miss_rows(summary)
    if misses:
        misses_table = Table(title=f"Misses: {len(misses)}", title_justify="left", box=box.SIMPLE, expand=True)
        for column, ratio in zip(MISSES_HEADER, (3, 2, 2, 3, 2), strict=True):
            misses_table.add_column(column, overflow="fold", ratio=ratio)
        for row in misses:
            misses_table.add_row(*row)
        parts.append(misses_table)
    return parts


# ---- Markdown -------------------------------------------------------------------------------------------


def _markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *(line(row) for row in rows), ""]


def validation_markdown(summary: Summary) -> str:
    pack = summary["rule_pack"]
    lines = [
        f"## Validation: {summary['n']} cases (rule pack {pack['name']} {pack['version']}, digest {pack['digest']})",
        "",
        *_markdown_table(("Figure", "Value", "Compare with"), headline_rows(summary)),
        "### Per diagnosis",
        "",
        *_markdown_table(PER_DIAGNOSIS_HEADER, per_diagnosis_rows(summary)),
        "### Confusion",
        "",
        *_markdown_table(*confusion_rows(summary)),
        f"### Calibration (expected calibration error {summary['calibration']['ece']:.3f})",
        "",
        *_markdown_table(CALIBRATION_HEADER, calibration_rows(summary)),
    ]
    misses = miss_rows(summary)
    lines += [f"### Misses ({len(misses)})", ""]
    lines += _markdown_table(MISSES_HEADER, misses) if misses else ["None.", ""]
    return "\n".join(lines)


# ---- plot (matplotlib is an optional extra, imported only here) -------------------------------------------


def require_matplotlib() -> None:
    """Raise a one-line :class:`DdxInputError` naming the extra when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise DdxInputError(PLOT_EXTRA_HINT) from None


def plot_validation(summary: Summary, path: Path) -> None:
    """The reliability diagram and the confusion matrix, side by side, written to ``path`` (format from its
    suffix: .png, .svg, .pdf)."""
    require_matplotlib()
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    figure = Figure(figsize=(11, 5), layout="constrained")
    reliability, matrix = figure.subplots(1, 2)
    bins = [b for b in summary["calibration"]["bins"] if b["count"]]
    reliability.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    reliability.plot(
        [b["mean_predicted"] for b in bins], [b["observed"] for b in bins], marker="o", label="ddx", color="C0"
    )
    for b in bins:
        reliability.annotate(
            str(b["count"]), (b["mean_predicted"], b["observed"]), textcoords="offset points", xytext=(4, -10)
        )
    reliability.set(
        xlim=(-0.03, 1.03),
        ylim=(-0.03, 1.03),
        xlabel="Predicted probability (bin mean)",
        ylabel="Observed frequency",
        title=f"Reliability, {summary['n']} cases (numbers: probabilities per bin)",
        aspect="equal",
    )
    reliability.legend(loc="lower right")
    diagnoses = list(summary["diagnoses"])
    counts = [[summary["confusion"][ref][top] for top in diagnoses] for ref in diagnoses]
    matrix.imshow(counts, cmap="Blues")
    high = max((c for row in counts for c in row), default=0)
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            matrix.text(j, i, str(count), ha="center", va="center", color="white" if count > high / 2 else "black")
    matrix.set_xticks(range(len(diagnoses)), diagnoses, rotation=30, ha="right")
    matrix.set_yticks(range(len(diagnoses)), diagnoses)
    matrix.set(xlabel="Top answer", ylabel="Reference", title=f"Confusion (top-1 {summary['top1']:.0%})")
    try:
        figure.savefig(path, dpi=150)
    except (OSError, ValueError) as error:
        raise DdxInputError(f"cannot write the plot ({error})", source=path) from None
