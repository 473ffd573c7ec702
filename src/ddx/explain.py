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
from ddx.counterfactuals import tops
from ddx.display import percent
from ddx.evaluate import Conclusion, Evaluator, NotExcluded, SecondaryConclusion
from ddx.findings import Findings
from ddx.oracle import witness
from ddx.ranking import Contribution, RankedDiagnosis
from ddx.report import (
    CodeSet,
    ConditionEvidence,
    EvidenceItem,
    ExtractedFrom,
    Headline,
    MarginItem,
    PriorContextEntry,
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
    prior_context: PriorContextEntry | None


def explain(conclusion: Conclusion, pack: RulePack) -> Explanation:
    parts = _parts(pack)
    facts = conclusion.facts
    ranking = [parts.ranked_entry(entry, facts) for entry in conclusion.ranking]
    secondary = [parts.secondary_entry(secondary, facts) for secondary in conclusion.secondary]
    red_flags = [parts.not_excluded_flag(open_one, conclusion) for open_one in conclusion.not_excluded]
    red_flags += [parts.red_flag(rule, effect, facts) for rule, effect in conclusion.red_flags]
    red_flags.sort(key=lambda flag: 0 if flag.severity == "urgent" else 1)
    recommendations = [parts.recommendation(rule, effect, facts) for rule, effect in conclusion.recommendations]
    context = conclusion.context
    # Sources are numbered in reading order: red flags, evidence, secondary, recommendations, priors.
    citing = (
        *[flag.rule for flag in red_flags],
        *[item.rule for entry in ranking for item in entry.evidence],
        *[item.rule for entry in secondary for item in entry.evidence],
        *[recommendation.rule for recommendation in recommendations],
        *([_context_key(context.id)] if context is not None else []),
    )
    return Explanation(
        ranking=ranking,
        top_comparison=parts.top_comparison(conclusion.ranking),
        secondary=secondary,
        red_flags=red_flags,
        recommendations=recommendations,
        fired_rules=[rule.id for rule in conclusion.fired]
        + [open_one.entry.id for open_one in conclusion.not_excluded],
        sources=parts.sources_cited_by(citing),
        prior_context=None
        if context is None
        else PriorContextEntry(
            id=context.id,
            label=context.label,
            basis=context.basis,
            rationale=" ".join(context.rationale.split()),
            citation=pack.citation_text(context.citations),
            source_keys=list(context.citations),
        ),
    )


def _context_key(context_id: str) -> str:
    return f"prior context {context_id}"


def build_report(case: Case, evaluator: Evaluator) -> Report:
    """Case → conclusion → explanation → the full report, including which unknowns could change the top."""
    pack = evaluator.pack
    conclusion = evaluator.conclude(case.findings)
    explanation = explain(conclusion, pack)
    unknowns = unknown_findings(case.findings, conclusion, evaluator)
    headline, cited = headline_for(conclusion, unknowns, evaluator)
    sources = {**explanation.sources, **{key: pack.citation_text((key,)) for key in cited}}
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
        unknown_findings=unknowns,
        fired_rules=explanation.fired_rules,
        sources=sources,
        prior_context=explanation.prior_context,
        headline=headline,
        extracted_from=_extracted_from(case),
    )


def headline_for(
    conclusion: Conclusion, unknowns: list[UnknownFinding], evaluator: Evaluator
) -> tuple[Headline, tuple[str, ...]]:
    """The leading diagnosis, or *indeterminate* below the pack's threshold with what would decide.

    Returns the headline and the source keys it cites. The deciding findings are the unknown findings whose
    value could change the top diagnosis, else those whose answer would move the differential most.
    """
    pack = evaluator.pack
    top = conclusion.top
    label = pack.diagnoses[top.diagnosis].label
    uncertainty = pack.info.uncertainty
    if uncertainty is None or top.probability >= uncertainty.leading_above:
        return Headline(
            status="leading",
            diagnosis=top.diagnosis,
            probability=round(top.probability, 6),
            text=f"{label} leads ({percent(top.probability, 0)}).",
        ), ()
    deciding = [u.finding for u in unknowns if u.could_change_top][:3]
    if not deciding:
        from ddx.interview import rank_questions

        read = pack.findings_read_for_ranking
        candidates = [u.finding for u in unknowns if u.finding in read]
        scored = rank_questions(conclusion.facts, evaluator, candidates=candidates) if candidates else []
        deciding = [q.finding for q in scored if q.score > 0][:3]
    names = ", ".join(pack.specs[name].title.lower() for name in deciding)
    text = (
        f"Indeterminate: {label} leads at only {percent(top.probability, 0)} "
        f"(below {uncertainty.leading_above:.0%})."
        + (f" What would decide: {names}." if names else "")
        + f" Next step: {' '.join(uncertainty.next_step.split())}"
    )
    return Headline(
        status="indeterminate",
        diagnosis=top.diagnosis,
        probability=round(top.probability, 6),
        text=text,
        deciding_findings=deciding,
        next_step=" ".join(uncertainty.next_step.split()),
        citation=pack.citation_text(uncertainty.citations),
    ), uncertainty.citations


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
        self._citations.update({entry.id: entry.citations for entry in pack.info.must_not_miss})
        self._citations.update({_context_key(c.id): c.citations for c in pack.info.prior_contexts})
        self._source_texts = {key: pack.citation_text((key,)) for key in pack.sources}
        self._conditions: dict[str, ConditionInfo] = {c.id: c for c in pack.info.conditions}

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
            prior=entry.prior,
            codes=self._codes[info.id],
            evidence=[self.evidence_item(c, facts) for c in contributions],
            not_counted=[self.evidence_item(c, facts) for c in entry.not_counted],
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
                basis="convention" if contribution.effect.likelihood_ratio is None else "published",
                group=rule.group,
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

    def not_excluded_flag(self, open_one: NotExcluded, conclusion: Conclusion) -> RedFlag:
        """A must-not-miss diagnosis that the case cannot exclude, naming what keeps it open."""
        entry = open_one.entry
        label = self.pack.diagnoses[entry.diagnosis].label
        ranked = next(r for r in conclusion.ranking if r.diagnosis == entry.diagnosis)
        keeping: dict[str, Any] = {}
        for contribution in ranked.contributions:
            if contribution.direction == "for":
                keeping.update(witness(contribution.rule.when, conclusion.facts))
        specs = self.pack.specs
        named = ", ".join(f"{specs[n].title.lower()} {specs[n].value_label(v)}" for n, v in keeping.items())
        reason = f"kept open by {named}" if named else "nothing known excludes it"
        return RedFlag(
            rule=entry.id,
            severity=entry.severity,
            message=f"{' '.join(entry.message.split())} ({label} {percent(open_one.probability, 0)}; {reason}.)",
            findings=keeping,
            citation=self.pack.citation_text(entry.citations),
            source_keys=list(entry.citations),
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
            prior_log_ratio=round(math.log(first.prior / second.prior), 6),
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
            TopChange(value=value, top=new_top) for value, new_top in tops(known, name, evaluator) if new_top != top
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
