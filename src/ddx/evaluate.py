"""Findings + compiled rules → fired evidence → conclusion (ranking, secondary condition, flags, advice).

Evaluation runs in two stages on durable-rules. Evidence rules read the findings. Management rules
read the findings plus the derived facts known only after ranking (``top_diagnosis``, each secondary
condition's status under its id, ``urgent_red_flag``), so advice can depend on the conclusion without
any Python knowing what the advice is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ddx.engine import CompiledRuleset
from ddx.findings import Findings
from ddx.oracle import predicate
from ddx.ranking import RankedDiagnosis, rank
from ddx.rulepack import (
    CATEGORY_ORDER,
    TOP_DIAGNOSIS,
    URGENT_RED_FLAG,
    ConditionEffect,
    EffectT,
    MustNotMiss,
    PriorContext,
    RecommendationEffect,
    RedFlagEffect,
    Rule,
    RulePack,
)

ConditionStatus = Literal["present", "absent", "indeterminate"]
_TIE = 1e-9


@dataclass(frozen=True)
class SecondaryConclusion:
    condition: str
    status: ConditionStatus
    rules: tuple[tuple[Rule, ConditionEffect], ...]


@dataclass(frozen=True)
class NotExcluded:
    """A must-not-miss diagnosis that this case cannot exclude, with its probability."""

    entry: MustNotMiss
    probability: float


@dataclass(frozen=True)
class Conclusion:
    facts: Mapping[str, Any]
    fired: tuple[Rule, ...]
    ranking: tuple[RankedDiagnosis, ...]
    secondary: tuple[SecondaryConclusion, ...]
    red_flags: tuple[tuple[Rule, RedFlagEffect], ...]
    recommendations: tuple[tuple[Rule, RecommendationEffect], ...]
    context: PriorContext | None = None
    not_excluded: tuple[NotExcluded, ...] = ()

    @property
    def top(self) -> RankedDiagnosis:
        return self.ranking[0]


def resolve_status(effects: tuple[tuple[Rule, ConditionEffect], ...]) -> ConditionStatus:
    """One status when the fired rules agree; indeterminate when none fired or they conflict."""
    statuses = {effect.status for _, effect in effects}
    if len(statuses) == 1:
        return statuses.pop()
    return "indeterminate"


class Evaluator:
    """A rule pack compiled once; evaluates any number of cases. Reuse one per process."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self._evidence = CompiledRuleset([(r.id, r.when) for r in pack.evidence_rules])
        self._management = CompiledRuleset([(r.id, r.when) for r in pack.management_rules])
        # The management stage is sent only what its rules read: a smaller fact is a faster assert.
        self._management_inputs = tuple(sorted({n for r in pack.management_rules for n in r.reads}))
        # What each rule contributes beyond ranking, looked up per fired rule rather than searched per case.
        self._red_flags = _effects_by_rule(pack.evidence_rules, RedFlagEffect)
        self._condition_effects = _effects_by_rule(pack.evidence_rules, ConditionEffect)
        self._advice = _effects_by_rule(pack.management_rules, RecommendationEffect)

    def fire_evidence(self, facts: Mapping[str, Any]) -> tuple[Rule, ...]:
        return self._without_exceptions(self._evidence.evaluate(facts), facts)

    def fire_management(self, facts: Mapping[str, Any]) -> tuple[Rule, ...]:
        """Management rules on findings plus derived facts (used by rule examples and the conclusion)."""
        return self._without_exceptions(self._management.evaluate(facts), facts)

    def _without_exceptions(self, fired_ids: Iterable[str], facts: Mapping[str, Any]) -> tuple[Rule, ...]:
        """The rules durable-rules fired, less those whose ``unless`` is known to hold for these facts."""
        rules = map(self.pack.by_id.__getitem__, fired_ids)
        return tuple(rule for rule in rules if rule.unless is None or predicate(rule.unless)(facts) is not True)

    def fire(self, rule: Rule, facts: Mapping[str, Any]) -> bool:
        """Whether ``rule`` fires on ``facts`` when evaluated with the rest of its stage on durable-rules."""
        stage = self.fire_management(facts) if rule.stage == "management" else self.fire_evidence(facts)
        return rule in stage

    def rank(self, facts: Mapping[str, Any]) -> tuple[RankedDiagnosis, ...]:
        return rank(self.pack, self.fire_evidence(facts), self.pack.prior_context(facts))

    def conclude(self, findings: Findings | Mapping[str, Any]) -> Conclusion:
        facts = findings.known() if isinstance(findings, Findings) else dict(findings)
        fired = self.fire_evidence(facts)
        context = self.pack.prior_context(facts)
        ranking = rank(self.pack, fired, context)
        condition_effects = [pair for rule in fired for pair in self._condition_effects[rule.id]]
        secondary = tuple(
            SecondaryConclusion(
                condition.id,
                resolve_status(rules := tuple(pair for pair in condition_effects if pair[1].condition == condition.id)),
                rules,
            )
            for condition in self.pack.info.conditions
        )
        red_flags = tuple(pair for rule in fired for pair in self._red_flags[rule.id])
        not_excluded = self._not_excluded(ranking, facts)
        derived: dict[str, Any] = {
            URGENT_RED_FLAG: any(effect.severity == "urgent" for _, effect in red_flags)
            or any(open_one.entry.severity == "urgent" for open_one in not_excluded),
            **{s.condition: s.status for s in secondary},
        }
        if ranking[0].score - ranking[1].score > _TIE:
            # A tied first place is broken only by the fixed order, which is no reason to act on it:
            # the top diagnosis is then unknown to the management rules, and advice tied to it does not fire.
            derived[TOP_DIAGNOSIS] = ranking[0].diagnosis
        all_facts = {**facts, **derived}
        management = self.fire_management(
            {name: all_facts[name] for name in self._management_inputs if name in all_facts}
        )
        advice = [pair for rule in management for pair in self._advice[rule.id]]
        advice.sort(key=_advice_order)
        return Conclusion(
            facts=all_facts,
            fired=fired + management,
            ranking=ranking,
            secondary=secondary,
            red_flags=red_flags,
            recommendations=tuple(advice),
            context=context,
            not_excluded=not_excluded,
        )

    def _not_excluded(self, ranking: tuple[RankedDiagnosis, ...], facts: Mapping[str, Any]) -> tuple[NotExcluded, ...]:
        """Must-not-miss diagnoses ranked at or above their threshold whose reassurance is not known to hold."""
        probability = {entry.diagnosis: entry.probability for entry in ranking}
        return tuple(
            NotExcluded(entry, probability[entry.diagnosis])
            for entry in self.pack.info.must_not_miss
            if probability.get(entry.diagnosis, 0.0) >= entry.above
            and (entry.unless is None or predicate(entry.unless)(facts) is not True)
        )

    def close(self) -> None:
        self._evidence.close()
        self._management.close()


def _effects_by_rule(rules: Iterable[Rule], kind: type[EffectT]) -> dict[str, tuple[tuple[Rule, EffectT], ...]]:
    """Each rule's effects of one kind, paired with the rule, by rule id."""
    return {rule.id: tuple((rule, effect) for effect in rule.effects_of(kind)) for rule in rules}


_CATEGORY_RANK = {category: position for position, category in enumerate(CATEGORY_ORDER)}


def _advice_order(pair: tuple[Rule, RecommendationEffect]) -> tuple[int, str]:
    """Advice by category in the pack's fixed order, then by rule id."""
    return (_CATEGORY_RANK[pair[1].category], pair[0].id)
