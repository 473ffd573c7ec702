"""The rule pack: rules, priors, sources and the strength → likelihood-ratio scale, loaded from ``rules/``.

Layout of a rules folder:

* ``pack.yaml`` — name, version, the strength scale, the diagnoses (labels, priors, codes) and the
  secondary conditions;
* ``findings.yaml`` — the finding vocabulary (see :mod:`ddx.vocabulary`);
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
    field_validator,
    model_validator,
)

from ddx.case import validation_error_to_input_error
from ddx.conditions import (
    ORDERING_OPERATORS,
    Condition,
    ConditionSyntaxError,
    Operator,
    comparisons,
    parse_condition,
)
from ddx.errors import DdxInputError, shown
from ddx.findings import FindingSpec, suggest
from ddx.vocabulary import VOCABULARY_FILE, Vocabulary, load_vocabulary
from ddx.yamlsource import LoadedDocument, default_cache_dir, load_document, parse_cached, read_bounded

Strength = Literal["strong", "moderate", "weak"]
Direction = Literal["for", "against"]
RULE_ID_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"
MIN_LIKELIHOOD_RATIO = 0.01
MAX_LIKELIHOOD_RATIO = 100.0

DiagnosisId = str
CONDITION_STATUSES: tuple[str, ...] = ("present", "absent", "indeterminate")
# Facts that exist only after ranking; management rules may use them, evidence rules may not. Besides these
# two, each secondary condition's status is a derived fact named by the condition's id.
TOP_DIAGNOSIS = "top_diagnosis"
URGENT_RED_FLAG = "urgent_red_flag"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True)


class Source(_Frozen):
    key: str
    citation: str = Field(min_length=1)
    url: str | None = None
    note: str | None = None


class StrengthScale(_Frozen):
    """Likelihood ratios for evidence *for* a diagnosis; evidence *against* uses the reciprocal."""

    strong: float = Field(gt=1, le=MAX_LIKELIHOOD_RATIO, strict=True)
    moderate: float = Field(gt=1, le=MAX_LIKELIHOOD_RATIO, strict=True)
    weak: float = Field(gt=1, le=MAX_LIKELIHOOD_RATIO, strict=True)
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
    id: DiagnosisId = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    short: str | None = Field(None, description="A short label for narrow tables (default: the label)")
    prior: float | None = Field(
        None, gt=0, lt=1, strict=True, description="A single prior, for packs without a `priors` table"
    )
    prior_rationale: str | None = None
    codes: Codes = Field(default_factory=Codes)
    malignant: bool = Field(False, description="A must-not-miss malignancy: `ddx validate` counts its safety")

    @property
    def short_label(self) -> str:
        return self.short or self.label


class ConditionInfo(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    key: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="The name used for this condition in case expectations and quiz answers (default: the id)",
    )
    label: str
    codes: Codes = Field(default_factory=Codes)

    @property
    def answer_key(self) -> str:
        return self.key or self.id


ConditionField = Annotated[Condition, PlainSerializer(lambda c: c.to_source(), return_type=Any)]


class BaselineStep(_Frozen):
    """One line of the rule of thumb that ``ddx validate`` compares the engine with: if ``when`` holds
    (known true), answer ``diagnosis``; the last step has no ``when`` and is the default."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, str_strip_whitespace=True, defer_build=True
    )

    when: ConditionField | None = None
    diagnosis: DiagnosisId


class PriorContext(_Frozen):
    """Base rates for one clinical context: the first context whose ``when`` is known true applies.

    A diagnosis the context leaves out is not ranked in it (one that only a history, say, makes possible).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    label: str = Field(min_length=1)
    when: ConditionField | None = None
    probabilities: dict[DiagnosisId, float]
    basis: Literal["published", "judgement"]
    rationale: str = Field(min_length=1)
    citations: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _a_distribution(self) -> PriorContext:
        if len(self.probabilities) < 2 or any(not 0 < p < 1 for p in self.probabilities.values()):
            raise ValueError("probabilities: at least two diagnoses, each strictly between 0 and 1")
        total = sum(self.probabilities.values())
        if not math.isclose(total, 1.0, abs_tol=1e-3):
            raise ValueError(f"probabilities must sum to 1, they sum to {total:.4f}")
        if self.basis == "published" and not self.citations:
            raise ValueError("a published prior needs its citations")
        return self


class MustNotMiss(_Frozen):
    """A malignant diagnosis that is flagged whenever it cannot be excluded.

    It is raised when the diagnosis is ranked with at least ``above`` probability and ``unless`` (what shows
    the lesion to be benign) is not known to hold; the flag names the findings that keep it open.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, str_strip_whitespace=True)

    id: str = Field(pattern=RULE_ID_PATTERN)
    diagnosis: DiagnosisId
    above: float = Field(gt=0, lt=1)
    unless: ConditionField | None = None
    severity: Literal["urgent", "caution"]
    message: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    citations: tuple[str, ...] = Field(min_length=1)


class Uncertainty(_Frozen):
    """When no diagnosis reaches ``leading_above``, the headline says *indeterminate* and what would decide."""

    leading_above: float = Field(gt=0, lt=1)
    next_step: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    citations: tuple[str, ...] = Field(min_length=1)


_Conditional = TypeVar("_Conditional", PriorContext, BaselineStep)


def _ends_with_one_default(entries: tuple[_Conditional, ...], noun: str) -> tuple[_Conditional, ...]:
    """A first-match table: every entry but the last has a ``when``; the last, the default, has none."""
    if entries and (entries[-1].when is not None or any(entry.when is None for entry in entries[:-1])):
        raise ValueError(f"every {noun} but the last needs 'when'; the last is the default, without it")
    return entries


class PackInfo(_Frozen):
    name: str
    version: str
    description: str | None = None
    strength_scale: StrengthScale
    diagnoses: tuple[DiagnosisInfo, ...]
    conditions: tuple[ConditionInfo, ...] = ()
    priors: tuple[PriorContext, ...] = ()
    must_not_miss: tuple[MustNotMiss, ...] = ()
    uncertainty: Uncertainty | None = None
    baseline: tuple[BaselineStep, ...] = ()

    @field_validator("priors")
    @classmethod
    def _priors_end_with_one_default(cls, contexts: tuple[PriorContext, ...]) -> tuple[PriorContext, ...]:
        return _ends_with_one_default(contexts, "prior context")

    @property
    def prior_contexts(self) -> tuple[PriorContext, ...]:
        """The ``priors`` table, or one default context made of each diagnosis's own ``prior``."""
        if self.priors:
            return self.priors
        return (
            PriorContext(
                id="default",
                label="every case",
                probabilities={d.id: d.prior or 0.0 for d in self.diagnoses},
                basis="judgement",
                rationale=" ".join(dict.fromkeys(d.prior_rationale or "" for d in self.diagnoses)).strip() or "-",
            ),
        )

    @field_validator("baseline")
    @classmethod
    def _baseline_ends_with_one_default(cls, steps: tuple[BaselineStep, ...]) -> tuple[BaselineStep, ...]:
        return _ends_with_one_default(steps, "step")

    @model_validator(mode="after")
    def _priors_cover_each_diagnosis_once(self) -> PackInfo:
        ids = [d.id for d in self.diagnoses]
        if len(ids) < 2 or len(set(ids)) != len(ids):
            raise ValueError(f"diagnoses must list at least two diagnoses, each once, got {ids}")
        unknown = [step.diagnosis for step in self.baseline if step.diagnosis not in ids]
        if unknown:
            raise ValueError(f"baseline names '{unknown[0]}', which is not one of the diagnoses {', '.join(ids)}")
        keys = [c.answer_key for c in self.conditions] + [c.id for c in self.conditions]
        if len({c.id for c in self.conditions}) != len(self.conditions) or len(
            {c.answer_key for c in self.conditions}
        ) != len(self.conditions):
            raise ValueError(f"conditions must have distinct ids and keys, got {keys}")
        named = [d for c in self.priors for d in c.probabilities] + [m.diagnosis for m in self.must_not_miss]
        stray = next((d for d in named if d not in ids), None)
        if stray is not None:
            raise ValueError(f"'{stray}' is not one of the diagnoses {', '.join(ids)}")
        if not self.priors:
            if any(d.prior is None for d in self.diagnoses):
                raise ValueError("give every diagnosis a prior, or a `priors` table of contexts")
            total = sum(d.prior or 0.0 for d in self.diagnoses)
            if not math.isclose(total, 1.0, abs_tol=1e-3):
                raise ValueError(f"priors must sum to 1, they sum to {total:.4f}")
        return self


class DiagnosisEffect(_Frozen):
    diagnosis: DiagnosisId
    direction: Direction
    strength: Strength | None = None
    # Strict: a likelihood ratio is a number; '5' (text) is refused, as quoted numbers are in case files.
    likelihood_ratio: float | None = Field(None, ge=MIN_LIKELIHOOD_RATIO, le=MAX_LIKELIHOOD_RATIO, strict=True)

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
    condition: str
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


class Rule(_Frozen):
    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, str_strip_whitespace=True, defer_build=True
    )

    id: str = Field(pattern=RULE_ID_PATTERN)
    title: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    citations: tuple[str, ...] = Field(min_length=1)
    when: ConditionField
    unless: ConditionField | None = Field(
        None,
        description="An exception: the rule does not count when this is known to hold (an unknown does not stop it)",
    )
    effects: tuple[Effect, ...] = Field(min_length=1)
    examples: Examples
    group: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9-]*$",
        description="Rules that read one underlying fact share a group; only the strongest effect per diagnosis counts",
    )
    independent_of: tuple[str, ...] = Field(
        (), description="Rules sharing a finding with this one that are nevertheless separate evidence (say why)"
    )
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
    def conditions(self) -> tuple[Condition, ...]:
        """``when`` and, if any, ``unless``: everything the rule reads."""
        return (self.when,) if self.unless is None else (self.when, self.unless)

    @property
    def reads(self) -> frozenset[str]:
        return frozenset().union(*(condition.findings() for condition in self.conditions))

    def holds(self, facts: Mapping[str, Any]) -> bool:
        """Whether the rule fires: ``when`` known true, and ``unless`` not known true (the reference meaning)."""
        from ddx.oracle import fires

        return fires(self.when, facts) and not self.excepted(facts)

    def excepted(self, facts: Mapping[str, Any]) -> bool:
        """Whether the rule's ``unless`` is known to hold, which stops it counting."""
        from ddx.oracle import evaluate

        return self.unless is not None and evaluate(self.unless, facts) is True

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

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    info: PackInfo
    vocabulary: Vocabulary
    sources: Mapping[str, Source]
    rules: tuple[Rule, ...]
    digest: str
    directory: str

    @cached_property
    def by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}

    @cached_property
    def firing_ids(self) -> tuple[str, ...]:
        """Everything a report lists as fired: the rules, then the must-not-miss flags (sorted by id)."""
        return tuple(sorted([*self.by_id, *(entry.id for entry in self.info.must_not_miss)]))

    @cached_property
    def evidence_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.stage == "evidence")

    @cached_property
    def management_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.stage == "management")

    @cached_property
    def numeric_thresholds(self) -> dict[str, tuple[float, ...]]:
        """For each numeric finding, the values evidence rules and prior contexts compare it with."""
        return numeric_thresholds(self.evidence_rules, self._context_conditions)

    @cached_property
    def all_numeric_thresholds(self) -> dict[str, tuple[float, ...]]:
        """Like :attr:`numeric_thresholds`, over every rule (red flags and advice included)."""
        flags = tuple(m.unless for m in self.info.must_not_miss if m.unless is not None)
        return numeric_thresholds(self.rules, (*self._context_conditions, *flags))

    @cached_property
    def derived(self) -> dict[str, Any]:
        """A memo for what other modules derive from a pack once (ranking's weights, shared report parts):
        the pack is immutable, so whatever is computed from it stays true for as long as it lives."""
        return {}

    @cached_property
    def findings_read_for_ranking(self) -> frozenset[str]:
        """Findings that a prior context or a rule with a diagnosis effect reads: only these move the ranking."""
        read = {name for rule in self.evidence_rules if rule.effects_of(DiagnosisEffect) for name in rule.reads}
        return frozenset(read | {n for c in self._context_conditions for n in c.findings()})

    @cached_property
    def _context_conditions(self) -> tuple[Condition, ...]:
        return tuple(c.when for c in self.info.prior_contexts if c.when is not None)

    @cached_property
    def finding_readers(self) -> dict[str, tuple[str, ...]]:
        """For each finding and derived fact, who reads it: rule ids (any stage), then ``applies_when of X``."""
        readers: dict[str, list[str]] = {}
        for rule in self.rules:
            for name in sorted(rule.when.findings()):
                readers.setdefault(name, []).append(rule.id)
        for spec in self.vocabulary.specs.values():
            if spec.applies_when is not None:
                for name in sorted(spec.applies_when.findings()):
                    readers.setdefault(name, []).append(f"applies_when of {spec.name}")
        return {name: tuple(found) for name, found in readers.items()}

    @cached_property
    def diagnoses(self) -> dict[DiagnosisId, DiagnosisInfo]:
        """The diagnoses in the pack's order (which also breaks ties)."""
        return {d.id: d for d in self.info.diagnoses}

    @cached_property
    def diagnosis_ids(self) -> tuple[DiagnosisId, ...]:
        return tuple(self.diagnoses)

    def prior_context(self, facts: Mapping[str, Any]) -> PriorContext:
        """The first context of the priors table whose condition is known true for these facts."""
        from ddx.oracle import predicate

        contexts = self.info.prior_contexts
        return next((c for c in contexts if c.when is None or predicate(c.when)(facts) is True), contexts[-1])

    @property
    def specs(self) -> dict[str, FindingSpec]:
        """The finding vocabulary: every finding a case may state."""
        return self.vocabulary.specs

    @cached_property
    def derived_specs(self) -> dict[str, FindingSpec]:
        return derived_specs(self.info, self.vocabulary)

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
# Named here, not imported from ddx.lexicon: building the lexicon's models costs every command ~9 ms at start-up.
LEXICON_FILE = "lexicon.yaml"


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
    vocabulary_path = directory / VOCABULARY_FILE
    for required in (pack_path, sources_path, vocabulary_path):
        if not required.is_file():
            raise DdxInputError(f"the rules folder needs {required.name}", source=directory)
    cache = default_cache_dir()
    if cache is None or problems is not None:  # lint collects problems: it always reads the files
        return _load_rule_pack(directory, cache, problems)
    from ddx import packcache

    key = packcache.key(directory)
    pack = packcache.read(cache, key)
    if isinstance(pack, RulePack):
        return pack
    pack = _load_rule_pack(directory, cache, problems)
    packcache.write(cache, key, pack)
    return pack


def _load_rule_pack(directory: Path, cache: Path | None, problems: list[DdxInputError] | None) -> RulePack:
    pack_path, sources_path = directory / PACK_FILE, directory / SOURCES_FILE
    vocabulary_path = directory / VOCABULARY_FILE
    digest = hashlib.sha256()
    vocabulary = load_vocabulary(load_document(vocabulary_path, cache_dir=cache))
    info = _load_pack_info(load_document(pack_path, cache_dir=cache), vocabulary.specs)
    sources = _load_sources(load_document(sources_path, cache_dir=cache))
    derived = derived_specs(info, vocabulary)
    rules: list[Rule] = []
    for path in rule_file_paths(directory):
        try:
            raw_bytes = read_bounded(path)  # a folder named x.yaml, a FIFO, /dev/zero: refused, with the path
            # .yml files are new to the digest; a pack of .yaml files keeps the digest it always had.
            digest.update(path.name.encode() + b"\0" + raw_bytes)
            if path.name in (PACK_FILE, SOURCES_FILE, VOCABULARY_FILE, LEXICON_FILE):
                continue
            document = parse_cached(raw_bytes, source=str(path), cache_dir=cache)
            rules.extend(_load_rules_file(document, vocabulary.specs, derived, problems))
        except DdxInputError as error:
            if problems is None:
                raise
            problems.append(error)
    rules = _check_pack(info, sources, rules, pack_path, problems)
    return RulePack(
        info=info,
        vocabulary=vocabulary,
        sources=sources,
        # By id, not by file: every order a report shows must not depend on how rules are spread over files.
        rules=tuple(sorted(rules, key=lambda rule: rule.id)),
        digest=digest.hexdigest()[:16],
        directory=str(directory),
    )


def rule_file_paths(directory: Path) -> list[Path]:
    """Every rule file of a folder, ``*.yaml`` and ``*.yml`` (both spellings load), in name order."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")], key=lambda path: path.name)


def _load_pack_info(document: LoadedDocument, specs: Mapping[str, FindingSpec]) -> PackInfo:
    if not isinstance(document.data, dict):
        raise DdxInputError("expected a mapping (name, version, strength_scale, ...)", source=document.source)
    data = {
        **document.data,
        "baseline": _parse_first_match(document, "baseline", "step", specs),
        "priors": _parse_first_match(document, "priors", "prior context", specs),
        "must_not_miss": _parse_conditions_in(document, "must_not_miss", "unless", specs),
    }
    try:
        return PackInfo.model_validate(data)
    except ValidationError as error:
        raise validation_error_to_input_error(error, document, model_name="pack") from None


def _parse_first_match(document: LoadedDocument, key: str, noun: str, specs: Mapping[str, FindingSpec]) -> Any:
    """A first-match table (``baseline:``, ``priors:``) with each ``when`` parsed in the rules' condition language.

    Only the last entry, the default, goes without ``when``; the error names the entry's line, which the
    model's own check (for packs built in code) cannot.
    """
    raw = document.data.get(key, [])
    if isinstance(raw, list):
        for index, entry in enumerate(raw):
            is_last = index == len(raw) - 1
            if isinstance(entry, dict) and ("when" in entry) == is_last:
                raise DdxInputError(
                    f"the last {noun} is the default, without 'when'"
                    if is_last
                    else f"needs 'when' (only the last {noun} is the default)",
                    source=document.source,
                    line=document.line_of((key, index)),
                    field=f"{key}.{index}",
                )
    return _parse_conditions_in(document, key, "when", specs)


def _parse_conditions_in(document: LoadedDocument, key: str, field: str, specs: Mapping[str, FindingSpec]) -> Any:
    """The list under ``key`` with each entry's ``field`` parsed as a condition over the findings."""
    raw = document.data.get(key, [])
    if not isinstance(raw, list):
        return raw  # the model reports it
    entries = []
    for index, given in enumerate(raw):
        entry = given
        if isinstance(given, dict) and field in given:
            location: tuple[str | int, ...] = (key, index, field)
            try:
                entry = {**given, field: parse_condition(given[field], _value_check(specs, {}))}
            except ConditionSyntaxError as error:
                raise DdxInputError(
                    str(error),
                    source=document.source,
                    line=document.line_of((*location, *error.location)),
                    field=".".join(str(p) for p in (*location, *error.location)),
                ) from None
        entries.append(entry)
    return entries


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


def derived_specs(info: PackInfo, vocabulary: Vocabulary) -> dict[str, FindingSpec]:
    """The facts known only after ranking, with values from the pack: what recommendation rules may read."""

    def spec(name: str, kind: Literal["enum", "bool"], choices: tuple[str, ...] = ()) -> FindingSpec:
        meaning = vocabulary.derived_meanings.get(name, "")
        return FindingSpec(name, kind, meaning or name, choices=choices, meaning=meaning)

    specs = {TOP_DIAGNOSIS: spec(TOP_DIAGNOSIS, "enum", tuple(d.id for d in info.diagnoses))}
    specs.update({c.id: spec(c.id, "enum", CONDITION_STATUSES) for c in info.conditions})
    specs[URGENT_RED_FLAG] = spec(URGENT_RED_FLAG, "bool")
    return specs


def _load_rules_file(
    document: LoadedDocument,
    specs: Mapping[str, FindingSpec],
    derived: Mapping[str, FindingSpec],
    problems: list[DdxInputError] | None = None,
) -> list[Rule]:
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
            rules.append(_parse_rule(raw, document, ("rules", index), specs, derived))
        except DdxInputError as error:
            if problems is None:
                raise
            problems.append(error)
    return rules


def _parse_rule(
    raw: Any,
    document: LoadedDocument,
    location: tuple[str | int, ...],
    specs: Mapping[str, FindingSpec],
    derived: Mapping[str, FindingSpec],
) -> Rule:
    line = document.line_of(location)
    if not isinstance(raw, dict):
        raise DdxInputError("each rule is a mapping", source=document.source, line=line)
    rule_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    effects = raw.get("effects")
    first_effect = effects[0] if isinstance(effects, list) and effects else None
    stage: Stage = "management" if _effect_kind(first_effect) == "recommendation" else "evidence"
    payload = dict(raw)
    check = _value_check(_stage_vocabulary(stage, specs, derived), derived)
    for key in ("when", "unless"):
        if key not in raw:
            continue
        try:
            payload[key] = parse_condition(raw[key], check)
        except ConditionSyntaxError as error:
            raise DdxInputError(
                str(error),
                source=document.source,
                line=document.line_of((*location, key, *error.location)),
                rule_id=rule_id,
                field=key + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in error.location),
            ) from None
    try:
        rule = Rule.model_validate({**payload, "file": document.source, "line": line or 0})
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        loc = tuple(detail["loc"])
        if loc[:1] == ("effects",) and len(loc) > 2 and loc[2] in _EFFECT_TAGS:
            loc = (*loc[:2], *loc[3:])  # drop the union tag pydantic inserts; it is not in the file
        given = detail.get("input")
        echoed = f"got {shown(given)}; " if not isinstance(given, dict | list) and given is not None else ""
        if detail["type"] == "extra_forbidden":
            message = f"unknown key '{loc[-1]}'"
        elif detail["type"] == "missing":
            message = "is required"
        else:
            message = f"{echoed}{detail['msg']}"
        raise DdxInputError(
            message,
            source=document.source,
            line=document.line_of((*location, *loc)),
            rule_id=rule_id,
            field=".".join(str(p) for p in loc) or None,
        ) from None
    _check_targets(rule, document, location, derived)
    _check_examples(rule, document, location, _stage_vocabulary(rule.stage, specs, derived))
    _check_engine_limits(rule, document, location)
    return rule


def _check_targets(
    rule: Rule, document: LoadedDocument, location: tuple[str | int, ...], derived: Mapping[str, FindingSpec]
) -> None:
    """Each effect names a diagnosis or condition of this pack."""
    diagnoses = derived[TOP_DIAGNOSIS].choices
    conditions = [name for name in derived if name not in (TOP_DIAGNOSIS, URGENT_RED_FLAG)]
    for index, effect in enumerate(rule.effects):
        if isinstance(effect, DiagnosisEffect) and effect.diagnosis not in diagnoses:
            key, given, known = "diagnosis", effect.diagnosis, diagnoses
        elif isinstance(effect, ConditionEffect) and effect.condition not in conditions:
            key, given, known = "condition", effect.condition, tuple(conditions)
        else:
            continue
        raise DdxInputError(
            f"'{given}' is not a {key} of this pack{suggest(given, known)}; expected one of {', '.join(known)}",
            source=document.source,
            line=document.line_of((*location, "effects", index, key)),
            rule_id=rule.id,
            field=f"effects.{index}.{key}",
        )


def _check_engine_limits(rule: Rule, document: LoadedDocument, location: tuple[str | int, ...]) -> None:
    """durable-rules' limits on one rule, checked where the rule is read, so every command reports them."""
    from ddx.engine import MAX_ALTERNATIVES_PER_SHARD, MAX_GROUPS_PER_RULE, alternatives, compile_condition, groups

    expression = compile_condition(rule.when)
    problem = None
    if groups(expression) > MAX_GROUPS_PER_RULE:
        problem = (
            f"compiles into {groups(expression)} and/or groups; durable-rules holds at most {MAX_GROUPS_PER_RULE} "
            "in one rule — split it into several rules"
        )
    elif alternatives(expression) > MAX_ALTERNATIVES_PER_SHARD:
        problem = (
            f"expands into {alternatives(expression)} alternatives; durable-rules can match at most "
            f"{MAX_ALTERNATIVES_PER_SHARD} at once — split it into several rules"
        )
    if problem is not None:
        raise DdxInputError(
            problem, source=document.source, line=document.line_of((*location, "when")), rule_id=rule.id, field="when"
        )


def _stage_vocabulary(
    stage: Stage, specs: Mapping[str, FindingSpec], derived: Mapping[str, FindingSpec]
) -> dict[str, FindingSpec]:
    return {**specs, **(derived if stage == "management" else {})}


def _value_check(vocabulary: Mapping[str, FindingSpec], derived: Mapping[str, FindingSpec]) -> Any:
    def check(finding: str, op: Operator, operand: Any, location: tuple[str | int, ...]) -> None:
        spec = vocabulary.get(finding)
        if spec is None:
            hint = suggest(finding, vocabulary)
            if finding in derived:
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
                    f"{shown(value)} is not a value of '{finding}'; expected {spec.describe_allowed()}", location
                )

    return check


def _check_examples(
    rule: Rule, document: LoadedDocument, location: tuple[str | int, ...], vocabulary: Mapping[str, FindingSpec]
) -> None:
    for group in ("fires", "does_not_fire"):
        for index, example in enumerate(getattr(rule.examples, group)):
            for name, value in example.items():
                spec = vocabulary.get(name)
                where = (*location, "examples", group, index, name)
                if spec is None or not spec.accepts(value):
                    problem = (
                        f"unknown finding '{name}'{suggest(name, vocabulary)}"
                        if spec is None
                        else f"{shown(value)} is not a value of '{name}'; expected {spec.describe_allowed()}"
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
    cited_by_pack += [k for c in info.priors for k in c.citations]
    cited_by_pack += [k for m in info.must_not_miss for k in m.citations]
    cited_by_pack += list(info.uncertainty.citations) if info.uncertainty else []
    cited_by_pack += [k for c in info.conditions for k in c.codes.citations]
    for key in cited_by_pack:
        if key not in sources:
            report(DdxInputError(f"cites unknown source '{key}'; add it to sources.yaml", source=pack_path))
    return kept


def numeric_thresholds(rules: Iterable[Rule], also: Iterable[Condition] = ()) -> dict[str, tuple[float, ...]]:
    """For each numeric finding, the values these rules (and ``also``) compare it with, sorted."""
    found: dict[str, set[float]] = {}
    every = [*(condition for rule in rules for condition in rule.conditions), *also]
    for condition in every:
        for comparison in comparisons(condition):
            if isinstance(comparison.value, int | float) and not isinstance(comparison.value, bool):
                found.setdefault(comparison.finding, set()).add(float(comparison.value))
    return {name: tuple(sorted(values)) for name, values in found.items()}
