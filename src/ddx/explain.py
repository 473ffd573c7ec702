"""Conclusion → report: every choice explained with the rule, its evidence, its weight and its source.

Three kinds of explanation are built here:

* evidence for and against each diagnosis (rule, triggering findings, LR, rationale, citation);
* why the first diagnosis beats the second: the prior ratio plus each rule's share of the margin;
* which unknown findings could change the top diagnosis: each unknown finding is tried at every value
  that can make a difference to some rule (each enum value, true/false, or each region between the
  numeric thresholds the rules use), re-evaluated with the same compiled rules.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from ddx.case import Case
from ddx.conditions import comparisons
from ddx.evaluate import Conclusion, Evaluator
from ddx.findings import FINDING_SPECS, Findings, FindingSpec
from ddx.oracle import witness
from ddx.ranking import Contribution, RankedDiagnosis
from ddx.report import (
    CodeSet,
    ConditionEvidence,
    EvidenceItem,
    MarginItem,
    RankedEntry,
    Recommendation,
    RedFlag,
    Report,
    RulePackStamp,
    SecondaryEntry,
    TopChange,
    TopComparison,
    UnknownFinding,
)
from ddx.rulepack import (
    Codes,
    ConditionEffect,
    ConditionInfo,
    DiagnosisEffect,
    RecommendationEffect,
    RedFlagEffect,
    Rule,
    RulePack,
)


def build_report(case: Case, evaluator: Evaluator) -> Report:
    pack = evaluator.pack
    conclusion = evaluator.conclude(case.findings)
    facts = conclusion.facts
    labels: dict[str, ConditionInfo] = {c.id: c for c in pack.info.conditions}
    return Report(
        case_id=case.id,
        title=case.title,
        rule_pack=RulePackStamp(name=pack.info.name, version=pack.info.version, digest=pack.digest),
        findings=case.findings.known(),
        ranking=[_ranked_entry(pack, entry, facts) for entry in conclusion.ranking],
        top_comparison=compare_top_two(conclusion.ranking),
        secondary=[
            SecondaryEntry(
                condition=s.condition,
                label=labels[s.condition].label,
                status=s.status,
                codes=_codes(labels[s.condition].codes),
                evidence=[_condition_evidence(pack, rule, effect, facts) for rule, effect in s.rules],
            )
            for s in conclusion.secondary
        ],
        red_flags=[
            _red_flag(pack, rule, effect, facts) for rule, effect in _urgent_first(conclusion.red_flags)
        ],
        recommendations=[
            _recommendation(pack, rule, effect, facts) for rule, effect in conclusion.recommendations
        ],
        unknown_findings=unknown_findings(case.findings, conclusion, evaluator),
        fired_rules=[rule.id for rule in conclusion.fired],
        sources=_sources_in_citation_order(pack, conclusion),
    )


def _sources_in_citation_order(pack: RulePack, conclusion: Conclusion) -> dict[str, str]:
    ordered: list[Rule] = [
        c.rule for entry in conclusion.ranking for c in _strongest_first(entry.contributions)
    ]
    ordered += [rule for s in conclusion.secondary for rule, _ in s.rules]
    ordered = [rule for rule, _ in _urgent_first(conclusion.red_flags)] + ordered
    ordered += [rule for rule, _ in conclusion.recommendations]
    sources: dict[str, str] = {}
    for rule in ordered:
        for key in rule.citations:
            sources.setdefault(key, pack.citation_text((key,)))
    return sources


def _urgent_first(flags: tuple[tuple[Rule, RedFlagEffect], ...]) -> list[tuple[Rule, RedFlagEffect]]:
    return sorted(flags, key=lambda flag: 0 if flag[1].severity == "urgent" else 1)


def _codes(codes: Codes) -> CodeSet:
    return CodeSet(icd10=codes.icd10, icd10_system=codes.icd10_system, snomed_ct=codes.snomed_ct)


def _ranked_entry(pack: RulePack, entry: RankedDiagnosis, facts: Mapping[str, Any]) -> RankedEntry:
    info = pack.diagnoses[entry.diagnosis]
    return RankedEntry(
        diagnosis=entry.diagnosis,
        label=info.label,
        rank=entry.rank,
        probability=round(entry.probability, 6),
        log_odds=round(entry.log_odds, 6),
        prior=info.prior,
        codes=_codes(info.codes),
        evidence=[_evidence_item(pack, c, facts) for c in _strongest_first(entry.contributions)],
    )


def _strongest_first(contributions: tuple[Contribution, ...]) -> list[Contribution]:
    return sorted(contributions, key=lambda c: (c.direction != "for", -abs(c.log_likelihood_ratio)))


def _evidence_item(pack: RulePack, contribution: Contribution, facts: Mapping[str, Any]) -> EvidenceItem:
    rule = contribution.rule
    return EvidenceItem(
        rule=rule.id,
        title=rule.title,
        direction=contribution.direction,
        likelihood_ratio=round(contribution.likelihood_ratio, 6),
        log_likelihood_ratio=round(contribution.log_likelihood_ratio, 6),
        findings=witness(rule.when, facts),
        rationale=rule.rationale,
        citation=pack.citation_text(rule.citations),
        source_keys=list(rule.citations),
    )


def _condition_evidence(
    pack: RulePack, rule: Rule, effect: ConditionEffect, facts: Mapping[str, Any]
) -> ConditionEvidence:
    return ConditionEvidence(
        rule=rule.id,
        title=rule.title,
        status=effect.status,
        findings=witness(rule.when, facts),
        rationale=rule.rationale,
        citation=pack.citation_text(rule.citations),
        source_keys=list(rule.citations),
    )


def _red_flag(pack: RulePack, rule: Rule, effect: RedFlagEffect, facts: Mapping[str, Any]) -> RedFlag:
    return RedFlag(
        rule=rule.id,
        severity=effect.severity,
        message=effect.red_flag,
        findings=witness(rule.when, facts),
        citation=pack.citation_text(rule.citations),
        source_keys=list(rule.citations),
    )


def _recommendation(
    pack: RulePack, rule: Rule, effect: RecommendationEffect, facts: Mapping[str, Any]
) -> Recommendation:
    return Recommendation(
        rule=rule.id,
        category=effect.category,
        text=effect.recommendation,
        findings=witness(rule.when, facts),
        citation=pack.citation_text(rule.citations),
        source_keys=list(rule.citations),
    )


def _margin_item(contribution: Contribution, *, sign: int) -> MarginItem:
    return MarginItem(
        rule=contribution.rule.id,
        diagnosis=contribution.diagnosis,
        direction="for" if contribution.likelihood_ratio > 1 else "against",
        log_contribution=round(sign * contribution.log_likelihood_ratio, 6),
    )


def compare_top_two(ranking: tuple[RankedDiagnosis, ...]) -> TopComparison:
    """Decompose ln(score₁/score₂) into the prior ratio and one term per rule."""
    first, second = ranking[0], ranking[1]
    items = [_margin_item(c, sign=1) for c in first.contributions]
    items += [_margin_item(c, sign=-1) for c in second.contributions]
    items.sort(key=lambda item: (-abs(item.log_contribution), item.rule))
    return TopComparison(
        first=first.diagnosis,
        second=second.diagnosis,
        log_margin=round(first.score - second.score, 6),
        prior_log_ratio=round(math.log(first.prior / second.prior), 6),
        contributions=items,
    )


def candidate_values(spec: FindingSpec, thresholds: list[float]) -> list[Any]:
    """One value from every region the rules can tell apart, in a stable order."""
    if spec.kind == "bool":
        return [True, False]
    if spec.kind == "enum":
        return list(spec.choices)
    points = sorted(set(thresholds))
    if not points:
        return []
    if spec.kind == "int":
        raw: list[float] = [p + d for p in points for d in (-1, 0, 1)]
    else:
        raw = [points[0] - 1, *points, points[-1] + 1]
        raw += [(a + b) / 2 for a, b in itertools.pairwise(points)]
    values: list[Any] = []
    for value in sorted(set(raw)):
        candidate: Any = int(value) if spec.kind == "int" else float(value)
        if spec.accepts(candidate):
            values.append(candidate)
    return values


def _thresholds(pack: RulePack) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for rule in pack.evidence_rules:
        for comparison in comparisons(rule.when):
            if isinstance(comparison.value, int | float) and not isinstance(comparison.value, bool):
                found.setdefault(comparison.finding, []).append(float(comparison.value))
    return found


def unknown_findings(
    findings: Findings, conclusion: Conclusion, evaluator: Evaluator
) -> list[UnknownFinding]:
    pack = evaluator.pack
    read = {
        c.finding
        for rule in pack.evidence_rules
        if rule.effects_of(DiagnosisEffect)
        for c in comparisons(rule.when)
    }
    thresholds = _thresholds(pack)
    known = findings.known()
    top = conclusion.top.diagnosis
    results = []
    for name in findings.unknown_names():
        changes: list[TopChange] = []
        if name in read:
            for value in candidate_values(FINDING_SPECS[name], thresholds.get(name, [])):
                new_top = evaluator.rank({**known, name: value})[0].diagnosis
                if new_top != top:
                    changes.append(TopChange(value=value, top=new_top))
        results.append(
            UnknownFinding(
                finding=name,
                could_change_top=bool(changes),
                read_by_rules=name in read,
                changes_top_when=changes,
            )
        )
    results.sort(key=lambda u: (not u.could_change_top, not u.read_by_rules))
    return results
