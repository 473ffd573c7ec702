"""Case files: a vignette, its findings and (for curated cases) what the engine is expected to conclude."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from ddx.errors import DdxInputError, shown
from ddx.findings import Findings, FindingSpec, suggest
from ddx.yamlsource import LoadedDocument, default_cache_dir, load_document

if TYPE_CHECKING:
    from ddx.rulepack import RulePack

ConditionStatus = Literal["present", "absent", "indeterminate"]


class Expectation(BaseModel):
    """What a curated case must produce. Every key is optional; only what is stated is checked.

    Each pack's expectation model (:func:`case_model`) adds one key per secondary condition (its
    ``key`` in ``pack.yaml``) and checks diagnosis ids against the pack.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    diagnoses: ClassVar[tuple[str, ...]] = ()
    conditions: ClassVar[dict[str, str]] = {}
    """Condition key in the case file → the condition's id."""

    top: str | None = None
    order: tuple[str, ...] | None = None
    red_flags: bool | None = Field(None, description="true: at least one red flag (any severity); false: none")
    urgent_red_flag: bool | None = Field(None, description="true: at least one urgent red flag; false: none")
    fires: tuple[str, ...] = ()
    does_not_fire: tuple[str, ...] = ()

    @field_validator("top")
    @classmethod
    def _a_diagnosis_of_the_pack(cls, top: str | None) -> str | None:
        if top is not None and cls.diagnoses and top not in cls.diagnoses:
            raise ValueError(f"'{top}' is not a diagnosis of the pack{suggest(top, cls.diagnoses)}")
        return top

    @field_validator("order")
    @classmethod
    def _each_diagnosis_once(cls, order: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if order is None or not cls.diagnoses:
            return order
        # Which diagnoses a case ranks depends on its prior context, so the order names some of them, each once.
        stray = next((d for d in order if d not in cls.diagnoses), None)
        if stray is not None or len(set(order)) != len(order) or len(order) < 2:
            raise ValueError(f"order must name at least two of {', '.join(cls.diagnoses)}, each once")
        return order

    def statuses(self) -> dict[str, str]:
        """Expected status by condition id, for the conditions the case states."""
        stated = {key: getattr(self, key, None) for key in type(self).conditions}
        return {type(self).conditions[key]: status for key, status in stated.items() if status is not None}


_SCALE_KEYS = frozenset({"-2", "-1", "0", "1", "2"})


class CaseQuiz(BaseModel):
    """Optional teaching data: which script-concordance items to ask, and a teachers' panel's answers."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

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


class Reference(BaseModel):
    """For a validation case: the final diagnosis and where the case was published (never used to rank)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    diagnosis: str = Field(min_length=1, description="The final diagnosis's id in the rule pack")
    subtype: str | None = Field(None, max_length=500)
    confirmed_by: Literal["histology", "surgery", "follow_up", "imaging"]
    citation: str = Field(min_length=1, max_length=2_000)
    doi: str | None = Field(None, max_length=200)
    pmid: str | None = Field(None, max_length=20)
    url: str | None = Field(None, max_length=2_000)
    checked: str = Field(min_length=1, max_length=5_000, description="What was read in the source, and what was used")
    hard: str | None = Field(None, max_length=2_000, description="Why the case is hard (a mimic, biopsied, ...)")


class MentionRecord(BaseModel):
    """Where an extracted finding was read (``ddx extract``): the words, their span, the sentence, how it was read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(max_length=2_000)
    span: tuple[int, int] = Field(description="Character offsets [start, end) of the words in the report")
    read: Literal["affirmed", "negated", "historical", "hypothetical", "uncertain", "family"]
    section: str | None = Field(None, max_length=200)
    why_not: str | None = Field(None, max_length=500, description="Why this mention does not count")
    sentence: str = Field(max_length=20_000)


class FindingProvenance(BaseModel):
    """For one finding of an extracted case: its value, the mentions that state it, those set aside, any conflict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: bool | int | float | str | None = None
    conflict: str | None = Field(None, max_length=50_000)
    mentions: tuple[MentionRecord, ...] = ()
    set_aside: tuple[MentionRecord, ...] = ()


class Case(BaseModel):
    """A case file. Each pack's own case model (:func:`case_model`) types ``findings`` and ``expect``."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    expectation_model: ClassVar[type[Expectation]] = Expectation

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(None, max_length=20_000)
    source: str | None = Field(None, max_length=2_000)
    findings: Findings = Field(default_factory=Findings)
    expect: Expectation | None = None
    quiz: CaseQuiz | None = None
    reference: Reference | None = None
    provenance: dict[str, FindingProvenance] | None = Field(
        None, description="Written by ddx extract: per finding, the sentences it was read from"
    )


def case_model(pack: RulePack) -> type[Case]:
    """The case model of a pack: its findings and its expectations (diagnoses, conditions), built once."""
    model: type[Case] | None = pack.derived.get("case model")
    if model is None:
        conditions = {c.answer_key: c.id for c in pack.info.conditions}
        status_fields: dict[str, Any] = {
            condition.answer_key: (ConditionStatus | None, Field(None, description=f"expected: {condition.label}"))
            for condition in pack.info.conditions
        }
        expectation = create_model("Expectation", __base__=Expectation, __module__=__name__, **status_fields)
        expectation.diagnoses = pack.diagnosis_ids
        expectation.conditions = conditions
        findings = pack.vocabulary.findings_model
        model = create_model(
            "Case",
            __base__=Case,
            __module__=__name__,
            findings=(findings, Field(default_factory=findings)),
            expect=(expectation | None, None),
        )
        model.expectation_model = expectation
        pack.derived["case model"] = model
    return model


def load_case(path: Path, pack: RulePack | None = None) -> Case:
    """Load and validate one case file against a pack's vocabulary (the shipped pack by default).

    Raises :class:`DdxInputError` with file, line and field.
    """
    return case_from_document(load_document(path, cache_dir=default_cache_dir()), pack)


def case_from_document(document: LoadedDocument, pack: RulePack | None = None) -> Case:
    if pack is None:
        from ddx.api import default_pack

        pack = default_pack()
    data = document.data
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise DdxInputError(
            f"expected a mapping with id, title and findings, got {kind}", source=document.source, line=1
        )
    check_limits(data, document)
    model = case_model(pack)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error_to_input_error(
            error, document, model_name="case", specs=pack.specs, model=model
        ) from None


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


def validation_error_to_input_error(
    error: ValidationError,
    document: LoadedDocument,
    *,
    model_name: str,
    specs: Mapping[str, FindingSpec] | None = None,
    model: type[BaseModel] | None = None,
) -> DdxInputError:
    """Turn pydantic's first error into one line naming the field, its line and what was expected."""
    first = error.errors(include_url=False)[0]
    location: tuple[str | int, ...] = tuple(first["loc"])
    field = ".".join(str(part) for part in location) or model_name
    message = _explain(first, location, specs or {}, model)
    return DdxInputError(message, source=document.source, line=document.line_of(location), field=field)


def _explain(
    detail: Any, location: tuple[str | int, ...], specs: Mapping[str, FindingSpec], model: type[BaseModel] | None
) -> str:
    kind = detail["type"]
    name = str(location[-1]) if location else ""
    given = detail.get("input")
    if kind == "extra_forbidden":
        candidates: tuple[str, ...] = ()
        if location[:1] == ("findings",):
            candidates = tuple(specs)
        elif location[:1] == ("expect",):
            expectation = getattr(model, "expectation_model", Expectation)
            candidates = tuple(expectation.model_fields)
        elif len(location) == 1 and model is not None:
            candidates = tuple(model.model_fields)
        where = "finding" if location[:1] == ("findings",) else "key"
        return f"unknown {where} '{name}'{suggest(name, candidates)}"
    if location[:1] == ("findings",) and len(location) == 2 and name in specs:
        spec = specs[name]
        if isinstance(given, str) and spec.kind in ("int", "number"):
            return f"got {shown(given)} (text); expected {spec.describe_allowed()}, written without quotes"
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
