"""A direct, plain-Python reading of rule conditions under three-valued logic.

It is the reference meaning of the condition language: property tests check that the compiled
durable-rules evaluation fires exactly the rules this interpreter says, and the benchmark uses it as
the speed floor. It also names the findings that made a condition true (the *witness*), which the
explanation shows as "on what evidence".
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

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
    return isinstance(left, bool) == isinstance(right, bool) and (isinstance(left, str) == isinstance(right, str))


def _in(value: Any, options: Iterable[Any]) -> bool:
    return any(_same_type(value, option) and value == option for option in options)


Predicate = Callable[[Mapping[str, Any]], bool | None]
WitnessFunction = Callable[[Mapping[str, Any]], list[str]]
_T = TypeVar("_T")
_MEMO_LIMIT = 100_000
_PREDICATES: dict[int, tuple[Condition, Predicate]] = {}
_WITNESS_TRUE: dict[int, tuple[Condition, WitnessFunction]] = {}
_WITNESS_FALSE: dict[int, tuple[Condition, WitnessFunction]] = {}


def predicate(condition: Condition) -> Predicate:
    """``condition`` as a compiled closure, built once per condition object (see :func:`_compile`)."""
    return _memo(_PREDICATES, condition, _compile)


def _memo(cache: dict[int, tuple[Condition, _T]], condition: Condition, build: Callable[[Condition], _T]) -> _T:
    # Keyed by identity: hashing a condition tree walks all of it, which cost more than evaluating it.
    # The entry keeps the condition alive, so its id cannot be reused while cached.
    entry = cache.get(id(condition))
    if entry is not None and entry[0] is condition:
        return entry[1]
    if len(cache) > _MEMO_LIMIT:
        cache.clear()
    built = build(condition)
    cache[id(condition)] = (condition, built)
    return built


def _compile(condition: Condition) -> Predicate:
    """``condition`` turned once into nested Python closures with the same three-valued meaning as
    :func:`evaluate` (a property test holds them equal); used wherever conditions are evaluated often.

    It relies on findings and rule values having matching types, which validation of both guarantees.
    """
    if isinstance(condition, Comparison):
        return _comparison_predicate(condition)
    if isinstance(condition, Not):
        inner = predicate(condition.part)

        def negation(facts: Mapping[str, Any]) -> bool | None:
            result = inner(facts)
            return None if result is None else not result

        return negation
    if isinstance(condition, AllOf | AnyOf):
        parts = tuple(predicate(part) for part in condition.parts)
        decisive = isinstance(condition, AnyOf)  # True decides 'any', False decides 'all'

        def combination(facts: Mapping[str, Any]) -> bool | None:
            unknown = False
            for part in parts:
                result = part(facts)
                if result is decisive:
                    return decisive
                if result is None:
                    unknown = True
            return None if unknown else not decisive

        return combination
    raise TypeError(f"not a condition: {condition!r}")


def _comparison_predicate(comparison: Comparison) -> Predicate:
    name, target = comparison.finding, comparison.value
    if comparison.op == "in":
        assert isinstance(target, tuple)
        options = target

        def membership(facts: Mapping[str, Any]) -> bool | None:
            value = facts.get(name)
            return None if value is None else value in options

        return membership
    compare = _COMPARE[comparison.op]

    def test(facts: Mapping[str, Any]) -> bool | None:
        value = facts.get(name)
        return None if value is None else compare(value, target)

    return test


def fires(condition: Condition, facts: Mapping[str, Any]) -> bool:
    return predicate(condition)(facts) is True


def witness(condition: Condition, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The known findings that make a true condition true, in the order the condition names them.

    For ``any``, only the branches that hold; for ``not``, the findings that make its part false.
    """
    return {name: facts[name] for name in dict.fromkeys(_witness_function(condition, True)(facts))}


def _witness_function(condition: Condition, holds: bool) -> WitnessFunction:
    """Names that make ``condition`` evaluate to ``holds``, for facts where it already does.

    Knowing the outcome spares re-evaluating: every part of a true ``all`` is true and every part of a
    false ``any`` is false; only the parts of a true ``any`` or a false ``all`` need checking.
    """
    cache = _WITNESS_TRUE if holds else _WITNESS_FALSE
    return _memo(cache, condition, lambda c: _build_witness(c, holds))


def _build_witness(condition: Condition, holds: bool) -> WitnessFunction:
    if isinstance(condition, Comparison):
        names = [condition.finding]
        return lambda _facts: names
    if isinstance(condition, Not):
        return _witness_function(condition.part, not holds)
    if isinstance(condition, AllOf | AnyOf):
        every_part = isinstance(condition, AllOf) == holds
        parts = tuple((predicate(part), _witness_function(part, holds)) for part in condition.parts)
        if every_part:

            def all_parts(facts: Mapping[str, Any]) -> list[str]:
                return [name for _, names in parts for name in names(facts)]

            return all_parts

        def deciding_parts(facts: Mapping[str, Any]) -> list[str]:
            return [name for test, names in parts if test(facts) is holds for name in names(facts)]

        return deciding_parts
    raise TypeError(f"not a condition: {condition!r}")
