"""``ddx rules lint``: everything about a rule pack that can be wrong without being a syntax error.

Checks, each reported as ``file:line: rule ID: problem``:

* the files load (unknown findings or values, bad operators, LRs out of range, missing citations or examples,
  duplicate ids — every one found, not only the first);
* no rule can never fire (its condition is unsatisfiable over the findings' possible values);
* no two rules have the same condition (one finding with two consequences is one rule with two effects);
* each rule's examples do what they say, read by the plain-Python oracle;
* every source in ``sources.yaml`` is cited somewhere;
* each condition fits durable-rules' limits (and/or groups per rule, alternatives per shard);
* the vocabulary (``findings.yaml``): no word names two values of one finding (ids, labels and synonyms,
  normalised as the interview reads them) or two findings; every finding is read by some rule's ``when``
  or another finding's ``applies_when``, or says why not (``not_read_because``), and one that says so is
  indeed not read; each ``derived:`` entry names a derived fact of the pack; every section holds a finding.
* the extraction lexicon (``lexicon.yaml``) loads against the vocabulary, and each of its examples yields
  exactly its findings (run only when medspaCy is installed: the 'extract' extra; imported lazily).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddx.conditions import AllOf, AnyOf, Comparison, Condition, Not
from ddx.counterfactuals import candidate_values
from ddx.errors import DdxInputError
from ddx.findings import FindingSpec, normalise
from ddx.rulepack import (
    PACK_FILE,
    SOURCES_FILE,
    DiagnosisEffect,
    Rule,
    RulePack,
    load_rule_pack,
    numeric_thresholds,
)
from ddx.vocabulary import VOCABULARY_FILE
from ddx.yamlsource import default_cache_dir, load_document

MAX_ASSIGNMENTS = 200_000  # a condition over more combinations than this is not searched exhaustively


@dataclass(frozen=True)
class LintProblem:
    source: str
    line: int | None
    rule_id: str | None
    message: str

    def __str__(self) -> str:
        return str(DdxInputError(self.message, source=self.source, line=self.line, rule_id=self.rule_id))


def lint_rules(directory: Path | None = None) -> tuple[RulePack | None, list[LintProblem]]:
    """Load the pack collecting every load problem, then run the semantic checks on what loaded."""
    load_problems: list[DdxInputError] = []
    try:
        pack = load_rule_pack(directory, load_problems)
    except DdxInputError as error:
        return None, [_from_error(error)]
    problems = [_from_error(error) for error in load_problems]
    problems += lint_pack(pack)
    problems += lint_lexicon(pack)
    return pack, sorted(problems, key=lambda p: (p.source, p.line or 0, p.message))


def lint_lexicon(pack: RulePack) -> list[LintProblem]:
    """The lexicon loads, and (when medspaCy is installed) every example yields exactly its findings."""
    import importlib.util

    from ddx.lexicon import lexicon_for

    try:
        lexicon = lexicon_for(pack)
    except DdxInputError as error:
        return [_from_error(error)]
    if not lexicon.examples or importlib.util.find_spec("medspacy") is None:
        return []
    from ddx.extract import example_failures

    return [
        LintProblem(lexicon.source, line, None, f"{where}: {message}")
        for where, line, message in example_failures(pack)
    ]


def _from_error(error: DdxInputError) -> LintProblem:
    message = error.message if error.field is None else f"{error.field}: {error.message}"
    return LintProblem(error.source or "", error.line, error.rule_id, message)


def lint_pack(pack: RulePack) -> list[LintProblem]:
    problems: list[LintProblem] = []
    by_condition: dict[str, Rule] = {}
    vocabulary = {**pack.specs, **pack.derived_specs}
    for rule in pack.rules:
        if not can_fire(rule, vocabulary):
            problems.append(_problem(rule, "can never fire: no combination of finding values satisfies `when`"))
        key = canonical(rule.when)
        if key in by_condition:
            first = by_condition[key]
            problems.append(
                _problem(
                    rule,
                    f"same condition as {first.id} ({first.file}:{first.line}); give one rule several effects instead",
                )
            )
        else:
            by_condition[key] = rule
        problems += _example_problems(rule)
    problems += ungrouped_overlaps(pack)
    problems += _strength_scale_problems(pack)
    problems += _unused_sources(pack)
    problems += vocabulary_problems(pack)
    return problems


def _problem(rule: Rule, message: str) -> LintProblem:
    return LintProblem(rule.file, rule.line, rule.id, message)


def _example_problems(rule: Rule) -> Iterator[LintProblem]:
    for index, example in enumerate(rule.examples.fires):
        if not rule.holds(example):
            yield _problem(rule, f"examples.fires[{index}] does not fire: {example}")
    for index, example in enumerate(rule.examples.does_not_fire):
        if rule.holds(example):
            yield _problem(rule, f"examples.does_not_fire[{index}] fires: {example}")


def _strength_scale_problems(pack: RulePack) -> Iterator[LintProblem]:
    """strong > moderate > weak, or a rule marked weak would outweigh one marked strong."""
    scale = pack.info.strength_scale
    pack_file = str(Path(pack.directory) / PACK_FILE)
    if not scale.strong > scale.moderate > scale.weak:
        yield LintProblem(
            pack_file,
            None,
            None,
            f"strength_scale: expected strong > moderate > weak, got strong {scale.strong:g}, "
            f"moderate {scale.moderate:g}, weak {scale.weak:g}",
        )


def _unused_sources(pack: RulePack) -> Iterator[LintProblem]:
    cited = {key for rule in pack.rules for key in rule.citations}
    cited |= set(pack.info.strength_scale.citations)
    cited |= {key for d in pack.info.diagnoses for key in d.codes.citations}
    cited |= {key for c in pack.info.conditions for key in c.codes.citations}
    cited |= {key for c in pack.info.priors for key in c.citations}
    cited |= {key for m in pack.info.must_not_miss for key in m.citations}
    cited |= set(pack.info.uncertainty.citations) if pack.info.uncertainty else set()
    sources_file = str(Path(pack.directory) / SOURCES_FILE)
    for key in pack.sources:
        if key not in cited:
            yield LintProblem(sources_file, None, None, f"source '{key}' is never cited")


def vocabulary_problems(pack: RulePack) -> list[LintProblem]:
    """What is wrong with the pack's finding vocabulary, each at its line in ``findings.yaml``."""
    path = Path(pack.directory) / VOCABULARY_FILE
    document = load_document(path, cache_dir=default_cache_dir())
    source = pack.vocabulary.source
    index = {name: i for i, name in enumerate(pack.specs)}

    def at(location: tuple[str | int, ...], message: str) -> LintProblem:
        return LintProblem(source, document.line_of(location), None, message)

    problems: list[LintProblem] = []
    for spec in pack.specs.values():
        problems += _word_collisions(spec, ("findings", index[spec.name]), at)
    problems += _finding_name_collisions(pack, index, at)
    problems += _unread_findings(pack, index, at)
    derived = pack.derived_specs
    raw_derived = document.data.get("derived", []) if isinstance(document.data, dict) else []
    for position, name in enumerate(pack.vocabulary.derived_meanings):
        if name not in derived:
            entry = next(
                (i for i, e in enumerate(raw_derived) if isinstance(e, dict) and e.get("id") == name), position
            )
            problems.append(
                at(
                    ("derived", entry, "id"),
                    f"derived.{name}: not a derived fact of this pack; expected one of {', '.join(derived)}",
                )
            )
    used = {spec.section for spec in pack.specs.values()}
    for position, section in enumerate(pack.vocabulary.sections):
        if section not in used:
            problems.append(at(("sections", position), f"sections.{section}: no finding is in this section"))
    return problems


def _word_collisions(spec: FindingSpec, where: tuple[str | int, ...], at: Any) -> Iterator[LintProblem]:
    """The same normalised word (id, label or synonym) on two values of one choice."""
    owner: dict[str, str] = {}
    for position, value in enumerate(spec.values):
        words = [("id", value.id), ("label", value.label)]
        words += [(f"synonyms[{i}]", word) for i, word in enumerate(value.synonyms)]
        for key, word in words:
            first = owner.setdefault(normalise(word), value.id)
            if first != value.id:
                location: tuple[str | int, ...] = (*where, "values", position)
                location += ("synonyms", int(key[9:-1])) if key.startswith("synonyms") else (key,)
                yield at(
                    location,
                    f"findings.{spec.name}.{value.id}.{key}: {word!r} also names '{first}'; "
                    "a word may name only one value",
                )


def _finding_name_collisions(pack: RulePack, index: Mapping[str, int], at: Any) -> Iterator[LintProblem]:
    """A label or synonym of one finding that is another finding's id, label or synonym."""
    owner: dict[str, str] = {}
    for spec in pack.specs.values():
        words = [
            ("id", spec.name),
            ("label", spec.label),
            *((f"synonyms[{i}]", w) for i, w in enumerate(spec.synonyms)),
        ]
        for key, word in words:
            if not word:
                continue
            first = owner.setdefault(normalise(word), spec.name)
            if first != spec.name:
                yield at(
                    ("findings", index[spec.name], key.split("[")[0]),
                    f"findings.{spec.name}.{key}: {word!r} also names the finding '{first}'",
                )


def _unread_findings(pack: RulePack, index: Mapping[str, int], at: Any) -> Iterator[LintProblem]:
    """Each finding is read by a rule or another finding's applies_when, or says why not (and truly is not)."""
    readers = pack.finding_readers
    for spec in pack.specs.values():
        read_by = readers.get(spec.name, ())
        where = ("findings", index[spec.name])
        if not read_by and not spec.not_read_because:
            yield at(
                where,
                f"findings.{spec.name}: no rule reads it; use it in a rule's `when` or say why in not_read_because",
            )
        elif read_by and spec.not_read_because:
            yield at(
                (*where, "not_read_because"),
                f"findings.{spec.name}: not_read_because, but {', '.join(sorted(set(read_by)))} reads it",
            )


def can_fire(rule: Rule, vocabulary: Mapping[str, FindingSpec]) -> bool:
    """Whether some assignment of the findings the rule reads makes its condition true."""
    names = sorted(rule.reads)
    thresholds = numeric_thresholds([rule])
    domains: list[list[Any]] = [candidate_values(vocabulary[n], thresholds.get(n, [])) or [None] for n in names]
    total = 1
    for domain in domains:
        total *= len(domain)
    if total > MAX_ASSIGNMENTS:
        return True  # too many to search; the rule's own 'fires' examples are checked separately
    for values in itertools.product(*domains):
        facts = {name: value for name, value in zip(names, values, strict=True) if value is not None}
        if rule.holds(facts):
            return True
    return False


def _can_fire_together(first: Rule, second: Rule, vocabulary: Mapping[str, FindingSpec]) -> bool:
    """Whether one assignment of the findings both rules read makes both fire (searched like can_fire)."""
    names = sorted(first.reads | second.reads)
    thresholds = numeric_thresholds([first, second])
    domains = [candidate_values(vocabulary[n], thresholds.get(n, [])) or [None] for n in names]
    total = 1
    for domain in domains:
        total *= len(domain) + 1
    if total > MAX_ASSIGNMENTS:
        return True
    for values in itertools.product(*[[None, *domain] for domain in domains]):
        facts = {name: value for name, value in zip(names, values, strict=True) if value is not None}
        if first.holds(facts) and second.holds(facts):
            return True
    return False


def ungrouped_overlaps(pack: RulePack) -> Iterator[LintProblem]:
    """Two rules that weigh one diagnosis through a shared finding, can fire together and share no group.

    Naive Bayes multiplies their likelihood ratios as if they were independent evidence; if they restate one
    fact they belong in one group (only the strongest counts), and if they do not, ``independent_of`` says so.
    """
    vocabulary = {**pack.specs, **pack.derived_specs}
    weighing = [rule for rule in pack.evidence_rules if rule.effects_of(DiagnosisEffect)]
    for first, second in itertools.combinations(weighing, 2):
        shared = sorted(first.when.findings() & second.when.findings())
        if not shared or (first.group is not None and first.group == second.group):
            continue
        if second.id in first.independent_of or first.id in second.independent_of:
            continue
        same = {e.diagnosis for e in first.effects_of(DiagnosisEffect)} & {
            e.diagnosis for e in second.effects_of(DiagnosisEffect)
        }
        if same and _can_fire_together(first, second, vocabulary):
            yield _problem(
                second,
                f"weighs {', '.join(sorted(same))} through {', '.join(shared)} like {first.id} and both can fire; "
                "put them in one group (one fact counts once) or list the other in independent_of",
            )


def _flatten(condition: AllOf | AnyOf) -> Iterator[Condition]:
    """The parts of nested all-of-all (or any-of-any) as one list."""
    for part in condition.parts:
        if type(part) is type(condition):
            assert isinstance(part, AllOf | AnyOf)
            yield from _flatten(part)
        else:
            yield part


def canonical(condition: Condition) -> str:
    """A string equal for conditions that differ only in the order of their parts."""
    if isinstance(condition, Comparison):
        if condition.op == "in":
            assert isinstance(condition.value, tuple)
            options = sorted({repr(v) for v in condition.value})
            if len(options) == 1:
                return f"{condition.finding} == {options[0]}"
            return f"{condition.finding} in [{', '.join(options)}]"
        return f"{condition.finding} {condition.op} {condition.value!r}"
    if isinstance(condition, AllOf | AnyOf):
        unique = sorted({canonical(part) for part in _flatten(condition)})
        if len(unique) == 1:
            return unique[0]
        return f"{'all' if isinstance(condition, AllOf) else 'any'}({'; '.join(unique)})"
    if isinstance(condition, Not):
        return f"not({canonical(condition.part)})"
    raise TypeError(f"not a condition: {condition!r}")


__all__ = [
    "PACK_FILE",
    "LintProblem",
    "can_fire",
    "canonical",
    "lint_lexicon",
    "lint_pack",
    "lint_rules",
    "vocabulary_problems",
]
