"""A direct, plain-Python reading of rule conditions under three-valued logic.

It is the reference meaning of the condition language: property tests check that the compiled
durable-rules evaluation fires exactly the rules this interpreter says, and the benchmark uses it as
the speed floor. It also names the findings that made a condition true (the *witness*), which the
explanation shows as "on what evidence".
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ddx.conditions import AllOf, AnyOf, Comparison, Condition, Not

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def evaluate(condition: Condition, facts: Mapping[str, Any]) -> bool | None:
    """True, False, or None for unknown (Kleene's strong three-valued logic)."""
    if isinstance(condition, Comparison):
        value = facts.get(condition.finding)
        if value is None:
            return None
        if condition.op == "in":
            assert isinstance(condition.value, tuple)
            return _in(value, condition.value)
        if not _same_type(value, condition.value):
            return condition.op == "!="
        return _COMPARE[condition.op](value, condition.value)
    if isinstance(condition, AllOf):
        results = [evaluate(part, facts) for part in condition.parts]
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True
    if isinstance(condition, AnyOf):
        results = [evaluate(part, facts) for part in condition.parts]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if isinstance(condition, Not):
        result = evaluate(condition.part, facts)
        return None if result is None else not result
    raise TypeError(f"not a condition: {condition!r}")


def _same_type(left: Any, right: Any) -> bool:
    # True == 1 in Python but a boolean finding never equals a number in a rule.
    return isinstance(left, bool) == isinstance(right, bool) and (
        isinstance(left, str) == isinstance(right, str)
    )


def _in(value: Any, options: Iterable[Any]) -> bool:
    return any(_same_type(value, option) and value == option for option in options)


def fires(condition: Condition, facts: Mapping[str, Any]) -> bool:
    return evaluate(condition, facts) is True


def witness(condition: Condition, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The known findings that make a true condition true, in the order the condition names them.

    For ``any``, only the branches that hold; for ``not``, every finding its part reads.
    """
    found: dict[str, Any] = {}
    _collect(condition, facts, found, want=True)
    return found


def _collect(condition: Condition, facts: Mapping[str, Any], found: dict[str, Any], *, want: bool) -> None:
    if evaluate(condition, facts) is not want:
        return
    if isinstance(condition, Comparison):
        found.setdefault(condition.finding, facts[condition.finding])
    elif isinstance(condition, AllOf | AnyOf):
        for part in condition.parts:
            _collect(part, facts, found, want=want)
    elif isinstance(condition, Not):
        _collect(condition.part, facts, found, want=not want)
