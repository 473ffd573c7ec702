"""The pack's finding vocabulary (``findings.yaml``) → finding specs, and the pydantic model built from them.

The vocabulary is knowledge, kept beside the rules: a knowledge engineer adds a finding with one YAML
edit. Everything that names, asks, checks or shows a finding (case files, ``--set``, the interview, the
reports, the quizzes, ``ddx schema``, ``ddx rules lint``) reads it from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from ddx.conditions import ConditionSyntaxError, Operator, parse_condition
from ddx.errors import DdxInputError
from ddx.findings import FindingKind, Findings, FindingSpec, ValueSpec, suggest
from ddx.yamlsource import LoadedDocument

VOCABULARY_FILE = "findings.yaml"
ID_PATTERN = r"^[a-z][a-z0-9_]*$"
_KINDS: dict[str, FindingKind] = {"boolean": "bool", "choice": "enum", "integer": "int", "number": "number"}


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True)


class _ValueEntry(_Entry):
    id: str = Field(pattern=ID_PATTERN)
    label: str = Field(min_length=1)
    meaning: str = Field(min_length=1)
    synonyms: tuple[str, ...] = ()


class _SectionEntry(_Entry):
    id: str = Field(pattern=ID_PATTERN)
    label: str = Field(min_length=1)


class _FindingEntry(_Entry):
    id: str = Field(pattern=ID_PATTERN)
    type: Literal["boolean", "choice", "integer", "number"]
    label: str = Field(min_length=1)
    question: str = Field(min_length=1)
    meaning: str = Field(min_length=1)
    section: str
    unit: str | None = None
    # Numbers are numbers: a quoted bound or flag in the vocabulary is refused, as in case files.
    minimum: float | None = Field(None, strict=True)
    maximum: float | None = Field(None, strict=True)
    exclusive_minimum: bool = Field(False, strict=True)
    values: tuple[_ValueEntry, ...] = ()
    synonyms: tuple[str, ...] = ()
    applies_when: Any = None
    not_read_because: str | None = None

    @model_validator(mode="after")
    def _fits_its_type(self) -> _FindingEntry:
        if self.type == "choice" and len(self.values) < 2:
            raise ValueError("a choice needs at least two values")
        if self.type != "choice" and self.values:
            raise ValueError(f"only a choice has values; this finding is {self.type}")
        numeric = self.type in ("integer", "number")
        if not numeric and (self.minimum is not None or self.maximum is not None or self.unit is not None):
            raise ValueError("unit, minimum and maximum are for integer and number findings")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum:g} is above maximum {self.maximum:g}")
        ids = [value.id for value in self.values]
        repeated = next((v for v in ids if ids.count(v) > 1), None)
        if repeated is not None:
            raise ValueError(f"value '{repeated}' is listed twice")
        return self


class _DerivedEntry(_Entry):
    id: str = Field(pattern=ID_PATTERN)
    meaning: str = Field(min_length=1)


class _VocabularyFile(_Entry):
    sections: tuple[_SectionEntry, ...] = Field(min_length=1)
    findings: tuple[_FindingEntry, ...] = Field(min_length=1)
    derived: tuple[_DerivedEntry, ...] = ()


class Vocabulary:
    """Every finding of a pack, in the order of its file, and what is known about each.

    A plain class rather than a model: the pack holds it as loaded, and nothing re-validates it.
    """

    def __init__(
        self,
        specs: dict[str, FindingSpec],
        sections: dict[str, str],
        derived_meanings: dict[str, str],
        source: str,
        lines: dict[str, int],
    ) -> None:
        self.specs = specs
        self.sections = sections
        self.derived_meanings = derived_meanings
        self.source = source
        self.lines = lines

    def line_of(self, finding: str) -> int | None:
        return self.lines.get(finding)

    @cached_property
    def findings_model(self) -> type[Findings]:
        """The pack's findings as a strict, frozen pydantic model: one optional field per finding."""
        fields: dict[str, Any] = {name: _field(spec) for name, spec in self.specs.items()}
        model: type[Findings] = create_model("Findings", __base__=Findings, __module__=__name__, **fields)
        return model

    def by_section(self) -> dict[str, list[FindingSpec]]:
        grouped: dict[str, list[FindingSpec]] = {section: [] for section in self.sections}
        for spec in self.specs.values():
            grouped[spec.section].append(spec)
        return grouped


def _field(spec: FindingSpec) -> tuple[Any, Any]:
    description = spec.meaning or spec.description
    if spec.kind == "bool":
        return bool | None, Field(None, title=spec.title, description=description)
    if spec.kind == "enum":
        values = "; ".join(f"{v.id}: {' '.join(v.meaning.split())}" for v in spec.values)
        return Literal[spec.choices] | None, Field(
            None,
            title=spec.title,
            description=f"{description} Values: {values}",
            json_schema_extra=_value_meanings(spec),
        )
    low = spec.minimum
    ge, gt = (None, low) if spec.exclusive_minimum else (low, None)
    bounded = Field(None, title=spec.title, description=description, ge=ge, gt=gt, le=spec.maximum)
    return (int | None if spec.kind == "int" else float | None), bounded


def _value_meanings(spec: FindingSpec) -> Any:
    """``ddx schema``: each value of a choice as a ``const`` with its label and meaning, so editors show them."""

    def rewrite(schema: dict[str, Any]) -> None:
        consts = [
            {"const": v.id, "title": v.label or v.id, "description": " ".join(v.meaning.split())} for v in spec.values
        ]
        schema["anyOf"] = [{"type": "string", "oneOf": consts}, {"type": "null"}]

    return rewrite


def load_vocabulary(document: LoadedDocument) -> Vocabulary:
    """Read a ``findings.yaml`` document, or raise :class:`DdxInputError` naming its line and field."""
    if not isinstance(document.data, dict):
        raise DdxInputError("expected a mapping with sections and findings", source=document.source, line=1)
    try:
        parsed = _VocabularyFile.model_validate(document.data)
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        location = tuple(detail["loc"])
        finding = _finding_at(document, location)
        given = detail.get("input")
        shown = f"got {given!r}; " if isinstance(given, str | int | float) and not isinstance(given, bool) else ""
        message = {"extra_forbidden": f"unknown key '{location[-1]}'", "missing": "is required"}.get(
            detail["type"], f"{shown}{detail['msg']}"
        )
        raise DdxInputError(
            message,
            source=document.source,
            line=document.line_of(location),
            field=".".join(str(p) for p in ((*location[:1], finding, *location[2:]) if finding else location)),
        ) from None
    sections = {section.id: section.label for section in parsed.sections}
    specs: dict[str, FindingSpec] = {}
    lines: dict[str, int] = {}
    for index, entry in enumerate(parsed.findings):
        where = ("findings", index)
        if entry.id in specs:
            raise _problem(document, where, entry.id, f"finding '{entry.id}' is defined twice")
        if entry.section not in sections:
            raise _problem(
                document,
                (*where, "section"),
                entry.id,
                f"unknown section '{entry.section}'{suggest(entry.section, sections)}; expected one of "
                + ", ".join(sections),
            )
        specs[entry.id] = _spec(entry)
        lines[entry.id] = document.line_of(where) or 0
    for index, entry in enumerate(parsed.findings):
        if entry.applies_when is not None:
            try:
                condition = parse_condition(entry.applies_when, _applies_check(specs, entry.id))
            except ConditionSyntaxError as error:
                raise _problem(
                    document, ("findings", index, "applies_when", *error.location), entry.id, str(error)
                ) from None
            specs[entry.id] = dataclasses.replace(specs[entry.id], applies_when=condition)
    return Vocabulary(
        specs=specs,
        sections=sections,
        derived_meanings={entry.id: entry.meaning for entry in parsed.derived},
        source=document.source,
        lines=lines,
    )


def _spec(entry: _FindingEntry) -> FindingSpec:
    values = tuple(ValueSpec(v.id, v.label, v.meaning, v.synonyms) for v in entry.values)
    return FindingSpec(
        name=entry.id,
        kind=_KINDS[entry.type],
        description=entry.question,
        choices=tuple(v.id for v in values),
        minimum=entry.minimum,
        maximum=entry.maximum,
        exclusive_minimum=entry.exclusive_minimum,
        label=entry.label,
        meaning=" ".join(entry.meaning.split()),
        section=entry.section,
        unit=entry.unit,
        values=values,
        synonyms=entry.synonyms,
        not_read_because=entry.not_read_because,
    )


def _applies_check(specs: Mapping[str, FindingSpec], owner: str) -> Any:
    def check(finding: str, op: Operator, operand: Any, location: tuple[str | int, ...]) -> None:
        spec = specs.get(finding)
        if spec is None:
            raise ConditionSyntaxError(f"unknown finding '{finding}'{suggest(finding, specs)}", location)
        if finding == owner:
            raise ConditionSyntaxError(f"'{owner}' cannot depend on itself", location)
        for value in operand if op == "in" and isinstance(operand, list) else [operand]:
            if not spec.accepts(value):
                raise ConditionSyntaxError(
                    f"{value!r} is not a value of '{finding}'; expected {spec.describe_allowed()}", location
                )

    return check


def _finding_at(document: LoadedDocument, location: tuple[Any, ...]) -> str | None:
    if len(location) >= 2 and location[0] == "findings" and isinstance(location[1], int):
        findings = document.data.get("findings") if isinstance(document.data, dict) else None
        if isinstance(findings, list) and location[1] < len(findings) and isinstance(findings[location[1]], dict):
            found = findings[location[1]].get("id")
            return found if isinstance(found, str) else None
    return None


def _problem(document: LoadedDocument, location: tuple[str | int, ...], finding: str, message: str) -> DdxInputError:
    return DdxInputError(message, source=document.source, line=document.line_of(location), field=f"findings.{finding}")


def type_name(kind: FindingKind) -> str:
    """The vocabulary file's word for a finding kind."""
    return next(name for name, value in _KINDS.items() if value == kind)


__all__ = ["VOCABULARY_FILE", "Vocabulary", "load_vocabulary", "type_name"]
