"""Every rule's own examples, run on durable-rules: it must fire on each 'fires' and on no 'does_not_fire'.

Like semgrep's ruleid/ok annotations, the examples live beside the rule in rules/*.yaml; this file only
collects them, so a new rule is tested by writing its examples.
"""

from __future__ import annotations

from typing import Any

import pytest

from ddx.evaluate import Evaluator
from ddx.rulepack import load_rule_pack
from tests.conftest import RULES_DIR

_PACK = load_rule_pack(RULES_DIR)
_EXAMPLES = [
    pytest.param(rule.id, expected, example, id=f"{rule.id}-{'fires' if expected else 'quiet'}-{index}")
    for rule in _PACK.rules
    for expected, group in ((True, rule.examples.fires), (False, rule.examples.does_not_fire))
    for index, example in enumerate(group)
]


@pytest.mark.parametrize(("rule_id", "should_fire", "example"), _EXAMPLES)
def test_rule_example(evaluator: Evaluator, rule_id: str, should_fire: bool, example: dict[str, Any]) -> None:
    rule = evaluator.pack.by_id[rule_id]
    assert evaluator.fire(rule, example) is should_fire, f"{rule.file}:{rule.line} {rule_id} on {example}"


@pytest.mark.parametrize(("rule_id", "should_fire", "example"), _EXAMPLES)
def test_rule_example_agrees_with_oracle(rule_id: str, should_fire: bool, example: dict[str, Any]) -> None:
    assert _PACK.by_id[rule_id].holds(example) is should_fire
