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
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

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


@dataclass(frozen=True)
class Explanation:
    """Every choice of one conclusion, explained: the report's content except the what-if search."""

    ranking: list[RankedEntry]
    top_comparison: TopComparison
    secondary: list[SecondaryEntry]
    red_flags: list[RedFlag]
    recommendations: list[Recommendation]
    fired_rules: list[str]
    sources: dict[str, str]


def explain(conclusion: Conclusion, pack: RulePack) -> Explanation:
    facts = conclusion.facts
    labels: dict[str, ConditionInfo] = {c.id: c for c in pack.info.conditions}
    explanation = Explanation(
        ranking=[_ranked_entry(pack, entry, facts) for entry in conclusion.ranking],
        top_comparison=compare_top_two(conclusion.ranking, pack),
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
        red_flags=[_red_flag(pack, rule, effect, facts) for rule, effect in _urgent_first(conclusion.red_flags)],
        recommendations=[_recommendation(pack, rule, effect, facts) for rule, effect in conclusion.recommendations],
        fired_rules=[rule.id for rule in conclusion.fired],
        sources={},
    )
    explanation.sources.update(_sources_in_citation_order(pack, explanation))
    return explanation


def build_report(case: Case, evaluator: Evaluator) -> Report:
    """Case → conclusion → explanation → the full report, including which unknowns could change the top."""
    pack = evaluator.pack
    conclusion = evaluator.conclude(case.findings)
    explanation = explain(conclusion, pack)
    return Report(
        case_id=case.id,
        title=case.title,
        rule_pack=RulePackStamp(name=pack.info.name, version=pack.info.version, digest=pack.digest),
        findings=case.findings.known(),
        ranking=explanation.ranking,
        top_comparison=explanation.top_comparison,
        secondary=explanation.secondary,
        red_flags=explanation.red_flags,
        recommendations=explanation.recommendations,
        unknown_findings=unknown_findings(case.findings, conclusion, evaluator),
        fired_rules=explanation.fired_rules,
        sources=explanation.sources,
    )


def _sources_in_citation_order(pack: RulePack, explanation: Explanation) -> dict[str, str]:
    """Every cited source, numbered in reading order: red flags, evidence, secondary, recommendations."""
    groups = itertools.chain(
        (flag.source_keys for flag in explanation.red_flags),
        (item.source_keys for entry in explanation.ranking for item in entry.evidence),
        (item.source_keys for secondary in explanation.secondary for item in secondary.evidence),
        (rec.source_keys for rec in explanation.recommendations),
    )
    ordered = tuple(dict.fromkeys(itertools.chain.from_iterable(groups)))
    cited = _parts(pack).get(("sources", *ordered), lambda: {k: pack.citation_text((k,)) for k in ordered})
    return dict(cited)


def _urgent_first(flags: tuple[tuple[Rule, RedFlagEffect], ...]) -> list[tuple[Rule, RedFlagEffect]]:
    return sorted(flags, key=lambda flag: 0 if flag[1].severity == "urgent" else 1)


def _codes(codes: Codes) -> CodeSet:
    return CodeSet(icd10=codes.icd10, icd10_system=codes.icd10_system, snomed_ct=codes.snomed_ct)


def _shared_codes(pack: RulePack, owner: str, codes: Codes) -> CodeSet:
    return _parts(pack).get(("codes", owner), lambda: _codes(codes))


def _ranked_entry(pack: RulePack, entry: RankedDiagnosis, facts: Mapping[str, Any]) -> RankedEntry:
    info = pack.diagnoses[entry.diagnosis]
    return RankedEntry(
        diagnosis=entry.diagnosis,
        label=info.label,
        rank=entry.rank,
        probability=round(entry.probability, 6),
        log_odds=round(entry.log_odds, 6),
        prior=info.prior,
        codes=_shared_codes(pack, info.id, info.codes),
        evidence=[_evidence_item(pack, c, facts) for c in _strongest_first(entry.contributions)],
    )


def _strongest_first(contributions: tuple[Contribution, ...]) -> list[Contribution]:
    return sorted(contributions, key=_DISPLAY_ORDER) if len(contributions) > 1 else list(contributions)


_DISPLAY_ORDER = operator.attrgetter("display_order")


class _Parts:
    """Report parts that depend only on a rule and the findings that fired it, built once and shared.

    The parts are immutable, and a pipeline that explains thousands of cases builds the same few hundred
    over and over; sharing them halved the cost of an explanation.
    """

    LIMIT = 20_000

    def __init__(self, pack: RulePack) -> None:
        self.items: dict[tuple[Any, ...], Any] = {}
        self.reads = {rule.id: tuple(sorted(rule.when.findings())) for rule in pack.rules}

    def get(self, key: tuple[Any, ...], build: Callable[[], _P]) -> _P:
        item = self.items.get(key)
        if item is None:
            if len(self.items) > self.LIMIT:
                self.items.clear()
            item = self.items[key] = build()
        return item


_P = TypeVar("_P")


def _parts(pack: RulePack) -> _Parts:
    parts: _Parts | None = pack.derived.get("report parts")
    if parts is None:
        parts = pack.derived["report parts"] = _Parts(pack)
    return parts


def _reads(parts: _Parts, rule: Rule, facts: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values of the findings a rule reads: all its report part can depend on."""
    return tuple(map(facts.get, parts.reads[rule.id]))


def _shared_part(
    pack: RulePack, rule: Rule, effect_key: object, facts: Mapping[str, Any], build: Callable[[dict[str, Any]], _P]
) -> _P:
    """The report part of ``rule``'s effect for these facts, built from the rule's witness once and shared.

    The key is what the part can depend on: the rule, which of its effects, and the values the rule reads.
    """
    parts = _parts(pack)
    key = (rule.id, effect_key, *_reads(parts, rule, facts))
    return parts.get(key, lambda: build(witness(rule.when, facts)))


def _evidence_item(pack: RulePack, contribution: Contribution, facts: Mapping[str, Any]) -> EvidenceItem:
    rule = contribution.rule
    return _shared_part(
        pack,
        rule,
        contribution.diagnosis,
        facts,
        lambda found: EvidenceItem(
            rule=rule.id,
            title=rule.title,
            direction=contribution.direction,
            likelihood_ratio=round(contribution.likelihood_ratio, 6),
            log_likelihood_ratio=round(contribution.log_likelihood_ratio, 6),
            findings=found,
            rationale=rule.rationale,
            citation=pack.citation_text(rule.citations),
            source_keys=list(rule.citations),
        ),
    )


def _condition_evidence(
    pack: RulePack, rule: Rule, effect: ConditionEffect, facts: Mapping[str, Any]
) -> ConditionEvidence:
    return _shared_part(
        pack,
        rule,
        effect,
        facts,
        lambda found: ConditionEvidence(
            rule=rule.id,
            title=rule.title,
            status=effect.status,
            findings=found,
            rationale=rule.rationale,
            citation=pack.citation_text(rule.citations),
            source_keys=list(rule.citations),
        ),
    )


def _red_flag(pack: RulePack, rule: Rule, effect: RedFlagEffect, facts: Mapping[str, Any]) -> RedFlag:
    return _shared_part(
        pack,
        rule,
        effect,
        facts,
        lambda found: RedFlag(
            rule=rule.id,
            severity=effect.severity,
            message=effect.red_flag,
            findings=found,
            citation=pack.citation_text(rule.citations),
            source_keys=list(rule.citations),
        ),
    )


def _recommendation(
    pack: RulePack, rule: Rule, effect: RecommendationEffect, facts: Mapping[str, Any]
) -> Recommendation:
    return _shared_part(
        pack,
        rule,
        effect,
        facts,
        lambda found: Recommendation(
            rule=rule.id,
            category=effect.category,
            text=effect.recommendation,
            findings=found,
            citation=pack.citation_text(rule.citations),
            source_keys=list(rule.citations),
        ),
    )


def _margin_item(contribution: Contribution, *, sign: int) -> MarginItem:
    return MarginItem(
        rule=contribution.rule.id,
        diagnosis=contribution.diagnosis,
        direction="for" if contribution.likelihood_ratio > 1 else "against",
        log_contribution=round(sign * contribution.log_likelihood_ratio, 6),
    )


def compare_top_two(ranking: tuple[RankedDiagnosis, ...], pack: RulePack) -> TopComparison:
    """Decompose ln(score₁/score₂) into the prior ratio and one term per rule."""
    first, second = ranking[0], ranking[1]
    parts = _parts(pack)

    def margin_item(contribution: Contribution, sign: int) -> MarginItem:
        key = ("margin", contribution.rule.id, contribution.diagnosis, sign)
        return parts.get(key, lambda: _margin_item(contribution, sign=sign))

    items = [margin_item(c, 1) for c in first.contributions]
    items += [margin_item(c, -1) for c in second.contributions]
    items.sort(key=lambda item: (-abs(item.log_contribution), item.rule))
    return TopComparison(
        first=first.diagnosis,
        second=second.diagnosis,
        log_margin=round(first.score - second.score, 6),
        prior_log_ratio=round(math.log(first.prior / second.prior), 6),
        contributions=items,
    )


def unknown_findings(findings: Findings, conclusion: Conclusion, evaluator: Evaluator) -> list[UnknownFinding]:
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
