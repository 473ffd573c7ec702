"""From a written report to findings, each traced to its sentence: ``ddx extract``.

Built on medspaCy on spaCy's blank English pipeline (nothing is downloaded): the target matcher finds the
mentions the pack's lexicon describes (the vocabulary's synonyms, plus ``lexicon.yaml``'s phrases and number
patterns), ConText reads each as affirmed, negated, historical, hypothetical, uncertain or about the family,
and the sectionizer tells a finding section from a discussion or a differential. No clinical word is written
here: every phrase, pattern, modifier and section title comes from the pack.

What counts: affirmed, negated and historical mentions in a section whose statements count. Hypothetical,
uncertain and family mentions never do, nor a mention in a discussion (or, for an ``anchored`` section such
as a differential, one in a sentence that does not speak of this patient). Mentions that state different
values leave the finding unknown, naming both sentences. What the text does not state stays unknown.

spaCy and medspaCy are imported here only, and only when an extractor is built: ``ddx assess CASE.yaml``
does not pay for them.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ddx.errors import DdxInputError
from ddx.findings import FindingSpec, display_value
from ddx.lexicon import Implied, Lexicon, Phrase, expand_pattern, lexicon_for

if TYPE_CHECKING:
    from ddx.rulepack import RulePack

Read = Literal["affirmed", "negated", "historical", "hypothetical", "uncertain", "family"]
READS: tuple[Read, ...] = ("affirmed", "negated", "historical", "hypothetical", "uncertain", "family")
MAX_REPORT_BYTES = 1_000_000
INSTALL_HINT = "ddx extract needs medspaCy: pip install 'ddx[extract]'"
# Abbreviations after which a full stop does not end a sentence (typography, not clinical words).
_ABBREVIATIONS = frozenset({"fig", "figs", "e.g", "i.e", "approx", "vs", "cf", "no", "ref", "dr", "et al"})
_HEADING_CHARS = 60  # a line this short without a full stop is a heading, not a wrapped sentence
_SPLIT_WORDS = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+")


class ExtractError(DdxInputError):
    """The text cannot be read, or states no finding."""


@dataclass(frozen=True)
class Reader:
    """How one target rule turns its mention into a value (from a vocabulary synonym or a lexicon phrase)."""

    finding: str
    value: Any
    negated: Any
    origin: str
    pattern: re.Pattern[str] | None = None
    units: dict[str, float] = field(default_factory=dict)
    implies: tuple[Implied, ...] = ()


@dataclass(frozen=True)
class Mention:
    """One mention of a finding: where it is, how it was read, and whether it counts."""

    finding: str
    value: Any
    text: str
    start: int
    end: int
    sentence: str
    read: Read
    section: str | None
    counted: bool
    why_not: str | None = None

    def record(self) -> dict[str, Any]:
        """The mention as a case file's provenance holds it."""
        data: dict[str, Any] = {"text": self.text, "span": [self.start, self.end], "read": self.read}
        if self.section:
            data["section"] = self.section
        if self.why_not:
            data["why_not"] = self.why_not
        data["sentence"] = self.sentence
        return data


@dataclass(frozen=True)
class Extraction:
    findings: dict[str, Any]
    mentions: tuple[Mention, ...]
    conflicts: dict[str, str]

    def provenance(self) -> dict[str, Any]:
        """Per finding mentioned: its value (if any), the mentions that state it, those set aside, any conflict."""
        out: dict[str, Any] = {}
        for mention in self.mentions:
            entry = out.setdefault(mention.finding, {})
            key = "mentions" if mention.counted else "set_aside"
            entry.setdefault(key, []).append(mention.record())
        for name, entry in out.items():
            if name in self.findings:
                entry["value"] = self.findings[name]
            if name in self.conflicts:
                entry["conflict"] = self.conflicts[name]
        order = {name: index for index, name in enumerate(self.findings)}
        ordered = sorted(out, key=lambda n: (n not in order, order.get(n, 0)))
        return {
            name: {k: out[name][k] for k in ("value", "conflict", "mentions", "set_aside") if k in out[name]}
            for name in ordered
        }


class Extractor:
    """A pack's extraction pipeline, built once (about a second) and then quick per report."""

    def __init__(self, pack: RulePack, *, today: date | None = None) -> None:
        started = time.perf_counter()
        try:
            import medspacy  # noqa: F401  (registers medspaCy's pipeline components)
            import spacy
            from medspacy.context import ConTextRule
            from medspacy.section_detection import SectionRule
            from medspacy.target_matcher import TargetMatcher, TargetRule
            from spacy.tokens import Span
        except ImportError:
            raise ExtractError(INSTALL_HINT) from None
        self.pack = pack
        self.specs: dict[str, FindingSpec] = pack.specs
        self.lexicon: Lexicon = lexicon_for(pack)
        self.today = today or date.today()
        self._readers: dict[str, Reader] = {}
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        nlp.add_pipe(_line_breaks_component())
        rules = list(self._target_rules())
        matcher: Any = nlp.add_pipe("medspacy_target_matcher")
        matcher.add(
            [TargetRule(literal, key, pattern=regex) for key, literal, regex in rules if not self._is_narrowed(key)]
        )
        # Numbers (and patterns with a `mention` group): the pattern reads the context, the mention is the number (or
        # the marked words) alone, so a long pattern does not hide the other mentions in its stretch of text.
        Span.set_extension("ddx_matched", default=None, force=True)
        numbers: Any = nlp.add_pipe(_numbers_component())
        numbers.matcher = TargetMatcher(nlp, name="ddx_number_matcher", result_type=None, prune=False)
        numbers.matcher.add(
            [TargetRule(literal, key, pattern=regex) for key, literal, regex in rules if self._is_narrowed(key)]
        )
        numbers.narrow = self._narrow
        context: Any = nlp.add_pipe("medspacy_context", config={"rules": "default"})
        modifiers = [
            ConTextRule(literal, modifier.category, direction=modifier.direction)
            for modifier in self.lexicon.modifiers
            for literal in modifier.match
        ]
        if modifiers:
            context.add(modifiers)
        sectionizer: Any = nlp.add_pipe("medspacy_sectionizer", config={"rules": None, "require_start_line": True})
        section_rules = []
        for section in self.lexicon.sections:
            for title in section.titles:
                if len(title) > 2 and title.startswith("/") and title.endswith("/"):
                    section_rules.append(SectionRule(title, section.category, pattern=title[1:-1]))
                else:
                    section_rules.append(SectionRule(title, section.category))
        if section_rules:
            sectionizer.add(section_rules)
        self._section_policy = {section.category: section.findings for section in self.lexicon.sections}
        self._anchors = tuple(anchor.lower() for anchor in self.lexicon.anchors)
        self._only_with = {
            only.finding: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in only.words) + r")\b", re.IGNORECASE)
            for only in self.lexicon.only_with
        }
        self.nlp = nlp
        self.load_seconds = time.perf_counter() - started

    # ---- building ----------------------------------------------------------------------------------------

    def _target_rules(self) -> Iterable[tuple[str, str, str | None]]:
        loose: set[tuple[str, str | None, str]] = {
            (entry.finding, entry.value, phrase.lower())
            for entry in self.lexicon.not_in_prose
            for phrase in entry.phrases
        }
        for spec in self.specs.values():
            if spec.kind == "bool":
                for synonym in spec.synonyms:
                    if (spec.name, None, synonym.lower()) not in loose:
                        yield self._reader(Reader(spec.name, True, False, f"{spec.name} synonym")), synonym, None
            for value in spec.values:
                for synonym in value.synonyms:
                    if (spec.name, value.id, synonym.lower()) not in loose:
                        reader = Reader(spec.name, value.id, None, f"{spec.name}.{value.id} synonym")
                        yield self._reader(reader), synonym, None
        for index, ignored in enumerate(self.lexicon.ignore):
            for literal in ignored.match:
                yield self._reader(Reader("", None, None, f"lexicon ignore[{index}]")), literal, None
        for index, phrase in enumerate(self.lexicon.phrases):
            spec = self.specs[phrase.finding]
            value, negated = _phrase_values(phrase, spec)
            origin = f"lexicon phrases[{index}]"
            for literal in phrase.match:
                yield self._reader(Reader(spec.name, value, negated, origin, implies=phrase.implies)), literal, None
            for pattern in phrase.regex:
                expanded = expand_pattern(pattern, self.lexicon.number_words)
                reader = Reader(
                    spec.name,
                    value,
                    negated,
                    origin,
                    pattern=re.compile(expanded, re.IGNORECASE),
                    units={unit.lower(): factor for unit, factor in phrase.units.items()},
                    implies=phrase.implies,
                )
                yield self._reader(reader), pattern, expanded

    def _is_narrowed(self, key: str) -> bool:
        """A pattern read for its context: a number's, or one with a ``mention`` group (the words it marks)."""
        reader = self._readers[key]
        if reader.pattern is None:
            return False
        groups = set(reader.pattern.groupindex)
        return "mention" in groups or (reader.value is None and bool({"value", "year"} & groups))

    def _narrow(self, span: Any) -> tuple[int, int] | None:
        """The characters of a number pattern's match that hold the number (and its unit)."""
        reader = self._readers[span.label_]
        assert reader.pattern is not None
        found = reader.pattern.search(span.text)
        if found is None:
            return None
        wanted = ("mention",) if "mention" in reader.pattern.groupindex else ("value", "year", "unit")
        groups = [g for g in wanted if g in reader.pattern.groupindex and found.group(g)]
        if not groups:
            return None
        start = min(found.start(g) for g in groups)
        end = max(found.end(g) for g in groups)
        return span.start_char + start, span.start_char + end

    def _reader(self, reader: Reader) -> str:
        key = f"R{len(self._readers)}"
        self._readers[key] = reader
        return key

    # ---- reading -----------------------------------------------------------------------------------------

    def extract(self, text: str, *, today: date | None = None) -> Extraction:
        """Read ``text``: every mention with its reading, and the findings the counted mentions state.

        ``today``: the day the report is read on, for "since 2019" (default: the extractor's day).
        """
        with warnings.catch_warnings():
            # spaCy's W036: medspaCy's matchers hold phrases and regexes, so its token matcher may be empty.
            warnings.filterwarnings("ignore", message=r"\[W036\]")
            doc = self.nlp(_unwrap(text))
        day = today or self.today
        mentions: list[Mention] = []
        for entity in doc.ents:
            reader = self._readers[entity.label_]
            if not reader.finding:
                continue  # a phrase the lexicon sets aside
            read = _read(entity)
            section = entity._.section_category
            sentence = entity.sent
            value = self._value(reader, entity._.ddx_matched or entity.text, read, day)
            why_not = self._why_not(read, section, sentence.text, reader.finding, value)
            base = {
                "text": text[entity.start_char : entity.end_char],
                "start": entity.start_char,
                "end": entity.end_char,
                "sentence": " ".join(sentence.text.split()),
                "read": read,
                "section": section,
            }
            mentions.append(Mention(reader.finding, value, counted=why_not is None, why_not=why_not, **base))
            if value is None or read not in ("affirmed", "historical") or isinstance(value, bool):
                continue
            for implied in reader.implies:
                if (implied.at_most is None or value <= implied.at_most) and (
                    implied.above is None or value > implied.above
                ):
                    mentions.append(
                        Mention(implied.finding, implied.value, counted=why_not is None, why_not=why_not, **base)
                    )
        findings, conflicts = self._resolve(mentions)
        return Extraction(findings, tuple(mentions), conflicts)

    def _value(self, reader: Reader, text: str, read: Read, today: date) -> Any:
        spec = self.specs[reader.finding]
        if spec.kind in ("int", "number"):
            if read not in ("affirmed", "historical"):
                return None
            return reader.value if reader.value is not None else self._number(reader, spec, text, today)
        if read == "negated":
            return reader.negated
        return reader.value

    def _number(self, reader: Reader, spec: FindingSpec, text: str, today: date) -> float | int | None:
        assert reader.pattern is not None
        found = reader.pattern.search(text)
        if found is None:
            return None
        groups = found.groupdict()
        if groups.get("year"):
            middle = date(int(groups["year"]), 7, 1)
            if middle > today:
                return None  # a year still to come states no age
            number = float(round((today - middle).days / 7))  # a year is no more precise than whole weeks
        else:
            numbers = [self._as_number(part) for part in _SPLIT_WORDS.findall(groups.get("value") or "")]
            known = [n for n in numbers if n is not None]
            if not known:
                return None
            unit = (groups.get("unit") or "").lower().rstrip(".")
            factor = reader.units.get(unit, reader.units.get(unit.removesuffix("s"), 1.0))
            number = float(max(known) * factor)
        value: float | int = round(number) if spec.kind == "int" else round(number, 3)
        if spec.kind == "number" and float(value).is_integer():
            value = int(value)
        return value if spec.accepts(value) else None

    def _as_number(self, word: str) -> float | None:
        try:
            return float(word)
        except ValueError:
            return self.lexicon.number_words.get(word.lower())

    def _why_not(self, read: Read, section: str | None, sentence: str, finding: str, value: Any) -> str | None:
        if read in ("hypothetical", "uncertain", "family"):
            return f"{read} mention"
        policy = self._section_policy.get(section or "", "all")
        if policy == "none":
            return f"in the {section} section"
        if policy == "anchored" and not any(anchor in sentence.lower() for anchor in self._anchors):
            return f"in the {section} section, not about this patient"
        if value is None:
            return "states no value of the finding"
        only = self._only_with.get(finding)
        if only is not None and only.search(sentence) is None:
            return "the sentence does not describe the lesion"
        return None

    def _resolve(self, mentions: list[Mention]) -> tuple[dict[str, Any], dict[str, str]]:
        by_finding: dict[str, list[Mention]] = {}
        for mention in mentions:
            if mention.counted:
                by_finding.setdefault(mention.finding, []).append(mention)
        findings: dict[str, Any] = {}
        conflicts: dict[str, str] = {}
        for name in self.specs:  # the vocabulary's order
            stated = by_finding.get(name)
            if not stated:
                continue
            values = list(dict.fromkeys(m.value for m in stated))
            if len(values) == 1:
                findings[name] = values[0]
                continue
            combined = next(
                (c.gives for c in self.lexicon.combinations if c.finding == name and set(values) <= set(c.of)), None
            )
            if combined is not None:
                findings[name] = combined
                continue
            first = stated[0]
            other = next(m for m in stated if m.value != first.value)
            conflicts[name] = (
                f"{display_value(first.value)} in “{first.sentence}” but {display_value(other.value)} in "
                f"“{other.sentence}”; left unknown"
            )
        return findings, conflicts


def _phrase_values(phrase: Phrase, spec: FindingSpec) -> tuple[Any, Any]:
    if spec.kind == "bool":
        value = True if phrase.value is None else phrase.value
        return value, (not value) if phrase.negated is None else phrase.negated
    return phrase.value, phrase.negated


def _read(entity: Any) -> Read:
    if entity._.is_family:
        return "family"
    if entity._.is_hypothetical:
        return "hypothetical"
    if entity._.is_uncertain:
        return "uncertain"
    if entity._.is_negated:
        return "negated"
    if entity._.is_historical:
        return "historical"
    return "affirmed"


def _line_breaks_component() -> str:
    """A component that reads line breaks: a paragraph, a heading, a list item or a line ending a sentence starts
    a new sentence; a line wrapped in the middle of a sentence does not."""
    from spacy.language import Language

    name = "ddx_line_breaks"
    if not Language.has_factory(name):

        @Language.component(name)
        def line_breaks(doc: Any) -> Any:
            text = doc.text
            previous = None  # the last token that is not whitespace
            for token in doc:
                if token.is_space:
                    if token.i > 0:
                        token.is_sent_start = False
                    continue
                if previous is not None:
                    gap = text[previous.idx + len(previous.text) : token.idx]
                    if "\n" in gap:
                        token.is_sent_start = _starts_a_line(text, previous, token, gap)
                    elif token.is_sent_start and (
                        _numbers_an_item(doc, token)
                        or token.text[:1].islower()
                        or token.text[:1] in ")],;:"
                        or (previous.text == "." and token.i >= 2 and doc[token.i - 2].text.lower() in _ABBREVIATIONS)
                    ):
                        token.is_sent_start = False  # "Fig. 1", "e.g. the", a list's "1)" continue the sentence
                previous = token
            return doc

    return name


_LINE_BREAK = re.compile(r"[ \t]*\r?\n[ \t]*")
_LIST_ITEM = re.compile(r"(?:[-•*–]|\d+[.)])")


def _unwrap(text: str) -> str:
    """The text with each line break inside a wrapped sentence made a space (same length, so every offset holds).

    A blank line, a line ending a sentence, a heading (a short line) or a list item keeps its line break.
    """

    def unwrap(found: re.Match[str]) -> str:
        before = text[: found.start()]
        line = before[before.rfind("\n") + 1 :].strip()
        after = text[found.end() : found.end() + 3]
        keep = (
            not line
            or line[-1] in ".:;!?"
            or len(line) <= _HEADING_CHARS
            or _LIST_ITEM.match(after) is not None
            or found.end() >= len(text)
            or text[found.end()] == "\n"
        )
        return found.group() if keep else " " * len(found.group())

    return _LINE_BREAK.sub(unwrap, text)


def _numbers_component() -> str:
    """A component that adds number mentions (and marked words) to the entities, each narrowed to its words."""
    from spacy.language import Language

    name = "ddx_numbers"
    if not Language.has_factory(name):

        class Numbers:
            def __init__(self) -> None:
                self.matcher: Any = None
                self.narrow: Any = None

            def __call__(self, doc: Any) -> Any:
                from spacy.util import filter_spans

                taken = {i for entity in doc.ents for i in range(entity.start, entity.end)}
                found: list[tuple[int, Any]] = []
                for span in self.matcher(doc):
                    where = self.narrow(span)
                    if where is None:
                        continue
                    narrowed = doc.char_span(where[0], where[1], label=span.label_, alignment_mode="expand")
                    if narrowed is None or taken & set(range(narrowed.start, narrowed.end)):
                        continue
                    narrowed._.ddx_matched = span.text
                    found.append((len(span.text), narrowed))
                # Two patterns reading the same number: the one that read more context (the more specific) wins.
                found.sort(key=lambda pair: -pair[0])
                doc.ents = (*doc.ents, *filter_spans([narrowed for _, narrowed in found]))
                return doc

        @Language.factory(name)
        def make_numbers(nlp: Any, name: str) -> Numbers:  # noqa: ARG001  (spaCy passes both by name)
            return Numbers()

    return name


def _numbers_an_item(doc: Any, token: Any) -> bool:
    """Whether ``token`` follows a list item's number ("1." at the start of a line), which stays with its item."""
    if token.i < 2 or doc[token.i - 1].text not in (".", ")"):
        return False
    number = doc[token.i - 2]
    return bool(number.like_num) and (number.i == 0 or "\n" in doc.text[max(0, number.idx - 2) : number.idx])


def _starts_a_line(text: str, previous: Any, token: Any, gap: str) -> bool:
    if gap.count("\n") >= 2 or previous.text[-1:] in ".:;!?" or token.text[:1] in "-•*–":
        return True
    following = token.nbor(1).text if token.i + 1 < len(token.doc) else ""
    if token.text[:1].isdigit() and (token.text[-1:] in ".)" or following in (".", ")")):
        return True  # a numbered list item
    line_start = text.rfind("\n", 0, previous.idx) + 1
    return len(text[line_start : previous.idx + len(previous.text)].strip()) <= _HEADING_CHARS


def decode_report(raw: bytes, source: str) -> str:
    """The report's text, or one line saying why it cannot be read."""
    if len(raw) > MAX_REPORT_BYTES:
        raise ExtractError(f"the report is {len(raw)} bytes; the limit is {MAX_REPORT_BYTES} bytes", source=source)
    if b"\0" in raw:
        raise ExtractError("the report is binary, not text", source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ExtractError(f"the report is not UTF-8 text (byte {error.start})", source=source) from None
    if not text.strip():
        raise ExtractError("the report is empty", source=source)
    return text


def read_report(path: Path | str) -> tuple[str, str]:
    """The text of a report file (``-``: standard input) and its name, or one line saying what is wrong."""
    import sys

    if str(path) == "-":
        return decode_report(sys.stdin.buffer.read(MAX_REPORT_BYTES + 1), "<stdin>"), "<stdin>"
    file = Path(path)
    try:
        size = file.stat().st_size
        if file.is_dir():
            raise ExtractError("is a directory, expected a text file", source=file)
        if size > MAX_REPORT_BYTES:
            raise ExtractError(f"the report is {size} bytes; the limit is {MAX_REPORT_BYTES} bytes", source=file)
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ExtractError("file not found", source=file) from None
    except OSError as error:
        raise ExtractError(f"cannot read file ({error.strerror})", source=file) from None
    return decode_report(raw, str(file)), str(file)


_EXTRACTORS: dict[int, Extractor] = {}


def extractor_for(pack: RulePack) -> Extractor:
    """The pack's extractor, built once per process."""
    found = _EXTRACTORS.get(id(pack))
    if found is None or found.pack is not pack:
        found = _EXTRACTORS[id(pack)] = Extractor(pack)
    return found


def extract_text(text: str, pack: RulePack, *, source: str = "<text>") -> Extraction:
    """Extract, or raise :class:`ExtractError` when no finding could be read."""
    extraction = extractor_for(pack).extract(text)
    if not extraction.findings:
        reason = " (conflicting mentions only)" if extraction.conflicts else ""
        raise ExtractError(
            f"no finding could be read from the text{reason}; enter the case with: ddx new", source=source
        )
    return extraction


def case_data(extraction: Extraction, case_id: str, title: str, text: str) -> dict[str, Any]:
    """A case file (as plain data) with the findings and, per finding, where it came from."""
    data: dict[str, Any] = {"id": case_id, "title": title}
    if len(text) <= 20_000:
        data["description"] = "\n".join(line.rstrip() for line in text.strip().splitlines()) + "\n"
    data["findings"] = dict(extraction.findings)
    data["provenance"] = extraction.provenance()
    return data


def case_id_for(source: str) -> str:
    """A case id from the report's file name (``report`` for standard input)."""
    stem = Path(source).stem if source != "<stdin>" else "report"
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._")
    return cleaned or "report"


def case_yaml_text(data: dict[str, Any], source: str, *, made_by: str = "ddx extract") -> str:
    """The case file as YAML a radiologist can read: findings first, then each finding's sentences."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import LiteralScalarString

    document = CommentedMap(data)
    if "description" in document:
        document["description"] = LiteralScalarString(document["description"])
    for entry in document.get("provenance", {}).values():
        for key in ("mentions", "set_aside"):
            for mention in entry.get(key, []):
                span = CommentedSeq(mention["span"])
                span.fa.set_flow_style()
                mention["span"] = span
    document.yaml_set_start_comment(
        f"Extracted by {made_by} from {source}. Check each finding against its sentence (provenance) before use;\n"
        "what the text does not state is unknown. Decision support for clinicians, not a diagnosis."
    )
    if "findings" in document:
        document.yaml_set_comment_before_after_key(
            "provenance", before="\nWhere each finding was read: the words, their character span, how they were read."
        )
    yaml = YAML()
    yaml.width = 100_000  # one sentence, one line
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


__all__ = [
    "READS",
    "ExtractError",
    "Extraction",
    "Extractor",
    "Mention",
    "case_data",
    "case_id_for",
    "case_yaml_text",
    "decode_report",
    "extract_text",
    "extractor_for",
    "read_report",
]


def example_failures(pack: RulePack) -> list[tuple[str, int | None, str]]:
    """Every lexicon example whose text does not yield exactly its findings: (where, line, what went wrong)."""
    extractor = extractor_for(pack)
    failures: list[tuple[str, int | None, str]] = []
    for located in extractor.lexicon.examples:
        got = extractor.extract(located.example.text, today=located.example.today).findings
        expected = located.example.findings
        if got != expected:
            failures.append(
                (located.where, located.line, f"example {located.example.text!r}: expected {expected}, read {got}")
            )
    return failures
