"""Renderers: one report, three faces (rich text, Markdown, JSON straight from the model)."""

from __future__ import annotations

from typing import Any, Literal

from ddx.display import percent as percent  # reports import it with the other render helpers
from ddx.findings import display_value
from ddx.report import Report

Format = Literal["text", "markdown", "json"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "json")


def format_findings(findings: dict[str, Any]) -> str:
    return ", ".join(f"{name}={display_value(value)}" for name, value in findings.items())


def source_numbers(report: Report) -> dict[str, int]:
    """Footnote numbers for the report's sources, in order of first citation."""
    return {key: number for number, key in enumerate(report.sources, start=1)}


def cite(keys: list[str], numbers: dict[str, int]) -> str:
    return "".join(f"[{numbers[k]}]" for k in keys)


def render(report: Report, output_format: Format, *, color: bool | None = None, width: int | None = None) -> str:
    if output_format == "json":
        return report.to_json()
    if output_format == "markdown":
        from ddx.display import printable
        from ddx.render.markdown import render_markdown

        return printable(render_markdown(report))
    from ddx.render.text import render_text

    return render_text(report, color=color, width=width)


CONVENTION_MARK = "†"
CONVENTION_NOTE = (
    "† by convention: a qualitative strength on the pack's scale, where no likelihood ratio is published; "
    "other ratios are derived from published figures."
)


def likelihood_ratio_text(likelihood_ratio: float, basis: str) -> str:
    """An LR as shown beside its rule, marked when it is a convention rather than a published figure."""
    mark = CONVENTION_MARK if basis == "convention" else ""
    return f"{likelihood_ratio:.3g}{mark}"
