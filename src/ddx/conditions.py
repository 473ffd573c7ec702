"""Rule conditions: a small, closed language over findings, parsed from YAML without any eval.

Source syntax (one mapping per condition)::

    fever: true                                # equality
    temperature_c: {">=": 38.5}                # comparison: == != < <= > >=
    aspirate: {in: [cloudy, purulent]}         # membership
    all: [<condition>, ...]                    # every one holds
    any: [<condition>, ...]                    # at least one holds
    not: <condition>                           # the condition is known to be false

A mapping with several keys means all of them. Conditions use three-valued logic: a comparison on
an unknown finding is *unknown*, and a rule fires only when its whole condition is known to be true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ddx.findings import display_value

Operator = Literal["==", "!=", "<", "<=", ">", ">=", "in"]
OPERATORS: tuple[Operator, ...] = ("==", "!=", "<", "<=", ">", ">=", "in")
ORDERING_OPERATORS: frozenset[str] = frozenset({"<", "<=", ">", ">="})
Scalar = bool | int | float | str


class Condition:
    """Base of the condition tree. Subclasses are immutable and hashable."""

    def findings(self) -> frozenset[str]:
        raise NotImplementedError

    def to_source(self) -> Any:
        """The condition in the YAML syntax above (for ``rules show`` and JSON)."""
        raise NotImplementedError

    def to_text(self) -> str:
        """The condition as one line of plain text, e.g. ``aspirate = purulent and temperature_c >= 38.5``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Comparison(Condition):
    finding: str
    op: Operator
    value: Scalar | tuple[Scalar, ...]

    def findings(self) -> frozenset[str]:
        return frozenset({self.finding})

    def to_text(self) -> str:
        if isinstance(self.value, tuple):
            return f"{self.finding} in {{{', '.join(_text(v) for v in self.value)}}}"
        op = "=" if self.op == "==" else self.op
        return f"{self.finding} {op} {_text(self.value)}"

    def to_source(self) -> Any:
        if self.op == "==":
            return {self.finding: self.value}
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {self.finding: {self.op: value}}


@dataclass(frozen=True)
class AllOf(Condition):
    parts: tuple[Condition, ...]

    def findings(self) -> frozenset[str]:
        return frozenset().union(*(p.findings() for p in self.parts))

    def to_source(self) -> Any:
        return {"all": [p.to_source() for p in self.parts]}

    def to_text(self) -> str:
        return " and ".join(_grouped(p) for p in self.parts)


@dataclass(frozen=True)
class AnyOf(Condition):
    parts: tuple[Condition, ...]

    def findings(self) -> frozenset[str]:
        return frozenset().union(*(p.findings() for p in self.parts))

    def to_source(self) -> Any:
        return {"any": [p.to_source() for p in self.parts]}

    def to_text(self) -> str:
        return " or ".join(_grouped(p) for p in self.parts)


@dataclass(frozen=True)
class Not(Condition):
    part: Condition

    def findings(self) -> frozenset[str]:
        return self.part.findings()

    def to_source(self) -> Any:
        return {"not": self.part.to_source()}

    def to_text(self) -> str:
        return f"not {_grouped(self.part)}"


def _text(value: object) -> str:
    return display_value(value)


def _grouped(condition: Condition) -> str:
    text = condition.to_text()
    return f"({text})" if isinstance(condition, AllOf | AnyOf) and len(condition.parts) > 1 else text


def comparisons(condition: Condition) -> list[Comparison]:
    """Every comparison in the tree, left to right."""
    if isinstance(condition, Comparison):
        return [condition]
    if isinstance(condition, AllOf | AnyOf):
        return [c for part in condition.parts for c in comparisons(part)]
    if isinstance(condition, Not):
        return comparisons(condition.part)
    raise TypeError(f"not a condition: {condition!r}")


class ConditionSyntaxError(ValueError):
    """A condition that does not parse; ``location`` is the path inside the ``when`` block."""

    def __init__(self, message: str, location: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.location = location


ValueCheck = Callable[[str, Operator, Any, tuple[str | int, ...]], None]


def parse_condition(raw: Any, check: ValueCheck, location: tuple[str | int, ...] = ()) -> Condition:
    """Parse the YAML form. ``check`` validates each finding name, operator and value."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConditionSyntaxError("a condition is a non-empty mapping (finding: value, or all/any/not)", location)
    parts = [_parse_entry(str(key), value, check, (*location, str(key))) for key, value in raw.items()]
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _parse_entry(key: str, value: Any, check: ValueCheck, location: tuple[str | int, ...]) -> Condition:
    if key in ("all", "any"):
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise ConditionSyntaxError(f"'{key}' takes a non-empty list of conditions", location)
        parts = tuple(parse_condition(item, check, (*location, i)) for i, item in enumerate(value))
        return AllOf(parts) if key == "all" else AnyOf(parts)
    if key == "not":
        return Not(parse_condition(value, check, location))
    if isinstance(value, Mapping):
        if not value:
            raise ConditionSyntaxError(f"comparison on '{key}' is empty", location)
        tests: list[Condition] = []
        for op, operand in value.items():
            if op not in OPERATORS:
                raise ConditionSyntaxError(
                    f"unknown operator {op!r} on '{key}'; expected one of {', '.join(OPERATORS)}",
                    (*location, str(op)),
                )
            tests.append(_comparison(key, op, operand, check, (*location, str(op))))
        return tests[0] if len(tests) == 1 else AllOf(tuple(tests))
    return _comparison(key, "==", value, check, location)


def _comparison(
    finding: str, op: Operator, operand: Any, check: ValueCheck, location: tuple[str | int, ...]
) -> Comparison:
    check(finding, op, operand, location)
    if op == "in":
        return Comparison(finding, op, tuple(operand))
    return Comparison(finding, op, operand)
