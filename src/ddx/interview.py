"""The guided interview: which unknown finding to ask next, and the interview itself.

The next question is the unknown finding whose answer is expected to change the answer most. For each
candidate finding, every value region the rules can tell apart is tried (see :mod:`ddx.counterfactuals`),
with the same compiled rules; the answer's regions are weighted equally, since ddx has no source for how
likely each answer is. A finding's score is the mean, over its values, of

* the total-variation shift of the differential (½ Σ |p − q|, from 0 to 1), plus
* 1 if the top diagnosis, the impingement status or an urgent red flag would change; else 0.25 if a caution
  or a recommendation would change —

so a question that would only settle impingement or raise a red flag still outranks one that changes
nothing. Findings no rule reads score 0 and come last, in vocabulary order. The interview stops when no
remaining question scores 0.1 or more (``--all`` asks everything): on the reference case that is eleven
questions, with the published conclusion reached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ddx.case import Case
from ddx.counterfactuals import candidate_values, posterior_shift
from ddx.display import percent
from ddx.evaluate import Conclusion, Evaluator
from ddx.findings import AnswerError, FindingSpec, display_value, finding_names, normalise, parse_answer, suggest
from ddx.oracle import evaluate
from ddx.rulepack import RulePack


@dataclass(frozen=True)
class QuestionScore:
    finding: str
    score: float
    expected_shift: float
    could_change_top: bool
    values_tried: int


# How much a change of each kind weighs against a posterior shift (which runs from 0 to 1). A choice, not a
# measurement: a changed top diagnosis, urgent red flag or impingement status is a different answer; a caution
# or a piece of advice is a smaller one, but still worth a question (radiating pain decides on gabapentin).
MAJOR_CHANGE = 1.0
MINOR_CHANGE = 0.25


def _outcome(conclusion: Conclusion) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(major, minor) facts a clinician acts on besides the probabilities."""
    major = (
        conclusion.top.diagnosis,
        *(s.status for s in conclusion.secondary),
        *(rule.id for rule, effect in conclusion.red_flags if effect.severity == "urgent"),
    )
    minor = (
        *(rule.id for rule, effect in conclusion.red_flags if effect.severity != "urgent"),
        *(rule.id + effect.recommendation[:20] for rule, effect in conclusion.recommendations),
    )
    return major, minor


@dataclass(frozen=True)
class _Lookahead:
    shift: float
    outcome_changes: float
    top_changes: bool

    @property
    def score(self) -> float:
        return self.shift + self.outcome_changes


def _look_ahead(
    known: Mapping[str, Any], answers: list[dict[str, Any]], evaluator: Evaluator, current: Conclusion
) -> _Lookahead:
    """The mean effect of each possible answer (all answers weighted alike)."""
    if not answers:
        return _Lookahead(0.0, 0.0, False)
    major, minor = _outcome(current)
    shifts, changes, top_changes = 0.0, 0.0, False
    for answer in answers:
        after = evaluator.conclude({**known, **answer})
        shifts += posterior_shift(current.ranking, after.ranking)
        after_major, after_minor = _outcome(after)
        changes += MAJOR_CHANGE if after_major != major else MINOR_CHANGE if after_minor != minor else 0.0
        top_changes = top_changes or after.top.diagnosis != current.top.diagnosis
    return _Lookahead(shifts / len(answers), changes / len(answers), top_changes)


def rank_questions(
    known: Mapping[str, Any], evaluator: Evaluator, *, candidates: Iterable[str] | None = None
) -> list[QuestionScore]:
    """Unknown findings, most informative first.

    A finding that matters only together with another (the ischiofemoral space means nothing for
    impingement until the quadratus femoris is known, and the other way round) scores nothing on its own,
    so such a finding is also tried jointly with each unknown finding it shares a rule with, at half credit.
    """
    pack = evaluator.pack
    specs = pack.specs
    names = [n for n in (candidates if candidates is not None else specs) if n not in known]
    current = evaluator.conclude(known)
    thresholds = pack.all_numeric_thresholds
    partners: dict[str, set[str]] = {}
    for rule in pack.rules:
        read = rule.reads
        for name in read:
            partners.setdefault(name, set()).update(read - {name})

    def values_of(name: str) -> list[Any]:
        return candidate_values(specs[name], thresholds.get(name, ())) if name in partners else []

    scores = []
    for name in names:
        values = values_of(name)
        single = _look_ahead(known, [{name: v} for v in values], evaluator, current)
        score, shift = single.score, single.shift
        if score == 0.0:
            for partner in sorted(partners.get(name, set()) & set(names)):
                pairs = [{name: v, partner: w} for v in values for w in values_of(partner)]
                joint = _look_ahead(known, pairs, evaluator, current)
                if joint.score / 2 > score:
                    score, shift = joint.score / 2, joint.shift / 2
        scores.append(QuestionScore(name, score, shift, single.top_changes, len(values)))
    order = {name: index for index, name in enumerate(specs)}
    scores.sort(key=lambda q: (-round(q.score, 12), order[q.finding]))
    return scores


# ---- the guided interview ------------------------------------------------------------------------------

STOP_SCORE = 0.1  # see rank_questions: below this no answer is expected to change what a clinician would do
DRAFT_FORMAT = "ddx-interview-draft-1"
COMMANDS = "Answer, or type: unknown (or skip), back, show, done, help."
WELCOME = (
    "Enter what is known. Answer each question, or give any findings you already know as finding=value "
    "(several, comma-separated: age_years=24, trauma_history=recent); type unknown (or skip), back, show, "
    "done or help."
)


class Draft(BaseModel):
    """Everything an interview needs to continue later; written after every answer."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["ddx-interview-draft-1"] = "ddx-interview-draft-1"
    # The constraints of Case.id and Case.title, so a draft never holds what the case file cannot.
    case_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str = Field(min_length=1, max_length=500)
    out: str
    order: Literal["adaptive", "fixed"] = "adaptive"
    ask_all: bool = False
    findings: dict[str, Any] = Field(default_factory=dict)
    asked: list[str] = Field(default_factory=list)
    replace: bool = False  # the user agreed (or said --force) to replace an existing ``out``


@dataclass(frozen=True)
class Question:
    finding: str
    prompt: str
    score: float | None


@dataclass(frozen=True)
class Reply:
    """What the interview made of one line of input."""

    kind: Literal["answered", "invalid", "back", "show", "done", "help"]
    message: str = ""


def question_prompt(spec: FindingSpec) -> str:
    """``Age in years (age_years, 0–120):`` — the field name as in the case file, so answers can be scripted."""
    if spec.kind == "bool":
        allowed = "yes/no"
    elif spec.kind == "enum":
        allowed = " · ".join(f"{i} {choice}" for i, choice in enumerate(spec.choices, start=1))
    else:
        low = f"{spec.minimum:g}" if spec.minimum is not None else ""
        high = f"{spec.maximum:g}" if spec.maximum is not None else ""
        allowed = f"{'>' if spec.exclusive_minimum else ''}{low}–{high}" if high else f"≥ {low}"
        if spec.unit and spec.unit != "years":
            allowed += f" {spec.unit}"
    return f"{spec.description} ({spec.name}, {allowed}): "


def help_text(spec: FindingSpec) -> str:
    """What ``help`` prints at a prompt: what the finding means and what each of its values means."""
    lines = [f"  {spec.title}: {spec.meaning or spec.description}"]
    lines += [
        f"    {value.id}"
        + (f" ({value.label})" if value.label and value.label != value.id else "")
        + (f": {value.meaning}" if value.meaning else "")
        + (f" Also: {', '.join(value.synonyms)}." if value.synonyms else "")
        for value in spec.values
    ]
    if spec.kind == "bool":
        lines.append("    yes or no (also: y, n, true, false)")
    elif spec.kind in ("int", "number"):
        lines.append(f"    {spec.describe_allowed()}" + (f", in {spec.unit}" if spec.unit else ""))
    lines.append(f"  {COMMANDS}")
    return "\n".join(lines)


class Interview:
    """The interview's state and rules, with no input or output of its own (the CLI drives it)."""

    def __init__(self, draft: Draft, evaluator: Evaluator) -> None:
        self.draft = draft
        self.evaluator = evaluator

    @property
    def findings(self) -> dict[str, Any]:
        return self.draft.findings

    def next_question(self) -> Question | None:
        pending = [name for name in self.specs if name not in self.draft.asked and self.applies(name)]
        if not pending:
            return None
        if self.draft.order == "fixed":
            name = pending[0]
            return Question(name, question_prompt(self.specs[name]), None)
        scored = rank_questions(self.findings, self.evaluator, candidates=pending)
        # A question that applies only once another finding is known (tendons on the lesion only at the
        # ischium) waits for it: the finding that decides whether it applies is worth at least as much.
        worth = {q.finding: q.score for q in scored}
        waiting = [q for q in scored if not self.settled(q.finding)]
        for question in waiting:
            gate = self.specs[question.finding].applies_when
            assert gate is not None
            for name in gate.findings() & worth.keys():
                if self.settled(name):
                    worth[name] = max(worth[name], question.score)
        ready = [q for q in scored if self.settled(q.finding)] or scored
        best = max(ready, key=lambda q: worth[q.finding])  # max keeps the first of equals: rank order
        if worth[best.finding] < STOP_SCORE and not self.draft.ask_all:
            return None
        return Question(best.finding, question_prompt(self.specs[best.finding]), worth[best.finding])

    def settled(self, name: str) -> bool:
        """Whether a finding's question can be asked now: it has no condition, or its condition is known true."""
        condition = self.specs[name].applies_when
        return condition is None or evaluate(condition, self.findings) is True

    @property
    def specs(self) -> dict[str, FindingSpec]:
        return self.evaluator.pack.specs

    def applies(self, name: str) -> bool:
        """A finding is asked unless the answers so far show that it does not apply (its condition is false)."""
        condition = self.specs[name].applies_when
        return condition is None or evaluate(condition, self.findings) is not False

    def reply(self, question: Question, text: str) -> Reply:
        command = text.strip().lower()
        if command in ("back", "show", "done", "help"):
            if command == "back":
                return Reply("back", self.go_back())
            return Reply(command)  # type: ignore[arg-type]
        if "=" in text:
            return self.volunteer(text)
        try:
            value = parse_answer(self.specs[question.finding], text)
        except AnswerError as error:
            return Reply("invalid", str(error))
        self._record(question.finding, value)
        return Reply("answered")

    def volunteer(self, text: str) -> Reply:
        """``finding=value`` pairs typed at any prompt: all of them are taken, or none (and the reason why)."""
        parsed: list[tuple[str, Any]] = []
        for part in _PAIRS.split(text.strip().strip(",")):
            name, _, typed = part.partition("=")
            name = finding_names(self.specs).get(normalise(name), name.strip())
            if name not in self.specs:
                return Reply("invalid", f"{name!r} is not a finding{suggest(name, self.specs)}")
            try:
                value = parse_answer(self.specs[name], typed)
            except AnswerError as error:
                return Reply("invalid", f"{name}: {error}")
            parsed.append((name, value))
        for name, value in parsed:
            if name in self.draft.asked:
                self.draft.asked.remove(name)  # answered again: the later answer counts, once
            self._record(name, value)
        said = ", ".join(f"{name}={words(self.specs[name], value)}" for name, value in parsed)
        return Reply("answered", said)

    def _record(self, name: str, value: Any) -> None:
        self.draft.asked.append(name)
        if value is None:
            self.findings.pop(name, None)
        else:
            self.findings[name] = value

    def answered_text(self) -> str:
        """The answers so far as the user gave them (yes/no, not True/False), and those left unknown."""
        answered = [name for name in self.draft.asked if name in self.findings]
        known = [f"{name}={words(self.specs[name], self.findings[name])}" for name in answered]
        unknown = [name for name in self.draft.asked if name not in self.findings]
        lines = [", ".join(known) or "nothing known yet"]
        if unknown:
            lines.append("answered unknown: " + ", ".join(unknown))
        return "\n  ".join(lines)

    def go_back(self) -> str:
        if not self.draft.asked:
            return "Nothing to go back to."
        previous = self.draft.asked.pop()
        self.findings.pop(previous, None)
        return f"Back to {previous}."

    def remaining_unknowns(self) -> int:
        return sum(1 for name in self.specs if name not in self.draft.asked and self.applies(name))

    def case(self) -> Case:
        ordered = {name: self.findings[name] for name in self.specs if name in self.findings}
        findings = self.evaluator.pack.vocabulary.findings_model.model_validate(ordered)
        return Case(id=self.draft.case_id, title=self.draft.title, findings=findings)


_PAIRS = re.compile(r",\s*(?=[A-Za-z_]+\s*=)")  # a comma before the next name=, not a decimal comma


def words(spec: FindingSpec, value: Any) -> str:
    """A value as a person types it: yes/no for a yes/no finding, 7 rather than 7.0."""
    if spec.kind == "bool":
        return "yes" if value else "no"
    return display_value(value)


def summary_line(conclusion: Conclusion, labels: Mapping[Any, str], known: int | None = None) -> str:
    """The running differential in one line, saying on how many findings it rests."""
    ranking = " · ".join(f"{labels[e.diagnosis]} {percent(e.probability, 0)}" for e in conclusion.ranking)
    statuses = " · ".join(f"{s.condition.replace('_', ' ')}: {s.status}" for s in conclusion.secondary)
    flags = ", ".join(rule.id for rule, _ in conclusion.red_flags) or "none"
    basis = "" if known is None else f"on {known} finding{'' if known == 1 else 's'}: "
    return f"→ {basis}{ranking} | {statuses} | red flags: {flags}"


def save_draft(draft: Draft, path: Path) -> None:
    """Atomically: a reader (or a crash) sees the previous draft or the new one, never half of one."""
    write_text_atomically(
        path,
        "# ddx interview draft: continue with `ddx new --resume "
        + path.name
        + "`\n"
        + json.dumps(draft.model_dump(), indent=2)
        + "\n",
    )


def load_draft(path: Path, pack: RulePack, overrides: dict[str, str] | None = None) -> Draft:
    """A draft, validated as the case it will become; ``overrides`` (``--id``, ``--title``) replace its own."""
    from ddx.case import case_model, validation_error_to_input_error
    from ddx.errors import DdxInputError
    from ddx.yamlsource import load_document

    document = load_document(path)
    if not isinstance(document.data, dict) or document.data.get("format") != DRAFT_FORMAT:
        raise DdxInputError(f"not a ddx interview draft (expected format: {DRAFT_FORMAT})", source=path, line=1)
    try:
        draft = Draft.model_validate({**document.data, **(overrides or {})})
        # Checked as the case it will become, so an error names findings.<name> and its line.
        case_model(pack).model_validate({"id": "draft", "title": "draft", "findings": draft.findings})
    except ValidationError as error:
        raise validation_error_to_input_error(error, document, model_name="draft", specs=pack.specs) from None
    return draft


def write_text_atomically(path: Path, text: str, *, make_parents: bool = True) -> None:
    """Write a temporary file beside ``path`` and rename it over ``path``: the old file or the new, never half.

    A new file is private (0600: cases hold patient data); a replaced file keeps its permissions.
    """
    import os
    import tempfile

    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        if path.exists():
            os.chmod(handle.name, path.stat().st_mode & 0o7777)  # a replaced file keeps its permissions
        else:
            # A temporary file is created 0600; a new file gets the mode any new file of the user gets.
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(handle.fileno(), 0o666 & ~umask)
        os.fsync(handle.fileno())
    os.replace(handle.name, path)


def case_yaml(case: Case) -> str:
    """A case file as a person would write it: id, title, findings in vocabulary order."""
    import io

    from ruamel.yaml import YAML

    data: dict[str, Any] = {"id": case.id, "title": case.title}
    if case.description:
        data["description"] = case.description
    data["findings"] = {name: _plain(value) for name, value in case.findings.known().items()}
    yaml = YAML()
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def run_interview(
    interview: Interview,
    read_line: Callable[[str], str],
    write: Callable[[str], None],
    on_change: Callable[[], None],
) -> None:
    """Ask until the answer has converged (adaptive), every finding was asked (fixed), or the user says done.

    ``read_line`` raises EOFError at the end of input, which ends the interview like ``done``;
    ``on_change`` runs after every change of the answers (the CLI saves the draft there).
    """
    labels = {d: info.label for d, info in interview.evaluator.pack.diagnoses.items()}

    def running() -> str:
        return summary_line(interview.evaluator.conclude(interview.findings), labels, len(interview.findings))

    write(WELCOME)
    if interview.draft.asked:  # resumed: what was said before, and where it stands
        write(f"Resuming with {len(interview.draft.asked)} answers so far:\n  {interview.answered_text()}")
        write(running())
    while True:
        question = interview.next_question()
        if question is None:
            left = interview.remaining_unknowns()
            if left:
                write(
                    f"No remaining question could change the ranking, red flags or advice ({left} not asked; "
                    "use --all to be asked every finding)."
                )
            break
        try:
            text = read_line(question.prompt)
        except EOFError:
            write("End of input: finishing with the answers so far.")
            break
        reply = interview.reply(question, text)
        if reply.kind == "invalid":
            write(f"  {reply.message}. {COMMANDS}")
            continue
        if reply.kind == "show":
            write("  " + interview.answered_text())
            pending = [n for n in interview.specs if n not in interview.draft.asked and interview.applies(n)]
            if pending:
                write(f"  not asked yet: {', '.join(pending)}")
            continue
        if reply.kind == "help":
            write(help_text(interview.specs[question.finding]))
            continue
        if reply.kind == "done":
            break
        if reply.kind == "back" or reply.message:
            write(f"  {reply.message}")
        on_change()
        write(running())
