"""``ddx rules lint``: everything about a rule pack that can be wrong without being a syntax error.

Checks, each reported as ``file:line: rule ID: problem``:

* the files load (unknown findings or values, bad operators, LRs out of range, missing citations or examples,
  duplicate ids — every one found, not only the first);
* no rule can never fire (its condition is unsatisfiable over the findings' possible values);
* no two rules have the same condition (one finding with two consequences is one rule with two effects);
* each rule's examples do what they say, read by the plain-Python oracle;
* every source in ``sources.yaml`` is cited somewhere;
* each condition fits durable-rules' limits (and/or groups per rule, alternatives per shard);
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
from ddx.engine import MAX_ALTERNATIVES_PER_SHARD, MAX_GROUPS_PER_RULE, alternatives, compile_condition, groups
from ddx.errors import DdxInputError
from ddx.findings import FindingSpec
from ddx.oracle import fires
from ddx.rulepack import (
    PACK_FILE,
    SOURCES_FILE,
    Rule,
    RulePack,
    load_rule_pack,
    numeric_thresholds,
)

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
        problems += _engine_limit_problems(rule)
    problems += _unused_sources(pack)
    return problems


def _problem(rule: Rule, message: str) -> LintProblem:
    return LintProblem(rule.file, rule.line, rule.id, message)


def _example_problems(rule: Rule) -> Iterator[LintProblem]:
    for index, example in enumerate(rule.examples.fires):
        if not fires(rule.when, example):
            yield _problem(rule, f"examples.fires[{index}] does not fire: {example}")
    for index, example in enumerate(rule.examples.does_not_fire):
        if fires(rule.when, example):
            yield _problem(rule, f"examples.does_not_fire[{index}] fires: {example}")


def _engine_limit_problems(rule: Rule) -> Iterator[LintProblem]:
    expression = compile_condition(rule.when)
    if groups(expression) > MAX_GROUPS_PER_RULE:
        yield _problem(
            rule, f"compiles into {groups(expression)} and/or groups; durable-rules holds {MAX_GROUPS_PER_RULE}"
        )
    if alternatives(expression) > MAX_ALTERNATIVES_PER_SHARD:
        yield _problem(
            rule, f"expands into {alternatives(expression)} alternatives; at most {MAX_ALTERNATIVES_PER_SHARD}"
        )


def _unused_sources(pack: RulePack) -> Iterator[LintProblem]:
    cited = {key for rule in pack.rules for key in rule.citations}
    cited |= set(pack.info.strength_scale.citations)
    cited |= {key for d in pack.info.diagnoses for key in d.codes.citations}
    cited |= {key for c in pack.info.conditions for key in c.codes.citations}
    sources_file = str(Path(pack.directory) / SOURCES_FILE)
    for key in pack.sources:
        if key not in cited:
            yield LintProblem(sources_file, None, None, f"source '{key}' is never cited")


def can_fire(rule: Rule, vocabulary: Mapping[str, FindingSpec]) -> bool:
    """Whether some assignment of the findings the rule reads makes its condition true."""
    names = sorted(rule.when.findings())
    thresholds = numeric_thresholds([rule])
    domains: list[list[Any]] = [candidate_values(vocabulary[n], thresholds.get(n, [])) or [None] for n in names]
    total = 1
    for domain in domains:
        total *= len(domain)
    if total > MAX_ASSIGNMENTS:
        return True  # too many to search; the rule's own 'fires' examples are checked separately
    for values in itertools.product(*domains):
        facts = {name: value for name, value in zip(names, values, strict=True) if value is not None}
        if fires(rule.when, facts):
            return True
    return False


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


__all__ = ["PACK_FILE", "LintProblem", "can_fire", "canonical", "lint_lexicon", "lint_pack", "lint_rules"]
