"""Properties that must hold for every input, checked on thousands of generated cases and rule packs."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ddx.case import Case
from ddx.conditions import AllOf, AnyOf, Comparison, Condition, Not
from ddx.counterfactuals import candidate_values
from ddx.engine import (
    MAX_ALTERNATIVES_PER_SHARD,
    MAX_GROUPS_PER_RULE,
    CompiledRuleset,
    alternatives,
    compile_condition,
    groups,
)
from ddx.evaluate import Evaluator
from ddx.explain import build_report
from ddx.findings import FindingSpec
from ddx.oracle import evaluate
from ddx.rulepack import DiagnosisEffect, load_rule_pack
from tests.conftest import FINDING_SPECS, REFERENCE_CASE, REPO, Findings
from tests.test_oracle_agreement import findings_strategy, value_strategy

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def comparison_strategy(spec: FindingSpec) -> st.SearchStrategy[Condition]:
    values = value_strategy(spec)
    if spec.kind in ("int", "number"):
        ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
        return st.builds(lambda op, v: Comparison(spec.name, op, v), ops, values)
    membership = st.lists(values, min_size=1, max_size=3, unique=True).map(
        lambda vs: Comparison(spec.name, "in", tuple(vs))
    )
    equality = st.builds(lambda op, v: Comparison(spec.name, op, v), st.sampled_from(["==", "!="]), values)
    return st.one_of(equality, membership)


leaf = st.sampled_from(list(FINDING_SPECS.values())).flatmap(comparison_strategy)
conditions: st.SearchStrategy[Condition] = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda ps: AllOf(tuple(ps))),
        st.lists(inner, min_size=1, max_size=3).map(lambda ps: AnyOf(tuple(ps))),
        inner.map(Not),
    ),
    max_leaves=6,
)


@settings(SETTINGS, max_examples=400)
@given(
    rules=st.lists(conditions, min_size=1, max_size=12),
    cases=st.lists(findings_strategy, min_size=1, max_size=8),
)
def test_generated_rule_packs_fire_on_durable_rules_exactly_what_the_oracle_says(
    rules: list[Condition], cases: list[dict[str, Any]]
) -> None:
    # Within the limits durable-rules has and CompiledRuleset enforces (tested in test_engine).
    assume(all(alternatives(compile_condition(c)) <= MAX_ALTERNATIVES_PER_SHARD for c in rules))
    assume(all(groups(compile_condition(c)) <= MAX_GROUPS_PER_RULE for c in rules))
    named = [(f"GEN-{i:02d}", condition) for i, condition in enumerate(rules)]
    engine = CompiledRuleset(named)
    try:
        for facts in cases:
            expected = [rule_id for rule_id, condition in named if evaluate(condition, facts) is True]
            assert engine.evaluate(facts) == expected, facts
    finally:
        engine.close()


@settings(SETTINGS, max_examples=1000)
@given(findings=findings_strategy, extra=st.data())
def test_learning_a_finding_never_unfires_a_rule_except_through_its_unless(
    evaluator: Evaluator, findings: dict[str, Any], extra: st.DataObject
) -> None:
    """Conditions are monotone in what is known; only a rule's stated exception (`unless`) can stop it."""
    unknown = [name for name in FINDING_SPECS if name not in findings]
    assume(unknown)
    name = extra.draw(st.sampled_from(unknown))
    value = extra.draw(value_strategy(FINDING_SPECS[name]))
    before = {rule.id for rule in evaluator.fire_evidence(findings)}
    after = {rule.id for rule in evaluator.fire_evidence({**findings, name: value})}
    stopped = [evaluator.pack.by_id[rule_id] for rule_id in before - after]
    assert all(rule.unless is not None and name in rule.unless.findings() for rule in stopped)


@settings(SETTINGS, max_examples=300)
@given(findings=findings_strategy)
def test_a_finding_that_only_supports_a_diagnosis_never_lowers_it(
    evaluator: Evaluator, findings: dict[str, Any]
) -> None:
    """Every unknown finding, at every value the rules can tell apart: when what it newly fires only
    supports one diagnosis (and it neither changes the prior context nor stops a rule through its
    `unless`), that diagnosis does not become less likely."""
    before_rules = {rule.id for rule in evaluator.fire_evidence(findings)}
    before = {e.diagnosis: e.probability for e in evaluator.rank(findings)}
    thresholds = evaluator.pack.numeric_thresholds
    for name in (n for n in FINDING_SPECS if n not in findings):
        for value in candidate_values(FINDING_SPECS[name], thresholds.get(name, ())):
            learned = {**findings, name: value}
            after_rules = evaluator.fire_evidence(learned)
            if evaluator.pack.prior_context(learned) != evaluator.pack.prior_context(findings):
                continue
            if not before_rules <= {rule.id for rule in after_rules}:
                continue
            new_effects = [
                e for rule in after_rules if rule.id not in before_rules for e in rule.effects_of(DiagnosisEffect)
            ]
            supported = {e.diagnosis for e in new_effects}
            if len(supported) != 1 or any(e.direction != "for" for e in new_effects):
                continue
            (diagnosis,) = supported
            after = {e.diagnosis: e.probability for e in evaluator.rank(learned)}
            if diagnosis not in before:
                continue  # not ranked in this context (metastasis without a cancer history)
            assert after[diagnosis] >= before[diagnosis] - 1e-12, (name, value)


@SETTINGS
@given(findings=findings_strategy)
def test_probabilities_sum_to_one_and_ranks_follow_them(evaluator: Evaluator, findings: dict[str, Any]) -> None:
    ranking = evaluator.rank(findings)
    assert abs(sum(e.probability for e in ranking) - 1) < 1e-9
    assert [e.rank for e in ranking] == list(range(1, len(ranking) + 1))
    assert all(a.probability >= b.probability - 1e-12 for a, b in itertools.pairwise(ranking))


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(findings=findings_strategy, order=st.randoms(use_true_random=False))
def test_the_report_does_not_depend_on_the_order_of_findings(
    evaluator: Evaluator, findings: dict[str, Any], order: Any
) -> None:
    shuffled = list(findings.items())
    order.shuffle(shuffled)
    first = build_report(Case(id="c", title="t", findings=Findings.model_validate(findings)), evaluator)
    second = build_report(Case(id="c", title="t", findings=Findings.model_validate(dict(shuffled))), evaluator)
    assert first.to_json() == second.to_json()


def test_the_report_does_not_depend_on_how_rules_are_spread_over_files(tmp_path: Path) -> None:
    """Rules moved into other files, in reverse order, give the same report (bar the pack digest)."""
    import ruamel.yaml

    shuffled = tmp_path / "rules"
    shuffled.mkdir()
    for name in ("pack.yaml", "sources.yaml", "findings.yaml", "lexicon.yaml"):
        shutil.copy(REPO / "rules" / name, shuffled / name)
    yaml = ruamel.yaml.YAML()
    every_rule = []
    for path in sorted((REPO / "rules").glob("*.yaml")):
        if path.name not in ("pack.yaml", "sources.yaml", "findings.yaml", "lexicon.yaml"):
            every_rule.extend(yaml.load(path)["rules"])
    every_rule.reverse()
    for index in range(0, len(every_rule), 7):
        with (shuffled / f"part-{index:03d}.yaml").open("w") as handle:
            yaml.dump({"rules": every_rule[index : index + 7]}, handle)
    from ddx.case import load_case

    case = load_case(REFERENCE_CASE)
    original = json.loads(build_report(case, Evaluator(load_rule_pack(REPO / "rules"))).to_json())
    moved = json.loads(build_report(case, Evaluator(load_rule_pack(shuffled))).to_json())
    original["rule_pack"].pop("digest")
    moved["rule_pack"].pop("digest")
    assert original == moved


def test_json_is_identical_across_processes_and_hash_seeds() -> None:
    outputs = set()
    for seed in ("0", "1", "12345"):
        environment = {**os.environ, "PYTHONHASHSEED": seed, "DDX_CACHE_DIR": "off"}
        done = subprocess.run(
            [sys.executable, "-m", "ddx.cli", "assess", str(REFERENCE_CASE), "--format", "json"],
            capture_output=True,
            check=True,
            env=environment,
            timeout=60,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_an_empty_case_returns_the_priors_with_every_finding_unknown(evaluator: Evaluator) -> None:
    report = build_report(Case(id="empty", title="nothing known"), evaluator)
    default = evaluator.pack.info.prior_contexts[-1].probabilities
    assert {e.diagnosis: round(e.probability, 6) for e in report.ranking} == {
        d: round(p, 6) for d, p in default.items()
    }
    assert report.prior_context is not None
    assert report.prior_context.id == "default"
    assert {u.finding for u in report.unknown_findings} == set(FINDING_SPECS)
    evidence = {rule.id for rule in evaluator.pack.evidence_rules}
    assert [r for r in report.fired_rules if r in evidence] == []  # no finding, no evidence
