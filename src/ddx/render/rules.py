"""Rule-author views: the pack as a table, one rule as a ruff-style document, the generated docs/rules.md."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ddx.findings import FindingSpec
from ddx.render import format_findings
from ddx.rulepack import (
    ConditionEffect,
    DiagnosisEffect,
    RecommendationEffect,
    RedFlagEffect,
    Rule,
    RulePack,
)


def effect_text(pack: RulePack, effect: object) -> str:
    if isinstance(effect, DiagnosisEffect):
        weight = effect.strength or "published"
        label = pack.diagnoses[effect.diagnosis].label
        return f"{effect.direction} {label} ({weight}, LR {pack.likelihood_ratio(effect):.3g})"
    if isinstance(effect, ConditionEffect):
        return f"{effect.condition.replace('_', ' ')}: {effect.status}"
    if isinstance(effect, RedFlagEffect):
        return f"{effect.severity} red flag"
    if isinstance(effect, RecommendationEffect):
        return f"recommendation ({effect.category})"
    raise TypeError(effect)


def _relative(path: str, pack: RulePack) -> str:
    from pathlib import Path

    try:
        return str(Path(path).relative_to(Path(pack.directory).parent))
    except ValueError:
        return path


def rules_table(pack: RulePack, width: int = 160) -> RenderableType:
    """The pack: a table where ids, file:line and every word of a condition fit whole, else one block per rule."""
    title = f"{pack.info.name} {pack.info.version}: {len(pack.rules)} rules"
    rows = [
        (
            rule.id,
            "; ".join(effect_text(pack, e) for e in rule.effects),
            rule.when.to_text(),
            f"{_relative(rule.file, pack)}:{rule.line}",
        )
        for rule in pack.rules
    ]
    widest = [max((len(row[i]) for row in rows), default=4) for i in (0, 3)]
    word = max((len(w) for row in rows for w in row[2].split()), default=10)
    if widest[0] + widest[1] + 30 + max(word, 40) + 8 <= width:
        table = Table(title=title, title_justify="left", box=box.SIMPLE, expand=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Effects", ratio=2, min_width=24)
        table.add_column("When", ratio=3, min_width=max(word, 40))
        table.add_column("File", no_wrap=True, style="dim")
        for row in rows:
            table.add_row(*row)
        return table
    lines: list[RenderableType] = [Text(title, style="italic")]
    for rule_id, effects, when, location in rows:
        lines.append(Text.assemble((rule_id, "bold"), "  ", (location, "dim")))
        lines.append(Padding(Group(Text(effects), Text("when " + when)), (0, 0, 1, 4)))
    return Group(*lines)


STATUS_MEANING = {
    "draft": "draft (no review recorded for this rule: draft is the default of maintenance.validated)",
    "reviewed": "reviewed (a review is recorded in the rule's maintenance.validated)",
    "validated": "validated (recorded as validated in the rule's maintenance.validated)",
}


def rule_markdown(
    pack: RulePack, rule: Rule, cases: list[str] | None = None, *, heading: str = "##", explain_status: bool = False
) -> str:
    """One rule as a document: what it does, why, authoring notes, examples, (cases,) references.

    ``explain_status`` says what the review status means (``rules show``); docs/rules.md keeps the short form.
    """
    sub = heading + "#"
    lines = [f"{heading} {rule.id}: {rule.title}", ""]
    location = f"{_relative(rule.file, pack)}:{rule.line}"
    status = STATUS_MEANING[rule.maintenance.validated] if explain_status else rule.maintenance.validated
    stamp = f"`{location}` · stage: {rule.stage} · status: {status}"
    fires = f"Fires when **{rule.when.to_text()}**"
    if rule.unless is not None:
        fires += f", unless **{rule.unless.to_text()}** is known"
    lines += [stamp, "", f"{sub} What it does", "", fires + ".", ""]
    if rule.group is not None:
        lines += [
            f"Group `{rule.group}`: with the other rules of the group, only the strongest effect on a diagnosis"
            " counts (one fact counts once).",
            "",
        ]
    for effect in rule.effects:
        lines.append(f"- {effect_text(pack, effect)}")
        if isinstance(effect, RedFlagEffect):
            lines.append(f"  — {' '.join(effect.red_flag.split())}")
        if isinstance(effect, RecommendationEffect):
            lines.append(f"  — {' '.join(effect.recommendation.split())}")
    lines += ["", f"{sub} Why", "", " ".join(rule.rationale.split()), ""]
    if rule.notes:
        lines += [f"{sub} Notes for rule authors", "", " ".join(rule.notes.split()), ""]
    lines += [f"{sub} Examples", ""]
    lines += [f"- fires: `{format_findings(example) or '(no findings)'}`" for example in rule.examples.fires]
    lines += [
        f"- does not fire: `{format_findings(example) or '(no findings)'}`" for example in rule.examples.does_not_fire
    ]
    if cases is not None:
        lines += ["", f"{sub} Curated cases it fires on", ""]
        lines += [f"- {case}" for case in cases] or ["- none (no curated case exercises this rule)"]
    lines += ["", f"{sub} References", ""]
    lines += [f"{i}. {pack.citation_text((key,))}" for i, key in enumerate(rule.citations, start=1)]
    return "\n".join(lines) + "\n"


def pack_markdown(pack: RulePack) -> str:
    """docs/rules.md, generated from the rule files so it is never written twice."""
    scale = pack.info.strength_scale
    lines = [
        f"# Rules of {pack.info.name} {pack.info.version}",
        "",
        "<!-- Generated by `ddx rules docs > docs/rules.md`; edit rules/*.yaml, not this file. -->",
        "",
        f"{len(pack.rules)} rules. Strengths map to likelihood ratios: strong {scale.strong:g}, moderate "
        f"{scale.moderate:g}, weak {scale.weak:g} (evidence against: the reciprocal). "
        + " ".join(scale.rationale.split()),
        "",
        "| Diagnosis | Malignant | Codes |",
        "|---|---|---|",
    ]
    for info in pack.diagnoses.values():
        code = f"{info.codes.icd10_system} {info.codes.icd10}" if info.codes.icd10 else "—"
        lines.append(f"| {info.label} (`{info.id}`) | {'yes' if info.malignant else 'no'} | {code} |")
    ids = pack.diagnosis_ids
    lines += [
        "",
        "Priors by context (the first whose condition is known true applies; a blank cell is not ranked):",
        "",
    ]
    lines += ["| Context | When | " + " | ".join(ids) + " | Basis |", "|---|---|" + "---:|" * len(ids) + "---|"]
    for context in pack.info.prior_contexts:
        cells = [f"{context.probabilities[d]:g}" if d in context.probabilities else "" for d in ids]
        when = context.when.to_text() if context.when is not None else "(default)"
        lines.append(f"| {context.label} | {when} | " + " | ".join(cells) + f" | {context.basis} |")
    for entry in pack.info.must_not_miss:
        unless = f" unless {entry.unless.to_text()}" if entry.unless is not None else ""
        lines += [
            "",
            f"Must-not-miss `{entry.id}`: {entry.diagnosis} at {entry.above:.0%} or more{unless} "
            f"→ {entry.severity} red flag. {' '.join(entry.rationale.split())}",
        ]
    if pack.info.uncertainty is not None:
        lines += [
            "",
            f"Indeterminate below {pack.info.uncertainty.leading_above:.0%}: "
            + " ".join(pack.info.uncertainty.rationale.split()),
        ]
    lines += ["", "| Rule | Effects | When |", "|---|---|---|"]
    for rule in pack.rules:
        effects = "; ".join(effect_text(pack, e) for e in rule.effects)
        lines.append(f"| [`{rule.id}`](#{rule.id.lower()}) | {effects} | {rule.when.to_text()} |")
    lines.append("")
    for rule in pack.rules:
        lines += [f'<a id="{rule.id.lower()}"></a>', "", rule_markdown(pack, rule)]
    lines.append(vocabulary_markdown(pack))
    return "\n".join(lines)


def _kind_text(spec: FindingSpec) -> str:
    from ddx.vocabulary import type_name

    kind = type_name(spec.kind)
    if spec.kind in ("int", "number"):
        bounds = spec.describe_allowed().split(" ", 2)[2:]  # "an integer ≥ 0 and ≤ 120" → "≥ 0 and ≤ 120"
        return ", ".join(part for part in (kind, spec.unit or "", *bounds) if part)
    return kind


def finding_markdown(pack: RulePack, spec: FindingSpec, *, heading: str = "####") -> str:
    """One finding as the vocabulary states it: type, range, values and their meanings, who reads it."""
    readers = pack.finding_readers.get(spec.name, ())
    section = pack.vocabulary.sections.get(spec.section, spec.section)
    lines = [f"{heading} `{spec.name}`: {spec.title}", "", spec.meaning or spec.description, ""]
    lines.append(f"- type: {_kind_text(spec)} · section: {section}")
    lines.append(f"- asked: “{' '.join(spec.description.split())}”")
    if spec.synonyms:
        lines.append(f"- also called: {', '.join(spec.synonyms)}")
    if spec.applies_when is not None:
        lines.append(f"- applies when: {spec.applies_when.to_text()}")
    if readers:
        lines.append(f"- read by: {', '.join(readers)}")
    else:
        lines.append(f"- read by no rule: {spec.not_read_because or 'no reason given (ddx rules lint reports it)'}")
    if spec.values:
        lines += ["", "| Value | Label | Meaning | Also written |", "|---|---|---|---|"]
        for value in spec.values:
            words = ", ".join(value.synonyms) or "—"
            lines.append(f"| `{value.id}` | {value.label or value.id} | {' '.join(value.meaning.split())} | {words} |")
    return "\n".join(lines) + "\n"


def vocabulary_markdown(pack: RulePack, names: list[str] | None = None) -> str:
    """The pack's finding vocabulary by section (``findings.yaml``), and the derived facts advice may read."""
    vocabulary = pack.vocabulary
    chosen = [pack.specs[name] for name in names] if names else list(pack.specs.values())
    lines = ["## Vocabulary", ""]
    if not names:
        lines += [
            f"{len(pack.specs)} findings in {len(vocabulary.sections)} sections, from `findings.yaml` "
            "(edit it, then run `ddx rules lint`). A finding a case leaves out is unknown, never false.",
            "",
        ]
    for section, label in vocabulary.sections.items():
        members = [spec for spec in chosen if spec.section == section]
        if members:
            lines += [f"### {label}", ""]
            lines += [finding_markdown(pack, spec) for spec in members]
    if not names:
        lines += ["### Derived facts (recommendation rules only)", ""]
        for name, spec in pack.derived_specs.items():
            values = f" ({', '.join(spec.choices)})" if spec.choices else " (true or false)"
            readers = pack.finding_readers.get(name, ())
            read = f" Read by: {', '.join(readers)}." if readers else ""
            lines.append(f"- `{name}`{values}: {spec.meaning or 'no meaning given in findings.yaml'}{read}")
        lines.append("")
    return "\n".join(lines)
