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
from ddx.evaluate import Conclusion, Evaluator, SecondaryConclusion
from ddx.findings import Findings
from ddx.oracle import witness
from ddx.ranking import Contribution, RankedDiagnosis
from ddx.report import (
    CodeSet,
    ConditionEvidence,
    EvidenceItem,
    ExtractedFrom,
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
    parts = _parts(pack)
    facts = conclusion.facts
    ranking = [parts.ranked_entry(entry, facts) for entry in conclusion.ranking]
    secondary = [parts.secondary_entry(secondary, facts) for secondary in conclusion.secondary]
    red_flags = [parts.red_flag(rule, effect, facts) for rule, effect in _urgent_first(conclusion.red_flags)]
    recommendations = [parts.recommendation(rule, effect, facts) for rule, effect in conclusion.recommendations]
    # Sources are numbered in reading order: red flags, evidence, secondary, recommendations.
    citing_rules = (
        *[flag.rule for flag in red_flags],
        *[item.rule for entry in ranking for item in entry.evidence],
        *[item.rule for entry in secondary for item in entry.evidence],
        *[recommendation.rule for recommendation in recommendations],
    )
    return Explanation(
        ranking=ranking,
        top_comparison=parts.top_comparison(conclusion.ranking),
        secondary=secondary,
        red_flags=red_flags,
        recommendations=recommendations,
        fired_rules=[rule.id for rule in conclusion.fired],
        sources=parts.sources_cited_by(citing_rules),
    )


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
        extracted_from=_extracted_from(case),
    )


def _extracted_from(case: Case) -> dict[str, ExtractedFrom] | None:
    """For a case written by ``ddx extract``: each known finding with the first sentence that states it."""
    if not case.provenance:
        return None
    known = case.findings.known()
    out: dict[str, ExtractedFrom] = {}
    for name, provenance in case.provenance.items():
        if name in known and provenance.mentions:
            first = provenance.mentions[0]
            out[name] = ExtractedFrom(
                value=known[name], text=first.text, sentence=first.sentence, read=first.read, span=first.span
            )
    return out


def _urgent_first(flags: tuple[tuple[Rule, RedFlagEffect], ...]) -> list[tuple[Rule, RedFlagEffect]]:
    return sorted(flags, key=lambda flag: 0 if flag[1].severity == "urgent" else 1)


def _codes(codes: Codes) -> CodeSet:
    return CodeSet(icd10=codes.icd10, icd10_system=codes.icd10_system, snomed_ct=codes.snomed_ct)


_P = TypeVar("_P")
_DISPLAY_ORDER = operator.attrgetter("display_order")


class _ReportParts:
    """One pack's report parts, built once and shared by every explanation.

    A part that depends only on a rule, which of its effects, and the values of the findings the rule
    reads is immutable; a pipeline that explains thousands of cases builds the same few hundred over and
    over, and sharing them halved the cost of an explanation. Per-pack constants (codes, labels, the
    log ratio of two priors) are computed once here too.
    """

    LIMIT = 20_000

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self._items: dict[tuple[Any, ...], Any] = {}
        self._reads = {rule.id: tuple(sorted(rule.when.findings())) for rule in pack.rules}
        self._codes: dict[str, CodeSet] = {d.id: _codes(d.codes) for d in pack.diagnoses.values()}
        self._codes.update({c.id: _codes(c.codes) for c in pack.info.conditions})
        self._margins: dict[tuple[str, str], tuple[MarginItem, MarginItem]] = {}
        self._citations = {rule.id: rule.citations for rule in pack.rules}
        self._source_texts = {key: pack.citation_text((key,)) for key in pack.sources}
        self._conditions: dict[str, ConditionInfo] = {c.id: c for c in pack.info.conditions}
        self._prior_log_ratios = {
            (first, second): round(math.log(one.prior / other.prior), 6)
            for first, one in pack.diagnoses.items()
            for second, other in pack.diagnoses.items()
        }

    def _for_rule(
        self, rule: Rule, effect_key: object, facts: Mapping[str, Any], build: Callable[[dict[str, Any]], _P]
    ) -> _P:
        """The part of one of ``rule``'s effects for these facts, built from the rule's witness once.

        The key is what the part can depend on: the rule, which of its effects, and the values the rule
        reads. Effects are keyed by identity: they live as long as the pack that owns this memo.
        """
        key = (rule.id, effect_key, *map(facts.get, self._reads[rule.id]))
        part: _P | None = self._items.get(key)
        if part is None:
            if len(self._items) > self.LIMIT:
                self._items.clear()
            part = self._items[key] = build(witness(rule.when, facts))
        return part

    def _attribution(self, rule: Rule, found: dict[str, Any]) -> dict[str, Any]:
        """What every part a rule makes carries: the rule, the findings that made it fire, its sources."""
        return {
            "rule": rule.id,
            "findings": found,
            "citation": self.pack.citation_text(rule.citations),
            "source_keys": list(rule.citations),
        }

    def ranked_entry(self, entry: RankedDiagnosis, facts: Mapping[str, Any]) -> RankedEntry:
        info = self.pack.diagnoses[entry.diagnosis]
        contributions = entry.contributions
        if len(contributions) > 1:
            contributions = tuple(sorted(contributions, key=_DISPLAY_ORDER))
        return RankedEntry(
            diagnosis=entry.diagnosis,
            label=info.label,
            rank=entry.rank,
            probability=round(entry.probability, 6),
            log_odds=round(entry.log_odds, 6),
            prior=info.prior,
            codes=self._codes[info.id],
            evidence=[self.evidence_item(c, facts) for c in contributions],
        )

    def evidence_item(self, contribution: Contribution, facts: Mapping[str, Any]) -> EvidenceItem:
        rule = contribution.rule
        return self._for_rule(
            rule,
            contribution.diagnosis,
            facts,
            lambda found: EvidenceItem(
                **self._attribution(rule, found),
                title=rule.title,
                direction=contribution.direction,
                likelihood_ratio=round(contribution.likelihood_ratio, 6),
                log_likelihood_ratio=round(contribution.log_likelihood_ratio, 6),
                rationale=rule.rationale,
            ),
        )

    def secondary_entry(self, secondary: SecondaryConclusion, facts: Mapping[str, Any]) -> SecondaryEntry:
        info = self._conditions[secondary.condition]
        return SecondaryEntry(
            condition=secondary.condition,
            label=info.label,
            status=secondary.status,
            codes=self._codes[info.id],
            evidence=[self.condition_evidence(rule, effect, facts) for rule, effect in secondary.rules],
        )

    def condition_evidence(self, rule: Rule, effect: ConditionEffect, facts: Mapping[str, Any]) -> ConditionEvidence:
        return self._for_rule(
            rule,
            id(effect),
            facts,
            lambda found: ConditionEvidence(
                **self._attribution(rule, found),
                title=rule.title,
                status=effect.status,
                rationale=rule.rationale,
            ),
        )

    def red_flag(self, rule: Rule, effect: RedFlagEffect, facts: Mapping[str, Any]) -> RedFlag:
        return self._for_rule(
            rule,
            id(effect),
            facts,
            lambda found: RedFlag(
                **self._attribution(rule, found),
                severity=effect.severity,
                message=effect.red_flag,
            ),
        )

    def recommendation(self, rule: Rule, effect: RecommendationEffect, facts: Mapping[str, Any]) -> Recommendation:
        return self._for_rule(
            rule,
            id(effect),
            facts,
            lambda found: Recommendation(
                **self._attribution(rule, found),
                category=effect.category,
                text=effect.recommendation,
            ),
        )

    def _margin_items(self, contribution: Contribution) -> tuple[MarginItem, MarginItem]:
        """The contribution's share of ln(first/second) when its diagnosis is first, and when second."""
        items = self._margins.get((contribution.rule.id, contribution.diagnosis))
        if items is None:
            items = self._margins[contribution.rule.id, contribution.diagnosis] = (
                _margin_item(contribution, sign=1),
                _margin_item(contribution, sign=-1),
            )
        return items

    def top_comparison(self, ranking: tuple[RankedDiagnosis, ...]) -> TopComparison:
        """Decompose ln(score₁/score₂) into the prior ratio and one term per rule."""
        first, second = ranking[0], ranking[1]
        items = [self._margin_items(c)[0] for c in first.contributions]
        items += [self._margin_items(c)[1] for c in second.contributions]
        items.sort(key=_margin_order)
        return TopComparison(
            first=first.diagnosis,
            second=second.diagnosis,
            log_margin=round(first.score - second.score, 6),
            prior_log_ratio=self._prior_log_ratios[first.diagnosis, second.diagnosis],
            contributions=items,
        )

    def sources_cited_by(self, rule_ids: tuple[str, ...]) -> dict[str, str]:
        """Every source the rules cite, by key, in order of first citation."""
        citations, texts = self._citations, self._source_texts
        keys = dict.fromkeys(itertools.chain.from_iterable(map(citations.__getitem__, rule_ids)))
        return {key: texts[key] for key in keys}


def _margin_item(contribution: Contribution, *, sign: int) -> MarginItem:
    return MarginItem(
        rule=contribution.rule.id,
        diagnosis=contribution.diagnosis,
        direction="for" if contribution.likelihood_ratio > 1 else "against",
        log_contribution=round(sign * contribution.log_likelihood_ratio, 6),
    )


def _margin_order(item: MarginItem) -> tuple[float, str]:
    """Largest share of the margin first; equal shares by rule id."""
    return (-abs(item.log_contribution), item.rule)


def _parts(pack: RulePack) -> _ReportParts:
    parts: _ReportParts | None = pack.derived.get("report parts")
    if parts is None:
        parts = pack.derived["report parts"] = _ReportParts(pack)
    return parts


def unknown_findings(findings: Findings, conclusion: Conclusion, evaluator: Evaluator) -> list[UnknownFinding]:
    """Every unknown finding; those whose value could change the top diagnosis first, with the values."""
    read = evaluator.pack.findings_read_for_ranking
    known = findings.known()
    top = conclusion.top.diagnosis
    results = []
    for name in (name for name in evaluator.pack.specs if name not in known):
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
