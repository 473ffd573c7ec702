"""A student's answers against the engine's reasoning: every point compared, scored, explained.

Score out of 100, in parts (a part with nothing to ask — no script items, no secondary condition — is left
out and the rest rescaled to 100):

========================  ===  =========================================================================
ranking                    25  top choice right: 15; order: 10 × (Kendall τ + 1) / 2
secondary conditions       10  the same status as the engine, shared by the pack's conditions (a part each)
supporting findings        15  15 × F1 of the findings cited for the first choice vs the engine's
findings against           15  15 × mean F1 over the other diagnoses
script concordance         20  20 × mean item credit (panel aggregate, else the engine's answer: 1, ±1: ½)
red flags                  15  15 × share of the engine's red flags named, −5 for each named wrongly
misconceptions              —  −5 each from the two findings parts (not below 0): a finding cited in the
                               direction opposite to a rule that weighs it. Not where that rule reads the
                               finding only together with others (a combined rule such as age with a location and
                               maturity): the finding alone may fairly be read the student's way, as the
                               rule's own rationale often says, so it is shown and not penalised
========================  ===  =========================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ddx.case import Case
from ddx.errors import DdxInputError
from ddx.evaluate import Conclusion, Evaluator
from ddx.oracle import witness
from ddx.quiz.items import item_question, items_for_case
from ddx.quiz.model import (
    Answers,
    CitedFinding,
    DiagnosisId,
    Grade,
    Misconception,
    MissedRedFlag,
    RankingAgreement,
    ScriptItem,
    ScriptResult,
)
from ddx.rulepack import RedFlagEffect, RulePack

SECONDARY_WEIGHT = 10.0  # shared by the pack's secondary conditions, each a part named by its key
MAXIMUM = {
    "ranking": 25.0,
    "supporting_findings": 15.0,
    "findings_against": 15.0,
    "script_concordance": 20.0,
    "red_flags": 15.0,
}
MISCONCEPTION_PENALTY = 5.0
FALSE_RED_FLAG_PENALTY = 5.0


@dataclass(frozen=True)
class Weighing:
    """One rule's effect on one diagnosis through one finding of the case."""

    rule: str
    diagnosis: DiagnosisId
    direction: str
    alone: bool = True  # the rule reads this finding on its own, not only in combination with others


def engine_weighings(conclusion: Conclusion) -> dict[str, list[Weighing]]:
    """For each finding of the case, the rules that weighed it, for or against which diagnosis."""
    weighed: dict[str, list[Weighing]] = {}
    for entry in conclusion.ranking:
        for contribution in entry.contributions:
            read = witness(contribution.rule.when, conclusion.facts)
            for finding in read:
                weighed.setdefault(finding, []).append(
                    Weighing(contribution.rule.id, contribution.diagnosis, contribution.direction, len(read) == 1)
                )
    return weighed


def kendall_tau(first: Iterable[str], second: Iterable[str]) -> float:
    a, b = list(first), list(second)
    position = {item: index for index, item in enumerate(b)}
    concordant = discordant = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            if position[a[i]] < position[a[j]]:
                concordant += 1
            else:
                discordant += 1
    pairs = concordant + discordant
    return (concordant - discordant) / pairs if pairs else 1.0


def f1(cited: set[str], expected: set[str]) -> float:
    if not cited and not expected:
        return 1.0
    if not cited or not expected:
        return 0.0
    hits = len(cited & expected)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(cited), hits / len(expected)
    return 2 * precision * recall / (precision + recall)


def check_answers(answers: Answers, case: Case, items: list[ScriptItem], pack: RulePack) -> None:
    """Answers must cite the case's own findings, real red flags and the case's items."""
    known = case.findings.known()
    cited = [("supports_first", f) for f in answers.supports_first]
    cited += [(f"against.{d}", f) for d, group in answers.against.items() for f in group]
    for field, finding in cited:
        if finding not in known:
            raise DdxInputError(
                f"'{finding}' is not a known finding of case {case.id}; cite from: {', '.join(known)}", field=field
            )
    for diagnosis in answers.against:
        if diagnosis == answers.ranking[0]:
            raise DdxInputError(
                "that is your first choice; list findings against the other diagnoses", field=f"against.{diagnosis}"
            )
    red_flag_rules = sorted(rule.id for rule in pack.rules if rule.effects_of(RedFlagEffect))
    for flag in answers.red_flags:
        if flag not in red_flag_rules:
            expected = ", ".join(red_flag_rules)
            raise DdxInputError(f"'{flag}' is not a red-flag rule; expected some of {expected}", field="red_flags")
    item_ids = sorted(item.id for item in items)
    for item_id in answers.script_concordance:
        if item_id not in item_ids:
            raise DdxInputError(
                f"'{item_id}' is not an item of case {case.id}; its items: {', '.join(item_ids)}",
                field="script_concordance",
            )


def grade(answers: Answers, case: Case, evaluator: Evaluator) -> Grade:
    pack = evaluator.pack
    items = items_for_case(case, pack)
    check_answers(answers, case, items, pack)
    conclusion = evaluator.conclude(case.findings)
    weighed = engine_weighings(conclusion)
    engine_order = tuple(entry.diagnosis for entry in conclusion.ranking)
    tau = kendall_tau(answers.ranking, engine_order)
    agreement = RankingAgreement(
        top1_match=answers.ranking[0] == engine_order[0],
        kendall_tau=round(tau, 6),
        student=answers.ranking,
        engine=engine_order,
    )
    earned: dict[str, float] = {
        "ranking": (15.0 if agreement.top1_match else 0.0) + 10.0 * (tau + 1) / 2,
    }
    conditions = {c.id: c.answer_key for c in pack.info.conditions}
    secondary = {
        conditions[s.condition]: {"student": answers.secondary.get(conditions[s.condition], ""), "engine": s.status}
        for s in conclusion.secondary
    }
    maximum = {"ranking": MAXIMUM["ranking"]}
    for key, statuses in secondary.items():
        maximum[key] = SECONDARY_WEIGHT / len(secondary)
        earned[key] = maximum[key] if statuses["student"] == statuses["engine"] else 0.0
    maximum.update({part: value for part, value in MAXIMUM.items() if part != "ranking"})

    misconceptions: list[Misconception] = []
    first = answers.ranking[0]
    supports, support_misconceptions = _compare_cited(answers.supports_first, (first, "for"), weighed, pack)
    misconceptions += support_misconceptions
    engine_for_first = {
        f for f, ws in weighed.items() if any(w.diagnosis == first and w.direction == "for" for w in ws)
    }
    earned["supporting_findings"] = MAXIMUM["supporting_findings"] * f1(set(answers.supports_first), engine_for_first)

    against: dict[str, list[CitedFinding]] = {}
    against_scores = []
    for diagnosis in answers.ranking[1:]:
        cited = answers.against.get(diagnosis, ())
        compared, found = _compare_cited(cited, (diagnosis, "against"), weighed, pack)
        against[diagnosis] = compared
        misconceptions += found
        expected = {
            f for f, ws in weighed.items() if any(w.diagnosis == diagnosis and w.direction == "against" for w in ws)
        }
        against_scores.append(f1(set(cited), expected))
    earned["findings_against"] = MAXIMUM["findings_against"] * sum(against_scores) / len(against_scores)
    penalty = MISCONCEPTION_PENALTY * sum(1 for m in misconceptions if m.penalised)
    before_penalty = {part: round(earned[part], 2) for part in ("supporting_findings", "findings_against")}
    reasoning = earned["supporting_findings"] + earned["findings_against"]
    taken = min(penalty, reasoning)
    if reasoning:
        kept = (reasoning - taken) / reasoning
        earned["supporting_findings"] *= kept
        earned["findings_against"] *= kept

    scripts = [
        ScriptResult(
            item=item.id,
            question=item_question(item, pack),
            student=answers.script_concordance.get(item.id),
            engine=item.engine_answer,
            credit=round(item.credit(answers.script_concordance.get(item.id)), 6),
            rule=item.rule,
        )
        for item in items
    ]
    if scripts:
        earned["script_concordance"] = MAXIMUM["script_concordance"] * sum(s.credit for s in scripts) / len(scripts)
    else:
        maximum.pop("script_concordance")

    engine_flags = [(rule, effect) for rule, effect in conclusion.red_flags]
    missed = [
        MissedRedFlag(
            rule=rule.id, message=" ".join(effect.red_flag.split()), citation=pack.citation_text(rule.citations)
        )
        for rule, effect in engine_flags
        if rule.id not in answers.red_flags
    ]
    false_flags = [flag for flag in answers.red_flags if flag not in {rule.id for rule, _ in engine_flags}]
    named = 1.0 if not engine_flags else (len(engine_flags) - len(missed)) / len(engine_flags)
    earned["red_flags"] = max(MAXIMUM["red_flags"] * named - FALSE_RED_FLAG_PENALTY * len(false_flags), 0.0)

    score = 100.0 * sum(earned.values()) / sum(maximum.values())
    return Grade(
        student=answers.student,
        case=case.id,
        score=round(score, 2),
        breakdown={part: round(value, 2) for part, value in earned.items()},
        maximum=maximum,
        ranking_agreement=agreement,
        secondary=secondary,
        missed_red_flags=missed,
        false_red_flags=false_flags,
        misconceptions=misconceptions,
        supports_first=supports,
        against=against,
        script_concordance=scripts,
        rule_pack={"name": pack.info.name, "version": pack.info.version, "digest": pack.digest},
        misconception_penalty=round(taken, 2),
        before_penalty=before_penalty,
    )


def _compare_cited(
    cited: Iterable[str],
    claim: tuple[DiagnosisId, str],
    weighed: dict[str, list[Weighing]],
    pack: RulePack,
) -> tuple[list[CitedFinding], list[Misconception]]:
    """Each cited finding against the engine's weighing of it for ``claim`` = (diagnosis, for|against)."""
    diagnosis, direction = claim
    student_said = "supports" if direction == "for" else "argues against"
    compared: list[CitedFinding] = []
    misconceptions: list[Misconception] = []
    cited = list(cited)
    for finding in cited:
        on_this = [w for w in weighed.get(finding, []) if w.diagnosis == diagnosis]
        agreeing = [w.rule for w in on_this if w.direction == direction]
        opposing = [w for w in on_this if w.direction != direction]
        if agreeing:
            compared.append(CitedFinding(finding=finding, verdict="agrees", rules=tuple(agreeing)))
        elif opposing:
            compared.append(
                CitedFinding(finding=finding, verdict="misconception", rules=tuple(w.rule for w in opposing))
            )
            for weighing in opposing:
                rule = pack.by_id[weighing.rule]
                misconceptions.append(
                    Misconception(
                        finding=finding,
                        student_said=f"{student_said} {pack.diagnoses[diagnosis].label}",
                        rule=rule.id,
                        direction="for" if weighing.direction == "for" else "against",
                        diagnosis=diagnosis,
                        rationale=" ".join(rule.rationale.split()),
                        citation=pack.citation_text(rule.citations),
                        penalised=weighing.alone,
                    )
                )
        else:
            compared.append(CitedFinding(finding=finding, verdict="not_weighed"))
    for finding, weighings in weighed.items():
        rules = [w.rule for w in weighings if w.diagnosis == diagnosis and w.direction == direction]
        if rules and finding not in cited:
            compared.append(CitedFinding(finding=finding, verdict="missed", rules=tuple(rules)))
    return compared, misconceptions
