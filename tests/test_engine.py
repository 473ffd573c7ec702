"""The durable-rules wrapper: every matching rule fires once, in pack order, and sessions never leak."""

from __future__ import annotations

import durable_rules_engine
import pytest

from ddx.conditions import AllOf, AnyOf, Comparison, Not
from ddx.engine import CompiledRuleset, EngineError, alternatives, compile_condition, groups
from ddx.evaluate import Evaluator

RULES = [
    ("A-YOUNG", Comparison("age_years", "<=", 25)),
    ("B-ISCHIUM", Comparison("site", "==", "ischial_tuberosity")),
    ("C-NOT-MASS", Not(Comparison("soft_tissue_mass", "==", True))),
    (
        "D-EITHER",
        AnyOf((Comparison("bone_destruction", "==", True), Comparison("growth_on_followup", "==", True))),
    ),
    (
        "E-NOT-BOTH",
        Not(
            AllOf(
                (
                    Comparison("tendon_attachment", "==", True),
                    Comparison("lesion_attached_to_bone", "==", True),
                )
            )
        ),
    ),
    ("F-SITE-IN", Comparison("site", "in", ("proximal_thigh", "buttock"))),
]


def test_every_matching_rule_fires_not_only_the_first() -> None:
    engine = CompiledRuleset(RULES)
    assert engine.evaluate({"age_years": 14, "site": "ischial_tuberosity", "soft_tissue_mass": False}) == [
        "A-YOUNG",
        "B-ISCHIUM",
        "C-NOT-MASS",
    ]


def test_a_case_that_matches_nothing_fires_nothing() -> None:
    assert CompiledRuleset(RULES).evaluate({"age_years": 60}) == []


def test_an_empty_case_fires_nothing() -> None:
    assert CompiledRuleset(RULES).evaluate({}) == []


def test_negation_of_an_unknown_finding_does_not_fire() -> None:
    engine = CompiledRuleset(RULES)
    assert "C-NOT-MASS" not in engine.evaluate({"age_years": 60})
    assert "C-NOT-MASS" in engine.evaluate({"soft_tissue_mass": False})


def test_not_all_fires_when_one_part_is_known_false_even_if_another_is_unknown() -> None:
    assert CompiledRuleset(RULES).evaluate({"tendon_attachment": False}) == ["E-NOT-BOTH"]


def test_membership_matches_any_listed_value() -> None:
    assert CompiledRuleset(RULES).evaluate({"site": "buttock"}) == ["F-SITE-IN"]


def test_facts_do_not_leak_between_cases() -> None:
    engine = CompiledRuleset(RULES)
    engine.evaluate({"age_years": 14, "site": "ischial_tuberosity"})
    assert engine.evaluate({"growth_on_followup": True}) == ["D-EITHER"]


def test_no_fact_stays_in_the_session_between_cases() -> None:
    engine = CompiledRuleset(RULES)
    engine.evaluate({"age_years": 14, "site": "ischial_tuberosity"})
    assert [durable_rules_engine.get_facts(handle, "case") for handle in engine._handles] == ["[]"]


def test_a_case_interrupted_midway_does_not_reach_the_next_case(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = CompiledRuleset(RULES)
    complete = durable_rules_engine.complete_and_start_action

    def interrupted(_handle: int, _state: int) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(durable_rules_engine, "complete_and_start_action", interrupted)
    with pytest.raises(KeyboardInterrupt):
        engine.evaluate({"age_years": 14, "site": "ischial_tuberosity"})
    monkeypatch.setattr(durable_rules_engine, "complete_and_start_action", complete)
    assert engine.evaluate({"growth_on_followup": True}) == ["D-EITHER"]


def test_thousands_of_cases_on_one_compiled_ruleset_give_the_same_answer() -> None:
    engine = CompiledRuleset(RULES)
    answers = {tuple(engine.evaluate({"age_years": 14, "bone_destruction": True})) for _ in range(2000)}
    assert answers == {("A-YOUNG", "D-EITHER")}


def test_an_empty_ruleset_fires_nothing() -> None:
    assert CompiledRuleset([]).evaluate({"age_years": 3}) == []


def test_negated_comparison_compiles_to_the_opposite_operator_guarded_by_existence() -> None:
    assert compile_condition(Not(Comparison("age_years", "<", 11))) == {"$gte": {"age_years": 11}}
    assert compile_condition(Not(Comparison("site", "==", "buttock"))) == {
        "$and": [{"$ex": {"site": 1}}, {"$neq": {"site": "buttock"}}]
    }


def test_two_compiled_rulesets_live_side_by_side() -> None:
    first = CompiledRuleset([("X-A", Comparison("age_years", ">", 50))])
    second = CompiledRuleset([("X-A", Comparison("age_years", "<", 50))])
    assert (first.evaluate({"age_years": 60}), second.evaluate({"age_years": 60})) == (["X-A"], [])


def test_cases_that_match_no_rule_never_crash_the_engine() -> None:
    # durable-rules 2.0.28 corrupts its heap when a session whose fact matched nothing is deleted;
    # the crash depends on heap layout, so it is checked in a fresh process that could die of it.
    import subprocess
    import sys

    script = (
        "from ddx.api import evaluator_for\n"
        "ev = evaluator_for()\n"
        "for i in range(20000):\n"
        "    assert ev.fire_evidence({'sex': ('male', 'female')[i % 2]}) == ()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr[-500:]


def test_more_simultaneous_matches_than_the_engine_stack_are_split_across_shards() -> None:
    # 200 rules that all match one fact: three times durable-rules' 64-entry alpha stack.
    rules = [(f"R-{i:03d}", Comparison("age_years", ">=", i % 100)) for i in range(200)]
    engine = CompiledRuleset(rules)
    assert engine.shard_count >= 4
    assert engine.evaluate({"age_years": 100}) == [rule_id for rule_id, _ in rules]


def test_the_shipped_evidence_rules_need_at_most_two_shards(evaluator: Evaluator) -> None:
    # Each shard is one more durable-rules evaluation per case. Pack 0.3.0's 64th alternative (SAR-AGE-40-TO-50)
    # opened a second one: 4,810 -> 4,730 cases/s in benchmarks/bench.py, within the run-to-run spread.
    assert evaluator._evidence.shard_count <= 2


def test_alternatives_count_the_disjunctive_normal_form() -> None:
    either = AnyOf((Comparison("site", "==", "buttock"), Comparison("site", "==", "other")))
    sex = AnyOf((Comparison("sex", "==", "male"), Comparison("age_years", ">", 50)))
    both = AllOf((either, sex))
    assert alternatives(compile_condition(both)) == 4
    assert alternatives(compile_condition(Comparison("site", "in", ("buttock", "other", "proximal_thigh")))) == 3


def test_nested_groups_of_one_kind_compile_into_one() -> None:
    nested = AllOf(
        (
            Comparison("site", "!=", "buttock"),
            AllOf(
                (
                    Comparison("age_years", ">", 3),
                    Not(AnyOf((Comparison("sex", "==", "male"), Comparison("site", "==", "other")))),
                )
            ),
        )
    )
    assert groups(compile_condition(nested)) == 1
    assert CompiledRuleset([("N-1", nested)]).evaluate(
        {"site": "ischial_tuberosity", "age_years": 9, "sex": "female"}
    ) == ["N-1"]


def test_a_rule_beyond_durable_rules_group_limit_is_refused_by_name() -> None:
    pairs = tuple(
        AnyOf((Comparison("age_years", "==", i), Comparison("lesion_size_cm", "==", i + 1))) for i in range(16)
    )
    with pytest.raises(EngineError, match="rule TOO-BIG compiles into 17 and/or groups"):
        CompiledRuleset([("TOO-BIG", AllOf(pairs))])
