"""Case files: a vignette, its findings and (for curated cases) what the engine is expected to conclude."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ddx.errors import DdxInputError
from ddx.findings import FINDING_SPECS, Findings, suggest
from ddx.yamlsource import LoadedDocument, load_document

DiagnosisId = Literal["avulsion", "myositis_ossificans", "sarcoma"]
DIAGNOSIS_IDS: tuple[DiagnosisId, ...] = ("avulsion", "myositis_ossificans", "sarcoma")
ConditionStatus = Literal["present", "absent", "indeterminate"]


class Expectation(BaseModel):
    """What a curated case must produce. Every key is optional; only what is stated is checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    top: DiagnosisId | None = None
    order: tuple[DiagnosisId, DiagnosisId, DiagnosisId] | None = None
    impingement: ConditionStatus | None = None
    red_flags: bool | None = Field(None, description="true: at least one red flag (any severity); false: none")
    urgent_red_flag: bool | None = Field(None, description="true: at least one urgent red flag; false: none")
    fires: tuple[str, ...] = ()
    does_not_fire: tuple[str, ...] = ()

    @field_validator("order")
    @classmethod
    def _order_is_a_permutation(
        cls, order: tuple[DiagnosisId, DiagnosisId, DiagnosisId] | None
    ) -> tuple[DiagnosisId, DiagnosisId, DiagnosisId] | None:
        if order is not None and len(set(order)) != 3:
            raise ValueError("order must name each of avulsion, myositis_ossificans, sarcoma once")
        return order


class CaseQuiz(BaseModel):
    """Optional teaching data: which script-concordance items to ask, and a teachers' panel's answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: tuple[str, ...] = ()
    panel: dict[str, dict[int, int]] = Field(default_factory=dict, description="Item id → {answer: count}")

    @field_validator("panel")
    @classmethod
    def _answers_on_the_scale(cls, panel: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
        for item, counts in panel.items():
            if any(answer not in (-2, -1, 0, 1, 2) or count < 0 for answer, count in counts.items()):
                raise ValueError(f"{item}: panel answers are −2…+2 with counts ≥ 0")
        return panel


class Reference(BaseModel):
    """For a validation case: the final diagnosis and where the case was published (never used to rank)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    diagnosis: str = Field(min_length=1, description="The final diagnosis's id in the rule pack")
    subtype: str | None = Field(None, max_length=500)
    confirmed_by: Literal["histology", "surgery", "follow_up", "imaging"]
    citation: str = Field(min_length=1, max_length=2_000)
    doi: str | None = Field(None, max_length=200)
    pmid: str | None = Field(None, max_length=20)
    url: str | None = Field(None, max_length=2_000)
    checked: str = Field(min_length=1, max_length=5_000, description="What was read in the source, and what was used")
    hard: str | None = Field(None, max_length=2_000, description="Why the case is hard (a mimic, biopsied, ...)")


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(None, max_length=20_000)
    source: str | None = Field(None, max_length=2_000)
    findings: Findings = Field(default_factory=Findings)
    expect: Expectation | None = None
    quiz: CaseQuiz | None = None
    reference: Reference | None = None


def load_case(path: Path) -> Case:
    """Load and validate one case file, or raise :class:`DdxInputError` with file, line and field."""
    return case_from_document(load_document(path))


def case_from_document(document: LoadedDocument) -> Case:
    data = document.data
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise DdxInputError(
            f"expected a mapping with id, title and findings, got {kind}", source=document.source, line=1
        )
    try:
        return Case.model_validate(data)
    except ValidationError as error:
        raise validation_error_to_input_error(error, document, model_name="case") from None


_TOP_LEVEL_KEYS = tuple(Case.model_fields)
_EXPECT_KEYS = tuple(Expectation.model_fields)


def validation_error_to_input_error(
    error: ValidationError, document: LoadedDocument, *, model_name: str
) -> DdxInputError:
    """Turn pydantic's first error into one line naming the field, its line and what was expected."""
    first = error.errors(include_url=False)[0]
    location: tuple[str | int, ...] = tuple(first["loc"])
    field = ".".join(str(part) for part in location) or model_name
    message = _explain(first, location)
    return DdxInputError(message, source=document.source, line=document.line_of(location), field=field)


def _explain(detail: Any, location: tuple[str | int, ...]) -> str:
    kind = detail["type"]
    name = str(location[-1]) if location else ""
    given = detail.get("input")
    if kind == "extra_forbidden":
        candidates: tuple[str, ...] = ()
        if location[:1] == ("findings",):
            candidates = tuple(FINDING_SPECS)
        elif location[:1] == ("expect",):
            candidates = _EXPECT_KEYS
        elif len(location) == 1:
            candidates = _TOP_LEVEL_KEYS
        where = "finding" if location[:1] == ("findings",) else "key"
        return f"unknown {where} '{name}'{suggest(name, candidates)}"
    if location[:1] == ("findings",) and len(location) == 2 and name in FINDING_SPECS:
        spec = FINDING_SPECS[name]
        hint = suggest(str(given), spec.choices) if spec.kind == "enum" and isinstance(given, str) else ""
        return f"got {given!r}; expected {spec.describe_allowed()}{hint}"
    if kind == "missing":
        return "is required"
    if location[:1] == ("expect",) and kind == "literal_error" and isinstance(given, str):
        return f"got {given!r}; {detail['msg'].lower()}"
    return f"got {given!r}; {detail['msg']}" if given is not None else str(detail["msg"])


def discover_case_files(directory: Path) -> list[Path]:
    """Case files under ``directory`` in a stable order."""
    files = [p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml", ".json"} and p.is_file()]
    return sorted(files)
