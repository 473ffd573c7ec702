"""Case files: a vignette, its findings and (for curated cases) what the engine is expected to conclude."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ddx.errors import DdxInputError, shown
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


_SCALE_KEYS = frozenset({"-2", "-1", "0", "1", "2"})


class CaseQuiz(BaseModel):
    """Optional teaching data: which script-concordance items to ask, and a teachers' panel's answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: tuple[str, ...] = ()
    panel: dict[str, dict[int, int]] = Field(default_factory=dict, description="Item id → {answer: count}")

    @field_validator("items")
    @classmethod
    def _each_item_once(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        repeated = next((item for item in items if items.count(item) > 1), None)
        if repeated is not None:
            raise ValueError(f"{shown(repeated)} is listed twice; list each item once")
        return items

    @field_validator("panel", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, panel: Any) -> Any:
        """Answers are written -2 … 2 and counts as whole numbers: no "+1", no true, no "3"."""
        if not isinstance(panel, dict):
            return panel
        for item, counts in panel.items():
            if not isinstance(counts, dict):
                continue
            for answer, count in counts.items():
                if isinstance(answer, str) and answer not in _SCALE_KEYS:
                    raise ValueError(f"{item}: answer {shown(answer)} is not -2, -1, 0, 1 or 2")
                if isinstance(count, bool) or not isinstance(count, int):
                    raise ValueError(f"{item}: the count for {answer} is {shown(count)}; expected a whole number")
        return panel

    @field_validator("panel")
    @classmethod
    def _answers_on_the_scale(cls, panel: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
        for item, counts in panel.items():
            if any(answer not in (-2, -1, 0, 1, 2) or count < 0 for answer, count in counts.items()):
                raise ValueError(f"{item}: panel answers are −2…+2 with counts ≥ 0")
        return panel


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(None, max_length=20_000)
    source: str | None = Field(None, max_length=2_000)
    findings: Findings = Field(default_factory=Findings)
    expect: Expectation | None = None
    quiz: CaseQuiz | None = None


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
    check_limits(data, document)
    if isinstance(data.get("findings"), dict):
        refuse_quoted_numbers(data["findings"], document, ("findings",))
    try:
        return Case.model_validate(data)
    except ValidationError as error:
        raise validation_error_to_input_error(error, document, model_name="case") from None


def refuse_quoted_numbers(findings: dict[str, Any], document: LoadedDocument, location: tuple[str, ...]) -> None:
    """Numbers are numbers: ``"7"`` for a numeric finding is refused, as it is for ``age_years`` (one rule)."""
    for name, value in findings.items():
        spec = FINDING_SPECS.get(name)
        if spec is not None and spec.kind in ("int", "number") and isinstance(value, str):
            raise DdxInputError(
                f"got {shown(value)} (text); expected {spec.describe_allowed()}, written without quotes",
                source=document.source,
                line=document.line_of((*location, name)),
                field=".".join((*location, name)),
            )


# Bounds on the work a case can ask for, not just on its bytes: lists and text are validated, compared and
# rendered, so each is capped where it is read. Every curated case is far inside them.
MAX_LIST_ITEMS = 100
MAX_KEY_CHARACTERS = 200
MAX_TEXT_CHARACTERS = 20_000


def check_limits(data: Any, document: LoadedDocument) -> None:
    """Refuse lists longer than :data:`MAX_LIST_ITEMS`, keys longer than :data:`MAX_KEY_CHARACTERS`
    and text longer than :data:`MAX_TEXT_CHARACTERS`, anywhere in the document, naming the line."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        node, location = stack.pop()
        field = ".".join(str(part) for part in location) or None
        problem = None
        if isinstance(node, list) and len(node) > MAX_LIST_ITEMS:
            problem = f"a list of {len(node)} items; at most {MAX_LIST_ITEMS}"
        elif isinstance(node, str) and len(node) > MAX_TEXT_CHARACTERS:
            problem = f"text of {len(node)} characters; at most {MAX_TEXT_CHARACTERS}"
        elif isinstance(node, dict):
            if len(node) > MAX_LIST_ITEMS:
                problem = f"a mapping of {len(node)} keys; at most {MAX_LIST_ITEMS}"
            long_key = next((key for key in node if len(key) > MAX_KEY_CHARACTERS), None)
            if long_key is not None:
                raise DdxInputError(
                    f"a key of {len(long_key)} characters; at most {MAX_KEY_CHARACTERS}",
                    source=document.source,
                    line=document.line_of((*location, long_key)),
                    field=field,
                )
            stack.extend((value, (*location, key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, (*location, index)) for index, value in enumerate(node))
        if problem is not None:
            raise DdxInputError(problem, source=document.source, line=document.line_of(location), field=field)


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
        return f"got {shown(given)}; expected {spec.describe_allowed()}{hint}"
    if kind == "missing":
        return "is required"
    if location[:1] == ("expect",) and kind == "literal_error" and isinstance(given, str):
        return f"got {shown(given)}; {detail['msg'].lower()}"
    return f"got {shown(given)}; {detail['msg']}" if given is not None else str(detail["msg"])


def discover_case_files(directory: Path) -> list[Path]:
    """Case files under ``directory`` in a stable order."""
    files = [p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml", ".json"} and p.is_file()]
    return sorted(files)
