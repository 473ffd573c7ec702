"""Conclusion → report: every choice explained with the rule, its evidence, its weight and its source.

Three kinds of explanation are built here:

* evidence for and against each diagnosis (rule, triggering findings, LR, rationale, citation);
* why the first diagnosis beats the second: the prior ratio plus each rule's share of the margin;
* which unknown findings could change the top diagnosis: each unknown finding is tried at every value
  that can make a difference to some rule (each enum value, true/false, or each region between the
  numeric thresholds the rules use), re-evaluated with the same compiled rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ddx.case import Case
from ddx.counterfactuals import what_ifs
from ddx.evaluate import Conclusion, Evaluator
from ddx.findings import Findings
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


def unknown_findings(
    findings: Findings, conclusion: Conclusion, evaluator: Evaluator
) -> list[UnknownFinding]:
    """Every unknown finding; those whose value could change the top diagnosis first, with the values."""
    read = evaluator.pack.findings_read_for_ranking
    known = findings.known()
    top = conclusion.top.diagnosis
    results = []
    for name in findings.unknown_names():
        changes = [
            TopChange(value=what_if.value, top=what_if.top)
            for what_if in what_ifs(known, name, evaluator)
            if what_if.top != top
        ]
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
