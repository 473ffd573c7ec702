"""The finding vocabulary: names, types, units and allowed values, in one pydantic model.

Every finding is optional and ``None`` means *unknown*, which is never the same as ``False``.
Everything else in ddx (rule linting, the JSON Schema, unknown-finding analysis, the interview)
reads the vocabulary from :data:`FINDING_SPECS`, derived from this model, so it is written once.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

Sex = Literal["female", "male"]
TraumaHistory = Literal["none", "remote", "recent"]
Site = Literal["ischial_tuberosity", "proximal_thigh", "buttock", "other"]
MineralizationPattern = Literal["corticomedullary", "zonal_peripheral", "central", "amorphous", "none"]
LesionMaturity = Literal["mature", "maturing", "immature"]
QuadratusFemorisState = Literal["normal", "edema", "atrophy", "edema_and_atrophy"]

NonNegative = Annotated[float, Field(ge=0)]


class Findings(BaseModel):
    """Structured findings of one case. Absent (None) means unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=False)

    age_years: Annotated[int | None, Field(ge=0, le=120, description="Age in years", strict=True)] = None
    sex: Sex | None = Field(None, description="Sex")
    trauma_history: TraumaHistory | None = Field(
        None, description="Trauma history: none, remote (> 3 months ago) or recent (≤ 3 months)"
    )
    forceful_hamstring_contraction: bool | None = Field(
        None,
        description="A known sprint, kick or split-type forceful hamstring event, at any age",
        strict=True,
    )
    symptom_duration_weeks: float | None = Field(None, ge=0, description="Symptom duration in weeks")
    radiating_pain: bool | None = Field(
        None, description="Pain radiating down the leg (sciatic irritation)", strict=True
    )
    palpable_mass: bool | None = Field(None, description="A palpable mass or bulge", strict=True)
    site: Site | None = Field(None, description="Site of the lesion")
    lesion_attached_to_bone: bool | None = Field(
        None, description="Lesion in continuity with the ischium or apophysis", strict=True
    )
    cleft_from_bone: bool | None = Field(
        None, description="A clear cleft separates the lesion from adjacent bone", strict=True
    )
    tendon_attachment: bool | None = Field(None, description="Hamstring tendons insert on the lesion", strict=True)
    mineralization_pattern: MineralizationPattern | None = Field(
        None, description="Mineralisation pattern of the lesion"
    )
    lesion_maturity: LesionMaturity | None = Field(
        None, description="Maturity of the ossification: mature = cortex and marrow"
    )
    mr_signal_like_bone: bool | None = Field(
        None, description="MR signal of the lesion equal to normal bone", strict=True
    )
    soft_tissue_mass: bool | None = Field(
        None, description="A non-ossified, enhancing soft-tissue component", strict=True
    )
    surrounding_edema: bool | None = Field(None, description="Oedema around the lesion", strict=True)
    bone_destruction: bool | None = Field(None, description="Destruction of adjacent bone", strict=True)
    periosteal_reaction: bool | None = Field(None, description="Periosteal reaction", strict=True)
    infiltrative_margins: bool | None = Field(None, description="Ill-defined, infiltrative margins", strict=True)
    growth_on_followup: bool | None = Field(None, description="Growth on follow-up imaging", strict=True)
    lesion_size_cm: float | None = Field(None, gt=0, le=100, description="Largest dimension in cm")
    fragment_displacement_cm: float | None = Field(
        None, ge=0, le=100, description="Displacement of an avulsed fragment from its bed, in cm"
    )
    deep_to_fascia: bool | None = Field(None, description="Lesion lies deep to the fascia", strict=True)
    degenerative_changes: bool | None = Field(
        None, description="Degenerative change at the lesion (chronicity)", strict=True
    )
    ischiofemoral_space_mm: float | None = Field(
        None, ge=0, le=200, description="Ischiofemoral space in mm (ischial tuberosity to lesser trochanter)"
    )
    quadratus_femoris_space_mm: float | None = Field(None, ge=0, le=200, description="Quadratus femoris space in mm")
    quadratus_femoris: QuadratusFemorisState | None = Field(None, description="State of the quadratus femoris muscle")
    history_of_malignancy: bool | None = Field(None, description="A history of malignancy (any primary)", strict=True)

    def known(self) -> dict[str, Any]:
        """Only the known findings, in vocabulary order (the canonical fact asserted into the engine)."""
        return {name: value for name, value in self.__dict__.items() if value is not None}

    def unknown_names(self) -> list[str]:
        return [name for name, value in self.__dict__.items() if value is None]


FindingKind = Literal["bool", "enum", "int", "number"]


@dataclass(frozen=True)
class FindingSpec:
    """What a finding can hold, read off the :class:`Findings` model."""

    name: str
    kind: FindingKind
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False

    @property
    def unit(self) -> str | None:
        for suffix, unit in (("_mm", "mm"), ("_cm", "cm"), ("_weeks", "weeks"), ("_years", "years")):
            if self.name.endswith(suffix):
                return unit
        return None

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


def _spec_for(name: str) -> FindingSpec:
    field = Findings.model_fields[name]
    annotation = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    inner = args[0] if args else annotation
    minimum: float | None = None
    maximum: float | None = None
    exclusive = False
    for constraint in field.metadata:
        if getattr(constraint, "ge", None) is not None:
            minimum = float(constraint.ge)
        if getattr(constraint, "gt", None) is not None:
            minimum, exclusive = float(constraint.gt), True
        if getattr(constraint, "le", None) is not None:
            maximum = float(constraint.le)
    description = field.description or name
    if typing.get_origin(inner) is Literal:
        return FindingSpec(name, "enum", description, choices=tuple(str(c) for c in typing.get_args(inner)))
    if inner is bool:
        return FindingSpec(name, "bool", description)
    kind: FindingKind = "int" if inner is int else "number"
    return FindingSpec(name, kind, description, minimum=minimum, maximum=maximum, exclusive_minimum=exclusive)


def _is_optional(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin in (Union, types.UnionType) and type(None) in typing.get_args(annotation)


FINDING_SPECS: dict[str, FindingSpec] = {
    name: _spec_for(name) for name, field in Findings.model_fields.items() if _is_optional(field.annotation)
}


def suggest(name: str, candidates: typing.Iterable[str]) -> str:
    """A "did you mean" suffix for a misspelt name, or an empty string."""
    options = list(candidates)
    prefixed = [c for c in options if c.startswith(name) or name.startswith(c)] if len(name) >= 3 else []
    matches = prefixed[:1] or difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if not matches and len(name) >= 4:
        # A misspelt beginning of a long value ("ischal" for ischial_tuberosity): compare like with like.
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

    Booleans take yes/no/true/false; choices take the value, a unique prefix, or its number in the list
    (case-insensitive); numbers are range-checked.
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
    try:
        number = float(answer.replace(",", "."))
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


def _parse_choice(spec: FindingSpec, answer: str) -> str:
    lowered = answer.lower().replace(" ", "_").replace("-", "_")
    if lowered.isdigit() and 1 <= int(lowered) <= len(spec.choices):
        return spec.choices[int(lowered) - 1]
    if lowered in spec.choices:
        return lowered
    prefixed = [c for c in spec.choices if c.startswith(lowered)]
    if len(prefixed) == 1:
        return prefixed[0]
    hint = suggest(lowered, spec.choices)
    raise AnswerError(f"{answer!r} is not {spec.describe_allowed()}{hint}")
