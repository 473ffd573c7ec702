"""Property: the compiled durable-rules evaluation fires exactly the rules the plain interpreter says."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddx.evaluate import Evaluator
from ddx.findings import FindingSpec
from ddx.oracle import evaluate, predicate
from tests.conftest import FINDING_SPECS


def value_strategy(spec: FindingSpec) -> st.SearchStrategy[Any]:
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "enum":
        return st.sampled_from(spec.choices)
    low = spec.minimum or 0.0
    high = spec.maximum or 200.0
    if spec.kind == "int":
        return st.integers(int(low), int(high))
    # Half-millimetre steps land exactly on the thresholds the rules use.
    numbers = st.integers(int(low * 2), int(high * 2)).map(lambda n: n / 2)
    return numbers.filter(spec.accepts)


findings_strategy = st.fixed_dictionaries(
    {}, optional={name: value_strategy(spec) for name, spec in FINDING_SPECS.items()}
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(findings=findings_strategy)
def test_durable_rules_fires_exactly_what_the_oracle_says(evaluator: Evaluator, findings: dict[str, Any]) -> None:
    fired = [rule.id for rule in evaluator.fire_evidence(findings)]
    expected = [rule.id for rule in evaluator.pack.evidence_rules if rule.holds(findings)]
    assert fired == expected


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(findings=findings_strategy)
def test_compiled_predicates_mean_what_the_interpreter_says(evaluator: Evaluator, findings: dict[str, Any]) -> None:
    for rule in evaluator.pack.rules:
        assert predicate(rule.when)(findings) == evaluate(rule.when, findings), rule.id
