"""What a finding is to the engine: its spec (type, range, values, the words people use) and its values.

The vocabulary itself is data (the pack's ``findings.yaml``, loaded by :mod:`ddx.vocabulary`); this
module holds what every consumer does with one finding: check a value, describe what is allowed, read
what a person typed, show a value as people read it. Every finding is optional and ``None`` means
*unknown*, which is never the same as ``False``.
"""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ddx.conditions import Condition


class Findings(BaseModel):
    """Structured findings of one case; absent (None) means unknown.

    This is the base of every pack's findings model: :mod:`ddx.vocabulary` adds one optional field per
    finding of the pack's ``findings.yaml``, strict (numbers are numbers, booleans are booleans).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True, defer_build=True)

    def known(self) -> dict[str, Any]:
        """Only the known findings, in vocabulary order (the canonical fact asserted into the engine)."""
        return {name: value for name, value in self.__dict__.items() if value is not None}

    def unknown_names(self) -> list[str]:
        return [name for name, value in self.__dict__.items() if value is None]


FindingKind = Literal["bool", "enum", "int", "number"]


@dataclass(frozen=True)
class ValueSpec:
    """One allowed value of a choice: its id (as in case files), label, meaning and the words for it."""

    id: str
    label: str = ""
    meaning: str = ""
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class FindingSpec:
    """What a finding can hold and how people name it, read from the pack's vocabulary."""

    name: str
    kind: FindingKind
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    label: str = ""
    meaning: str = ""
    section: str = ""
    unit: str | None = None
    values: tuple[ValueSpec, ...] = ()
    synonyms: tuple[str, ...] = ()
    applies_when: Condition | None = field(default=None, compare=False)
    not_read_because: str | None = None

    @property
    def title(self) -> str:
        """The label people read (falls back to the id)."""
        return self.label or self.name

    def value_spec(self, value: str) -> ValueSpec | None:
        return next((v for v in self.values if v.id == value), None)

    def value_label(self, value: Any) -> str:
        """A value as people read it: a choice's label, yes/no, a number with its unit."""
        if self.kind == "enum":
            spec = self.value_spec(str(value))
            return spec.label if spec is not None and spec.label else str(value)
        if self.kind == "bool":
            return "yes" if value else "no"
        text = display_value(value)
        return f"{text} {self.unit}" if self.unit else text

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is a legal (known) value of this finding."""
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "enum":
            return isinstance(value, str) and value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.minimum is not None:
            if self.exclusive_minimum and value <= self.minimum:
                return False
            if not self.exclusive_minimum and value < self.minimum:
                return False
        return not (self.maximum is not None and value > self.maximum)

    def describe_allowed(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "enum":
            return "one of " + ", ".join(self.choices)
        low = "" if self.minimum is None else f"{'>' if self.exclusive_minimum else '≥'} {self.minimum:g}"
        high = "" if self.maximum is None else f"≤ {self.maximum:g}"
        kind = "an integer" if self.kind == "int" else "a number"
        bounds = " and ".join(b for b in (low, high) if b)
        return f"{kind} {bounds}".strip()


def suggest(name: str, candidates: typing.Iterable[str]) -> str:
    """A "did you mean" suffix for a misspelt name, or an empty string."""
    options = list(candidates)
    prefixed = [c for c in options if c.startswith(name) or name.startswith(c)] if len(name) >= 3 else []
    matches = prefixed[:1] or difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if not matches and len(name) >= 4:
        # A misspelt beginning of a long value ("haemorhag" for haemorrhagic): compare like with like.
        heads = {option[: len(name)]: option for option in options}
        close = difflib.get_close_matches(name, list(heads), n=1, cutoff=0.75)
        matches = [heads[close[0]]] if close else []
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def display_value(value: Any) -> str:
    """A finding's value as people read it (and as ``ddx`` prints it): true/false, 7 rather than 7.0."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


UNKNOWN_WORDS = frozenset({"unknown", "skip", "?", "u", "na", "n/a", "-"})
_TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
_FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})


class AnswerError(ValueError):
    """An answer that is not a value of its finding; the message says what is expected."""


def parse_answer(spec: FindingSpec, text: str) -> Any:
    """A typed value for ``spec`` from what a person typed; ``None`` for unknown. Raises :class:`AnswerError`.

    Booleans take yes/no/true/false; choices take the value, its label or a synonym from the vocabulary,
    its number in the list, or a unique beginning or part of one (case-insensitive); numbers are
    range-checked and may carry the finding's own unit ("7 mm").
    """
    answer = text.strip()
    if answer.lower() in UNKNOWN_WORDS or answer == "":
        return None
    lowered = answer.lower()
    if spec.kind == "bool":
        if lowered in _TRUE_WORDS:
            return True
        if lowered in _FALSE_WORDS:
            return False
        raise AnswerError(f"{answer!r} is not yes or no")
    if spec.kind == "enum":
        return _parse_choice(spec, answer)
    digits = answer
    if spec.unit and digits.lower().endswith(spec.unit.lower()):
        digits = digits[: -len(spec.unit)].strip()
    try:
        number = float(digits.replace(",", "."))
    except ValueError:
        raise AnswerError(f"{answer!r} is not a number; expected {spec.describe_allowed()}") from None
    value: int | float = number
    if spec.kind == "int":
        if not number.is_integer():
            raise AnswerError(f"{answer!r} is not a whole number; expected {spec.describe_allowed()}")
        value = int(number)
    if not spec.accepts(value):
        raise AnswerError(f"{answer} is out of range; expected {spec.describe_allowed()}")
    return value


def normalise(text: str) -> str:
    """A word as the interview compares it: lower case, with _ and - as spaces, single-spaced."""
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def _parse_choice(spec: FindingSpec, answer: str) -> str:
    """The value's id, number, label or a synonym; else a unique beginning, else a unique part of one."""
    typed = normalise(answer)
    if typed.isdigit() and 1 <= int(typed) <= len(spec.choices):
        return spec.choices[int(typed) - 1]
    names = _value_names(spec)
    exact = {value for name, value in names if name == typed}
    if len(exact) == 1:
        return exact.pop()
    for matches in (
        {value for name, value in names if name.startswith(typed)},
        {value for name, value in names if typed in name} if len(typed) >= 3 else set(),
    ):
        if len(matches) == 1:
            return matches.pop()
        if len(matches) > 1:
            ordered = [c for c in spec.choices if c in matches]
            raise AnswerError(f"{answer!r} matches {', '.join(ordered[:-1])} and {ordered[-1]}; type more of one")
    hint = suggest(typed.replace(" ", "_"), spec.choices)
    raise AnswerError(f"{answer!r} is not {spec.describe_allowed()}{hint}")


def _value_names(spec: FindingSpec) -> list[tuple[str, str]]:
    """Every name a choice answers to, normalised: its id, label and synonyms."""
    names: list[tuple[str, str]] = []
    for choice in spec.choices:
        value = spec.value_spec(choice)
        words = (choice, *((value.label, *value.synonyms) if value is not None else ()))
        names += [(normalise(word), choice) for word in words if word]
    return names


def finding_names(specs: Mapping[str, FindingSpec]) -> dict[str, str]:
    """Every name a finding answers to at a prompt or in ``--set``: its id and its label, normalised."""
    names: dict[str, str] = {}
    for name, spec in specs.items():
        names[normalise(name)] = name
        if spec.label:
            names.setdefault(normalise(spec.label), name)
    return names
