"""The pack's extraction lexicon (``lexicon.yaml``): how findings are written in prose, beyond the vocabulary.

``ddx extract`` reads a finding from free text with the vocabulary's synonyms (``findings.yaml``) plus what
this file adds: phrases the synonyms cannot say (a boolean written as its opposite, a choice that only a
negation decides), number patterns (regular expressions with a ``value`` group and the units they may be
written in), vocabulary synonyms too loose to read in prose, extra ConText modifiers, section titles (and
whether a section's statements become findings), and value combinations. Every entry carries examples
(text → the findings it must yield) that test themselves and that ``ddx rules lint`` runs.

This loader is light on purpose: it validates the file against the vocabulary without importing spaCy, so
``ddx rules lint`` and the pack stay quick; :mod:`ddx.extract` builds the pipeline from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ddx.errors import DdxInputError
from ddx.findings import FindingSpec, suggest
from ddx.rulepack import LEXICON_FILE
from ddx.yamlsource import LoadedDocument, load_document

if TYPE_CHECKING:
    from ddx.rulepack import RulePack

ContextCategory = Literal[
    "NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "HYPOTHETICAL", "HISTORICAL", "FAMILY", "TERMINATE"
]
Scalar = bool | int | float | str


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Example(_Entry):
    """A text and exactly the findings extraction must read from it (``{}``: none)."""

    text: str = Field(min_length=1)
    findings: dict[str, Scalar] = Field(default_factory=dict)
    today: date | None = Field(None, description="The day the text is read on (for 'since 2019')")


class Implied(_Entry):
    """Another finding a number implies, optionally only within a range of the number."""

    finding: str
    value: Scalar
    at_most: float | None = None
    above: float | None = None


class Phrase(_Entry):
    """A way of writing a finding: literal phrases (``match``) or regular expressions (``regex``).

    ``value`` is what an affirmed mention states (a boolean's default: true); ``negated`` what a negated
    mention states (a boolean's default: the opposite; otherwise nothing). A number's value is read from
    the regex's ``value`` group (several numbers, as in ``2.5 x 3``: the largest), converted by ``units``
    (the ``unit`` group's word, lower-cased, with a trailing ``s`` dropped → factor); a ``year`` group
    instead gives the weeks from the middle of that year to the day of extraction.
    """

    finding: str
    match: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    value: Scalar | None = None
    negated: Scalar | None = None
    units: dict[str, float] = Field(default_factory=dict)
    implies: tuple[Implied, ...] = ()
    examples: tuple[Example, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _some_pattern(self) -> Phrase:
        if not self.match and not self.regex:
            raise ValueError("a phrase needs `match` (phrases) or `regex` (patterns)")
        for pattern in self.regex:
            try:
                re.compile(expand_pattern(pattern, {}))
            except re.error as error:
                raise ValueError(f"regex {pattern!r}: {error}") from None
        return self


class NotInProse(_Entry):
    """Vocabulary synonyms too loose to read in free text (they stay valid answers in the interview)."""

    finding: str
    value: str | None = None
    phrases: tuple[str, ...] = Field(min_length=1)
    why: str = Field(min_length=1)


class Ignored(_Entry):
    """Phrases that contain a finding's words but state no finding: matched (the longest match wins), then dropped."""

    match: tuple[str, ...] = Field(min_length=1)
    why: str = Field(min_length=1)
    examples: tuple[Example, ...] = Field(min_length=1)


class OnlyWith(_Entry):
    """A finding read only from sentences that mention one of ``words`` (where the lesion is, not where it hurts)."""

    finding: str
    words: tuple[str, ...] = Field(min_length=1)
    why: str = Field(min_length=1)
    examples: tuple[Example, ...] = Field(min_length=1)


class Modifier(_Entry):
    """An extra ConText modifier (medspaCy's own defaults stay)."""

    match: tuple[str, ...] = Field(min_length=1)
    category: ContextCategory
    direction: Literal["FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"] = "FORWARD"
    examples: tuple[Example, ...] = Field(min_length=1)


class Section(_Entry):
    """Section titles (literal, or regex when written ``/.../``), matched at the start of a line.

    ``findings``: ``all`` statements count; ``anchored`` only those that speak of this patient (a sentence
    with one of the ``anchors``), as in a differential that weighs the case's own features; ``none``.
    """

    category: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    findings: Literal["all", "anchored", "none"]
    titles: tuple[str, ...] = Field(min_length=1)
    examples: tuple[Example, ...] = Field(min_length=1)


class Combination(_Entry):
    """Two or more values of one choice stated together read as one value (e.g. both parts of a compound)."""

    finding: str
    of: tuple[str, ...] = Field(min_length=2)
    gives: str
    examples: tuple[Example, ...] = Field(min_length=1)


class _LexiconFile(_Entry):
    number_words: dict[str, int] = Field(default_factory=dict)
    anchors: tuple[str, ...] = ()
    ignore: tuple[Ignored, ...] = ()
    not_in_prose: tuple[NotInProse, ...] = ()
    only_with: tuple[OnlyWith, ...] = ()
    phrases: tuple[Phrase, ...] = ()
    modifiers: tuple[Modifier, ...] = ()
    sections: tuple[Section, ...] = ()
    combinations: tuple[Combination, ...] = ()


@dataclass(frozen=True)
class LocatedExample:
    """An example with where it is written, for lint and the test that collects them."""

    where: str
    line: int | None
    example: Example


@dataclass(frozen=True)
class Lexicon:
    source: str
    number_words: dict[str, int]
    anchors: tuple[str, ...]
    ignore: tuple[Ignored, ...]
    not_in_prose: tuple[NotInProse, ...]
    only_with: tuple[OnlyWith, ...]
    phrases: tuple[Phrase, ...]
    modifiers: tuple[Modifier, ...]
    sections: tuple[Section, ...]
    combinations: tuple[Combination, ...]
    examples: tuple[LocatedExample, ...]


NUMBER = r"\d+(?:\.\d+)?"


def expand_pattern(pattern: str, number_words: dict[str, int]) -> str:
    """A lexicon regex with its placeholders filled: ``<number>`` (digits or a number word) and ``<dims>``
    (one to three numbers joined by ``x``, ``×`` or ``by``, as in ``2.5 x 3``)."""
    words = "|".join(sorted((re.escape(w) for w in number_words), key=len, reverse=True))
    number = f"(?:{NUMBER}|\\b(?:{words})\\b)" if words else f"(?:{NUMBER})"
    dims = f"{number}(?:\\s*(?:x|×|by)\\s*{number}){{0,2}}"
    return pattern.replace("<dims>", dims).replace("<number>", number)


def empty_lexicon(source: str = "") -> Lexicon:
    return Lexicon(source, {}, (), (), (), (), (), (), (), (), ())


def lexicon_for(pack: RulePack) -> Lexicon:
    """The pack's lexicon (empty without ``lexicon.yaml``: the vocabulary's synonyms alone), loaded once."""
    found: Lexicon | None = pack.derived.get("lexicon")
    if found is None:
        path = Path(pack.directory) / LEXICON_FILE
        found = load_lexicon(load_document(path), pack.specs) if path.is_file() else empty_lexicon(str(path))
        pack.derived["lexicon"] = found
    return found


def load_lexicon(document: LoadedDocument, specs: dict[str, FindingSpec]) -> Lexicon:
    """Validate a lexicon document against the vocabulary, or raise :class:`DdxInputError` (file:line)."""
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise DdxInputError("expected a mapping (phrases, modifiers, sections, ...)", source=document.source, line=1)
    try:
        parsed = _LexiconFile.model_validate(data)
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        location = tuple(detail["loc"])
        message = {"extra_forbidden": f"unknown key '{location[-1]}'", "missing": "is required"}.get(
            detail["type"], str(detail["msg"])
        )
        raise DdxInputError(
            message,
            source=document.source,
            line=document.line_of(location),
            field=".".join(str(p) for p in location),
        ) from None
    _check_against_vocabulary(parsed, specs, document)
    examples = [
        LocatedExample(f"{group}[{index}]", document.line_of((group, index, "examples", number)), example)
        for group in ("ignore", "only_with", "phrases", "modifiers", "sections", "combinations")
        for index, entry in enumerate(getattr(parsed, group))
        for number, example in enumerate(entry.examples)
    ]
    return Lexicon(
        source=document.source,
        number_words={word.lower(): number for word, number in parsed.number_words.items()},
        anchors=parsed.anchors,
        ignore=parsed.ignore,
        not_in_prose=parsed.not_in_prose,
        only_with=parsed.only_with,
        phrases=parsed.phrases,
        modifiers=parsed.modifiers,
        sections=parsed.sections,
        combinations=parsed.combinations,
        examples=tuple(examples),
    )


def _check_against_vocabulary(parsed: _LexiconFile, specs: dict[str, FindingSpec], document: LoadedDocument) -> None:
    def fail(location: tuple[str | int, ...], message: str) -> None:
        raise DdxInputError(
            message,
            source=document.source,
            line=document.line_of(location),
            field=".".join(str(p) for p in location),
        )

    def check_finding(location: tuple[str | int, ...], finding: str) -> FindingSpec:
        spec = specs.get(finding)
        if spec is None:
            fail(location, f"unknown finding '{finding}'{suggest(finding, specs)}")
        assert spec is not None
        return spec

    def check_value(location: tuple[str | int, ...], spec: FindingSpec, value: Any) -> None:
        if value is not None and not spec.accepts(value):
            fail(location, f"{value!r} is not a value of '{spec.name}'; expected {spec.describe_allowed()}")

    def check_examples(location: tuple[str | int, ...], examples: tuple[Example, ...]) -> None:
        for number, example in enumerate(examples):
            for finding, value in example.findings.items():
                where = (*location, "examples", number, "findings", finding)
                check_value(where, check_finding(where, finding), value)

    for index, phrase in enumerate(parsed.phrases):
        where: tuple[str | int, ...] = ("phrases", index)
        spec = check_finding((*where, "finding"), phrase.finding)
        check_value((*where, "value"), spec, phrase.value)
        check_value((*where, "negated"), spec, phrase.negated)
        numeric = spec.kind in ("int", "number")
        if numeric and phrase.match and phrase.value is None:
            fail(where, f"'{spec.name}' is a number: give phrases a `value`, or a `regex` with a `value` group")
        for pattern in phrase.regex:
            groups = set(re.compile(expand_pattern(pattern, parsed.number_words)).groupindex)
            if numeric and phrase.value is None and not groups & {"value", "year"}:
                fail((*where, "regex"), f"{pattern!r} needs a `value` or `year` group for '{spec.name}'")
            if "unit" in groups and not phrase.units:
                fail((*where, "units"), "the regex has a `unit` group: list the units and their factors")
        if spec.kind == "enum" and phrase.value is None and phrase.negated is None:
            fail(where, f"'{spec.name}' is a choice: give the `value` (or `negated` value) the phrase states")
        for number, implied in enumerate(phrase.implies):
            place = (*where, "implies", number)
            check_value(place, check_finding(place, implied.finding), implied.value)
        check_examples(where, phrase.examples)
    for index, loose in enumerate(parsed.not_in_prose):
        where = ("not_in_prose", index)
        spec = check_finding((*where, "finding"), loose.finding)
        check_value((*where, "value"), spec, loose.value)
        known = spec.synonyms if loose.value is None else (spec.value_spec(loose.value) or spec).synonyms
        for phrase_text in loose.phrases:
            if phrase_text not in known:
                fail((*where, "phrases"), f"'{phrase_text}' is not a synonym of {spec.name} {loose.value or ''}")
    for index, only in enumerate(parsed.only_with):
        check_finding(("only_with", index, "finding"), only.finding)
    for group in ("ignore", "only_with", "modifiers", "sections"):
        for index, entry in enumerate(getattr(parsed, group)):
            check_examples((group, index), entry.examples)
    for index, combination in enumerate(parsed.combinations):
        where = ("combinations", index)
        spec = check_finding((*where, "finding"), combination.finding)
        for value in (*combination.of, combination.gives):
            check_value(where, spec, value)
        check_examples(where, combination.examples)


__all__ = ["LEXICON_FILE", "Example", "Lexicon", "LocatedExample", "Phrase", "lexicon_for", "load_lexicon"]
