"""The questions of a quiz, drawn from the rules: a case's choices and its script-concordance items.

A script-concordance item reads "If you were thinking of X and you then learn F = v, X becomes: −2 much
less likely … +2 much more likely". Items come from rules whose ``fires`` example is a single finding
that the case leaves unknown (so it is new information). The engine's answer comes from the rule's
likelihood ratio on this documented scale, which follows the pack's strength scale:

=========================  ======
likelihood ratio           answer
=========================  ======
≥ 3 (strong: 5)            +2
> 1 (moderate 2, weak 1.5) +1
1                          0
< 1 (1/2, 1/1.5)           −1
≤ 1/3 (1/5)                −2
=========================  ======

Where a case file holds a teachers' panel for an item (``quiz: {panel: {ITEM: {answer: count}}}``), the
item is scored by the standard aggregate method instead: credit is the number of panellists who chose the
student's answer divided by the number who chose the modal answer.
"""

from __future__ import annotations

import hashlib
import math

from ddx.case import Case
from ddx.quiz.model import SCT_LABELS, ScriptItem
from ddx.rulepack import DiagnosisEffect, RulePack

ITEMS_PER_CASE = 4
STRONG_THRESHOLD = math.log(3)


def engine_answer(likelihood_ratio: float) -> int:
    strength = math.log(likelihood_ratio)
    if abs(strength) < 1e-12:
        return 0
    magnitude = 2 if abs(strength) >= STRONG_THRESHOLD else 1
    return magnitude if strength > 0 else -magnitude


def all_items(pack: RulePack) -> dict[str, ScriptItem]:
    """Every script-concordance item the pack can ask, by id (``RULE/diagnosis``)."""
    items: dict[str, ScriptItem] = {}
    for rule in pack.evidence_rules:
        single = [example for example in rule.examples.fires if len(example) == 1]
        if not single:
            continue
        ((finding, value),) = single[0].items()
        for effect in rule.effects_of(DiagnosisEffect):
            ratio = pack.likelihood_ratio(effect)
            item_id = f"{rule.id}/{effect.diagnosis}"
            items[item_id] = ScriptItem(
                id=item_id,
                diagnosis=effect.diagnosis,
                finding=finding,
                value=value,
                rule=rule.id,
                engine_answer=engine_answer(ratio),
                likelihood_ratio=round(ratio, 6),
            )
    return items


def items_for_case(case: Case, pack: RulePack, count: int = ITEMS_PER_CASE) -> list[ScriptItem]:
    """The case's items: those its file names, else a stable choice of items about findings it leaves unknown."""
    available = all_items(pack)
    panel = case.quiz.panel if case.quiz else {}
    if case.quiz and case.quiz.items:
        chosen = [available[item_id] for item_id in case.quiz.items if item_id in available]
    else:
        known = case.findings.known()
        fresh = [item for item in available.values() if item.finding not in known]
        fresh.sort(key=lambda item: hashlib.sha256(f"{case.id}/{item.id}".encode()).hexdigest())
        chosen, findings_used = [], set()
        for item in fresh:
            if item.finding not in findings_used:
                chosen.append(item)
                findings_used.add(item.finding)
            if len(chosen) == count:
                break
    return [item.model_copy(update={"panel": panel.get(item.id, {})}) for item in chosen]


def neutral_label(case_id: str) -> str:
    """What a student sees for a case: most case ids begin with the diagnosis, so a stable neutral tag instead."""
    return "case " + hashlib.sha256(case_id.encode()).hexdigest()[:4].upper()


def item_question(item: ScriptItem, pack: RulePack) -> str:
    label = pack.diagnoses[item.diagnosis].label
    spec = pack.specs[item.finding]
    return (
        f"If you were thinking of {label} and you then learn: {spec.title} "
        f"({item.finding}) = {spec.value_label(item.value)}, {label} becomes"
    )


def scale_text() -> str:
    return " · ".join(f"{value:+d} {label}" if value else f"0 {label}" for value, label in SCT_LABELS.items())
