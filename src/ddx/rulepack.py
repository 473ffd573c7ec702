"""The rule pack: rules, priors, sources and the strength → likelihood-ratio scale, loaded from ``rules/``.

Layout of a rules folder:

* ``pack.yaml`` — name, version, the strength scale, the diagnoses (labels, priors, codes) and the
  secondary conditions;
* ``sources.yaml`` — every citation, by key;
* any other ``*.yaml`` — ``rules: [...]``, each rule with id, title, rationale, citations, ``when``,
  ``effect`` and ``examples``.

Rules are data: they are parsed into immutable models here and never executed.
"""

from __future__ import annotations

import hashlib
import math
import typing
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    ValidationError,
    model_validator,
)

from ddx.case import DIAGNOSIS_IDS, DiagnosisId, validation_error_to_input_error
from ddx.conditions import (
    ORDERING_OPERATORS,
    Condition,
    ConditionSyntaxError,
    Operator,
    comparisons,
    parse_condition,
)
from ddx.errors import DdxInputError
from ddx.findings import FINDING_SPECS, FindingSpec, suggest
from ddx.yamlsource import LoadedDocument, default_cache_dir, load_document

Strength = Literal["strong", "moderate", "weak"]
Direction = Literal["for", "against"]
RULE_ID_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"
MIN_LIKELIHOOD_RATIO = 0.01
MAX_LIKELIHOOD_RATIO = 100.0

# Facts that exist only after ranking; management rules may use them, evidence rules may not.
DERIVED_SPECS: dict[str, FindingSpec] = {
    "top_diagnosis": FindingSpec("top_diagnosis", "enum", "The top-ranked diagnosis", choices=DIAGNOSIS_IDS),
    "ischiofemoral_impingement": FindingSpec(
        "ischiofemoral_impingement",
        "enum",
        "Status of secondary ischiofemoral impingement",
        choices=("present", "absent", "indeterminate"),
    ),
    "urgent_red_flag": FindingSpec("urgent_red_flag", "bool", "At least one urgent red flag was raised"),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Source(_Frozen):
    key: str
    citation: str = Field(min_length=1)
    url: str | None = None
    note: str | None = None


class StrengthScale(_Frozen):
    """Likelihood ratios for evidence *for* a diagnosis; evidence *against* uses the reciprocal."""

    strong: float = Field(gt=1, le=MAX_LIKELIHOOD_RATIO)
    moderate: float = Field(gt=1, le=MAX_LIKELIHOOD_RATIO)
    weak: float = Field(gt=1, le=MAX_LIKELIHOOD_RATIO)
    rationale: str
    citations: tuple[str, ...] = Field(min_length=1)

    def likelihood_ratio(self, strength: Strength, direction: Direction) -> float:
        value: float = getattr(self, strength)
        return value if direction == "for" else 1.0 / value


class Codes(_Frozen):
    icd10: str | None = None
    icd10_system: str | None = None
    snomed_ct: str | None = None
    note: str | None = None
    citations: tuple[str, ...] = ()


class DiagnosisInfo(_Frozen):
    id: DiagnosisId
    label: str
    prior: float = Field(gt=0, lt=1)
    prior_rationale: str
    codes: Codes = Field(default_factory=Codes)


class ConditionInfo(_Frozen):
    id: Literal["ischiofemoral_impingement"]
    label: str
    codes: Codes = Field(default_factory=Codes)


class PackInfo(_Frozen):
    name: str
    version: str
    description: str | None = None
    strength_scale: StrengthScale
    diagnoses: tuple[DiagnosisInfo, ...]
    conditions: tuple[ConditionInfo, ...]

    @model_validator(mode="after")
    def _priors_cover_each_diagnosis_once(self) -> PackInfo:
        ids = [d.id for d in self.diagnoses]
        if sorted(ids) != sorted(DIAGNOSIS_IDS):
            raise ValueError(f"diagnoses must list each of {', '.join(DIAGNOSIS_IDS)} once, got {ids}")
        total = sum(d.prior for d in self.diagnoses)
        if not math.isclose(total, 1.0, abs_tol=1e-3):
            raise ValueError(f"priors must sum to 1, they sum to {total:.4f}")
        return self


class DiagnosisEffect(_Frozen):
    diagnosis: DiagnosisId
    direction: Direction
    strength: Strength | None = None
    likelihood_ratio: float | None = Field(None, ge=MIN_LIKELIHOOD_RATIO, le=MAX_LIKELIHOOD_RATIO)

    @model_validator(mode="after")
    def _one_weight(self) -> DiagnosisEffect:
        if (self.strength is None) == (self.likelihood_ratio is None):
            raise ValueError("give exactly one of 'strength' or 'likelihood_ratio'")
        lr = self.likelihood_ratio
        if lr is not None and ((self.direction == "for") != (lr > 1)):
            raise ValueError(
                f"likelihood_ratio {lr} does not match direction '{self.direction}' (for: above 1, against: below 1)"
            )
        return self


class ConditionEffect(_Frozen):
    condition: Literal["ischiofemoral_impingement"]
    status: Literal["present", "absent", "indeterminate"]


class RedFlagEffect(_Frozen):
    red_flag: str = Field(min_length=1)
    severity: Literal["urgent", "caution"]


RecommendationCategory = Literal[
    "conservative", "medication", "exercise", "procedure", "surgical", "referral", "imaging"
]
# Reports list advice in this order: first-line care before procedures, referral and imaging last.
CATEGORY_ORDER: tuple[str, ...] = typing.get_args(RecommendationCategory)


class RecommendationEffect(_Frozen):
    recommendation: str = Field(min_length=1)
    category: RecommendationCategory


_EFFECT_TAGS = ("diagnosis", "condition", "red_flag", "recommendation")


def _effect_kind(value: Any) -> str | None:
    tag = _INSTANCE_TAGS.get(type(value))  # an effect built in Python, not read from a file
    if tag is not None:
        return tag
    if isinstance(value, Mapping):
        for key in _EFFECT_TAGS:
            if key in value:
                return key
    return None


_INSTANCE_TAGS: dict[type, str] = {
    DiagnosisEffect: "diagnosis",
    ConditionEffect: "condition",
    RedFlagEffect: "red_flag",
    RecommendationEffect: "recommendation",
}

Effect = Annotated[
    Annotated[DiagnosisEffect, Tag("diagnosis")]
    | Annotated[ConditionEffect, Tag("condition")]
    | Annotated[RedFlagEffect, Tag("red_flag")]
    | Annotated[RecommendationEffect, Tag("recommendation")],
    Discriminator(
        _effect_kind,
        custom_error_type="effect_kind",
        custom_error_message="an effect needs one of: diagnosis, condition, red_flag, recommendation",
    ),
]

Stage = Literal["evidence", "management"]
EffectT = TypeVar("EffectT", DiagnosisEffect, ConditionEffect, RedFlagEffect, RecommendationEffect)


class Examples(_Frozen):
    fires: tuple[dict[str, Any], ...] = Field(min_length=1)
    does_not_fire: tuple[dict[str, Any], ...] = Field(min_length=1)


class Maintenance(_Frozen):
    author: str | None = None
    added: str | None = None
    validated: Literal["draft", "reviewed", "validated"] = "draft"


ConditionField = Annotated[Condition, PlainSerializer(lambda c: c.to_source(), return_type=Any)]


class Rule(_Frozen):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, str_strip_whitespace=True)

    id: str = Field(pattern=RULE_ID_PATTERN)
    title: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    citations: tuple[str, ...] = Field(min_length=1)
    when: ConditionField
    effects: tuple[Effect, ...] = Field(min_length=1)
    examples: Examples
    notes: str | None = Field(
        None,
        description="Authoring notes for rule authors (why the rule is shaped as it is); shown by `ddx rules show` "
        "and `ddx rules docs`, never in a clinician's report, which shows only the rationale",
    )
    maintenance: Maintenance = Field(default_factory=Maintenance)
    file: str = Field("", exclude=True)
    line: int = Field(0, exclude=True)

    @model_validator(mode="after")
    def _effects_fit_together(self) -> Rule:
        kinds = {isinstance(e, RecommendationEffect) for e in self.effects}
        if len(kinds) > 1:
            raise ValueError("recommendations run after ranking and cannot share a rule with other effects")
        targets = [_effect_target(e) for e in self.effects]
        duplicated = next((t for t in targets if targets.count(t) > 1), None)
        if duplicated is not None:
            raise ValueError(f"two effects on the same target ({duplicated}); merge them into one")
        return self

    @property
    def stage(self) -> Stage:
        """Management rules run after ranking, on findings plus the derived facts."""
        return "management" if isinstance(self.effects[0], RecommendationEffect) else "evidence"

    def effects_of(self, kind: type[EffectT]) -> tuple[EffectT, ...]:
        found = self._effects_by_kind.get(kind)
        if found is None:
            found = self._effects_by_kind[kind] = tuple(e for e in self.effects if isinstance(e, kind))
        return found

    @cached_property
    def _effects_by_kind(self) -> dict[type, tuple[Any, ...]]:
        return {}


def _effect_target(effect: DiagnosisEffect | ConditionEffect | RedFlagEffect | RecommendationEffect) -> str:
    if isinstance(effect, DiagnosisEffect):
        return f"diagnosis {effect.diagnosis}"
    if isinstance(effect, ConditionEffect):
        return f"condition {effect.condition}"
    if isinstance(effect, RedFlagEffect):
        return "red flag"
    return f"recommendation {effect.recommendation!r}"  # several pieces of advice may share a rule


class RulePack(BaseModel):
    """A validated pack; build it with :func:`load_rule_pack`."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    info: PackInfo
    sources: Mapping[str, Source]
    rules: tuple[Rule, ...]
    digest: str
    directory: str

    @cached_property
    def by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}

    @cached_property
    def evidence_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.stage == "evidence")

    @cached_property
    def management_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.stage == "management")

    @cached_property
    def numeric_thresholds(self) -> dict[str, tuple[float, ...]]:
        """For each numeric finding, the values evidence rules compare it with."""
        return numeric_thresholds(self.evidence_rules)

    @cached_property
    def all_numeric_thresholds(self) -> dict[str, tuple[float, ...]]:
        """Like :attr:`numeric_thresholds`, over every rule (red flags and advice included)."""
        return numeric_thresholds(self.rules)

    @cached_property
    def derived(self) -> dict[str, Any]:
        """A memo for what other modules derive from a pack once (ranking's weights, shared report parts):
        the pack is immutable, so whatever is computed from it stays true for as long as it lives."""
        return {}

    @cached_property
    def findings_read_for_ranking(self) -> frozenset[str]:
        """Findings that some rule with a diagnosis effect reads: only these can move the ranking."""
        return frozenset(
            c.finding
            for rule in self.evidence_rules
            if rule.effects_of(DiagnosisEffect)
            for c in comparisons(rule.when)
        )

    @cached_property
    def diagnoses(self) -> dict[DiagnosisId, DiagnosisInfo]:
        by_id = {d.id: d for d in self.info.diagnoses}
        return {d: by_id[d] for d in DIAGNOSIS_IDS}

    def likelihood_ratio(self, effect: DiagnosisEffect) -> float:
        """The effect's own likelihood ratio, or its strength's on the pack's scale."""
        if effect.likelihood_ratio is not None:
            return effect.likelihood_ratio
        assert effect.strength is not None  # guaranteed by DiagnosisEffect._one_weight
        return self.info.strength_scale.likelihood_ratio(effect.strength, effect.direction)

    def citation_text(self, keys: tuple[str, ...]) -> str:
        cache = self._citation_cache
        text = cache.get(keys)
        if text is None:
            text = cache[keys] = "; ".join(_format_source(self.sources[k]) for k in keys)
        return text

    @cached_property
    def _citation_cache(self) -> dict[tuple[str, ...], str]:
        return {}


def _format_source(source: Source) -> str:
    return f"{source.citation} {source.url}" if source.url else source.citation


PACK_FILE = "pack.yaml"
SOURCES_FILE = "sources.yaml"


def default_rules_dir() -> Path:
    """The shipped rules: next to the source tree in a checkout, bundled inside a wheel."""
    package_dir = Path(__file__).resolve().parent
    bundled = package_dir / "_bundled" / "rules"
    if bundled.is_dir():
        return bundled
    return package_dir.parent.parent / "rules"


def load_rule_pack(directory: Path | None = None, problems: list[DdxInputError] | None = None) -> RulePack:
    """Load and validate every file in a rules folder, or raise :class:`DdxInputError` (file, line, rule).

    With ``problems``, a broken rule or rules file is recorded there and left out instead of stopping the
    load, so ``ddx rules lint`` can report every problem at once; ``pack.yaml`` and ``sources.yaml`` must
    load.
    """
    directory = directory or default_rules_dir()
    if not directory.is_dir():
        raise DdxInputError("rules folder not found", source=directory)
    pack_path, sources_path = directory / PACK_FILE, directory / SOURCES_FILE
    for required in (pack_path, sources_path):
        if not required.is_file():
            raise DdxInputError(f"the rules folder needs {required.name}", source=directory)
    digest = hashlib.sha256()
    cache = default_cache_dir()
    info = _load_pack_info(load_document(pack_path, cache_dir=cache))
    sources = _load_sources(load_document(sources_path, cache_dir=cache))
    rules: list[Rule] = []
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        if path.name in (PACK_FILE, SOURCES_FILE):
            continue
        try:
            rules.extend(_load_rules_file(load_document(path, cache_dir=cache), problems))
        except DdxInputError as error:
            if problems is None:
                raise
            problems.append(error)
    rules = _check_pack(info, sources, rules, pack_path, problems)
    return RulePack(
        info=info,
        sources=sources,
        # By id, not by file: every order a report shows must not depend on how rules are spread over files.
        rules=tuple(sorted(rules, key=lambda rule: rule.id)),
        digest=digest.hexdigest()[:16],
        directory=str(directory),
    )


def _load_pack_info(document: LoadedDocument) -> PackInfo:
    if not isinstance(document.data, dict):
        raise DdxInputError("expected a mapping (name, version, strength_scale, ...)", source=document.source)
    try:
        return PackInfo.model_validate(document.data)
    except ValidationError as error:
        raise validation_error_to_input_error(error, document, model_name="pack") from None


def _load_sources(document: LoadedDocument) -> dict[str, Source]:
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        raise DdxInputError("expected 'sources:' mapping keys to citations", source=document.source, line=1)
    sources: dict[str, Source] = {}
    for key, entry in data["sources"].items():
        payload = {"key": key, **entry} if isinstance(entry, dict) else {"key": key, "citation": entry}
        try:
            sources[key] = Source.model_validate(payload)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            raise DdxInputError(
                str(first["msg"]), source=document.source, line=document.line_of(("sources", key)), field=key
            ) from None
    return sources


def _load_rules_file(document: LoadedDocument, problems: list[DdxInputError] | None = None) -> list[Rule]:
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise DdxInputError("expected a mapping with a 'rules:' list", source=document.source, line=1)
    unexpected = sorted(set(data) - {"rules", "description"})
    if unexpected:
        raise DdxInputError(
            f"unknown top-level key '{unexpected[0]}'; expected rules (and description)",
            source=document.source,
            line=document.line_of((unexpected[0],)),
        )
    rules = []
    for index, raw in enumerate(data["rules"]):
        try:
            rules.append(_parse_rule(raw, document, ("rules", index)))
        except DdxInputError as error:
            if problems is None:
                raise
            problems.append(error)
    return rules


def _parse_rule(raw: Any, document: LoadedDocument, location: tuple[str | int, ...]) -> Rule:
    line = document.line_of(location)
    if not isinstance(raw, dict):
        raise DdxInputError("each rule is a mapping", source=document.source, line=line)
    rule_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    effects = raw.get("effects")
    first_effect = effects[0] if isinstance(effects, list) and effects else None
    stage: Stage = "management" if _effect_kind(first_effect) == "recommendation" else "evidence"
    payload = dict(raw)
    if "when" in raw:
        try:
            payload["when"] = parse_condition(raw["when"], _value_check(stage))
        except ConditionSyntaxError as error:
            raise DdxInputError(
                str(error),
                source=document.source,
                line=document.line_of((*location, "when", *error.location)),
                rule_id=rule_id,
                field="when" + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in error.location),
            ) from None
    try:
        rule = Rule.model_validate({**payload, "file": document.source, "line": line or 0})
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        loc = tuple(detail["loc"])
        if loc[:1] == ("effects",) and len(loc) > 2 and loc[2] in _EFFECT_TAGS:
            loc = (*loc[:2], *loc[3:])  # drop the union tag pydantic inserts; it is not in the file
        given = detail.get("input")
        shown = f"got {given!r}; " if not isinstance(given, dict | list) and given is not None else ""
        if detail["type"] == "extra_forbidden":
            message = f"unknown key '{loc[-1]}'"
        elif detail["type"] == "missing":
            message = "is required"
        else:
            message = f"{shown}{detail['msg']}"
        raise DdxInputError(
            message,
            source=document.source,
            line=document.line_of((*location, *loc)),
            rule_id=rule_id,
            field=".".join(str(p) for p in loc) or None,
        ) from None
    _check_examples(rule, document, location)
    return rule


def _value_check(stage: Stage) -> Any:
    vocabulary = {**FINDING_SPECS, **(DERIVED_SPECS if stage == "management" else {})}

    def check(finding: str, op: Operator, operand: Any, location: tuple[str | int, ...]) -> None:
        spec = vocabulary.get(finding)
        if spec is None:
            hint = suggest(finding, vocabulary)
            if finding in DERIVED_SPECS:
                hint = " (derived facts are only for recommendation rules)"
            raise ConditionSyntaxError(f"unknown finding '{finding}'{hint}", location)
        if op in ORDERING_OPERATORS and spec.kind not in ("int", "number"):
            raise ConditionSyntaxError(f"'{op}' needs a numeric finding; '{finding}' is {spec.kind}", location)
        values = operand if op == "in" else [operand]
        if op == "in" and (not isinstance(operand, list) or not operand):
            raise ConditionSyntaxError(f"'in' on '{finding}' takes a non-empty list", location)
        for value in values:
            if not spec.accepts(value):
                raise ConditionSyntaxError(
                    f"{value!r} is not a value of '{finding}'; expected {spec.describe_allowed()}", location
                )

    return check


def _check_examples(rule: Rule, document: LoadedDocument, location: tuple[str | int, ...]) -> None:
    vocabulary = {**FINDING_SPECS, **(DERIVED_SPECS if rule.stage == "management" else {})}
    for group in ("fires", "does_not_fire"):
        for index, example in enumerate(getattr(rule.examples, group)):
            for name, value in example.items():
                spec = vocabulary.get(name)
                where = (*location, "examples", group, index, name)
                if spec is None or not spec.accepts(value):
                    problem = (
                        f"unknown finding '{name}'{suggest(name, vocabulary)}"
                        if spec is None
                        else f"{value!r} is not a value of '{name}'; expected {spec.describe_allowed()}"
                    )
                    raise DdxInputError(
                        problem,
                        source=document.source,
                        line=document.line_of(where),
                        rule_id=rule.id,
                        field=f"examples.{group}[{index}].{name}",
                    )


def _check_pack(
    info: PackInfo,
    sources: Mapping[str, Source],
    rules: list[Rule],
    pack_path: Path,
    problems: list[DdxInputError] | None,
) -> list[Rule]:
    """Cross-file checks; returns the rules that passed them (all of them, unless collecting problems)."""

    def report(error: DdxInputError) -> None:
        if problems is None:
            raise error
        problems.append(error)

    seen: dict[str, Rule] = {}
    kept: list[Rule] = []
    for rule in rules:
        if rule.id in seen:
            first = seen[rule.id]
            report(
                DdxInputError(
                    f"duplicate rule id (first defined at {first.file}:{first.line})",
                    source=rule.file,
                    line=rule.line,
                    rule_id=rule.id,
                )
            )
            continue
        seen[rule.id] = rule
        missing = [key for key in rule.citations if key not in sources]
        for key in missing:
            report(
                DdxInputError(
                    f"cites unknown source '{key}'{suggest(key, sources)}; add it to sources.yaml",
                    source=rule.file,
                    line=rule.line,
                    rule_id=rule.id,
                    field="citations",
                )
            )
        if not missing:
            kept.append(rule)
    cited_by_pack = [*info.strength_scale.citations, *(k for d in info.diagnoses for k in d.codes.citations)]
    cited_by_pack += [k for c in info.conditions for k in c.codes.citations]
    for key in cited_by_pack:
        if key not in sources:
            report(DdxInputError(f"cites unknown source '{key}'; add it to sources.yaml", source=pack_path))
    return kept


def numeric_thresholds(rules: Iterable[Rule]) -> dict[str, tuple[float, ...]]:
    """For each numeric finding, the values these rules compare it with, sorted."""
    found: dict[str, set[float]] = {}
    for rule in rules:
        for comparison in comparisons(rule.when):
            if isinstance(comparison.value, int | float) and not isinstance(comparison.value, bool):
                found.setdefault(comparison.finding, set()).add(float(comparison.value))
    return {name: tuple(sorted(values)) for name, values in found.items()}
