"""An interactive quiz on one case: questions in order, each answer kept at once, then the comparison.

The IO is passed in (``read_line``, ``write``) so the CLI drives it in a terminal or a pipe and tests
drive it directly; every accepted answer goes to the store in its own transaction before the next
question, so an interrupted quiz resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ddx.case import Case
from ddx.evaluate import Evaluator
from ddx.findings import display_value
from ddx.quiz.grading import grade
from ddx.quiz.items import item_question, items_for_case, neutral_label, scale_text
from ddx.quiz.model import SCT_LABELS, Answers, Grade, ScriptItem
from ddx.quiz.store import QuizStore
from ddx.rulepack import RedFlagEffect

STATUS_WORDS = {
    "present": "present",
    "yes": "present",
    "absent": "absent",
    "no": "absent",
    "indeterminate": "indeterminate",
    "unsure": "indeterminate",
    "unknown": "indeterminate",
}


class QuizAnswerError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    key: str
    prompt: str
    parse: Callable[[str], Any]


def engine_snapshot(case: Case, evaluator: Evaluator, items: list[ScriptItem]) -> dict[str, Any]:
    """The engine's answers when the attempt started, kept with it (rules change; attempts should not)."""
    conclusion = evaluator.conclude(case.findings)
    return {
        "ranking": [e.diagnosis for e in conclusion.ranking],
        "probabilities": {e.diagnosis: round(e.probability, 6) for e in conclusion.ranking},
        "secondary": {s.condition: s.status for s in conclusion.secondary},
        "red_flags": [rule.id for rule, _ in conclusion.red_flags],
        "script_concordance": {item.id: item.engine_answer for item in items},
    }


def case_diagnoses(case: Case, evaluator: Evaluator) -> tuple[str, ...]:
    """The diagnoses this case's differential ranks, in the pack's order (a context may leave one out)."""
    ranked = {entry.diagnosis for entry in evaluator.rank(case.findings.known())}
    return tuple(d for d in evaluator.pack.diagnosis_ids if d in ranked)


class QuizSession:
    def __init__(self, case: Case, evaluator: Evaluator, student: str, answers: dict[str, Any] | None = None):
        self.case = case
        self.evaluator = evaluator
        self.student = student
        self.items = items_for_case(case, evaluator.pack)
        self.answers: dict[str, Any] = answers if answers is not None else {}
        self.labels = {d: info.label for d, info in evaluator.pack.diagnoses.items()}
        self.diagnoses = case_diagnoses(case, evaluator)
        self.findings = list(case.findings.known())
        self.red_flag_rules = [rule for rule in evaluator.pack.rules if rule.effects_of(RedFlagEffect)]

    # ---- what is shown ---------------------------------------------------------------------------------

    def vignette(self) -> str:
        lines = [f"{neutral_label(self.case.id).capitalize()}: {self.case.title}"]
        if self.case.description:
            lines.append(" ".join(self.case.description.split()))
        lines.append("Findings:")
        lines += [
            f"  {i}. {name} = {display_value(value)}"
            for i, (name, value) in enumerate(self.case.findings.known().items(), start=1)
        ]
        return "\n".join(lines)

    # ---- the questions -----------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        diagnoses = self.diagnoses
        choices = " · ".join(f"{i} {self.labels[d]}" for i, d in enumerate(diagnoses, start=1))
        example = " ".join(str(i) for i in (1, *range(len(diagnoses), 1, -1)))
        steps = [Step("ranking", f"Rank the diagnoses, most likely first ({choices}; e.g. {example}): ", self._ranking)]
        steps += [
            Step(condition.answer_key, f"{condition.label}: present, absent or indeterminate? ", self._status)
            for condition in self.evaluator.pack.info.conditions
        ]
        ranking = self.answers.get("ranking")
        if ranking:
            steps.append(
                Step(
                    "supports_first",
                    f"Findings that support {self.labels[ranking[0]]} (numbers or names, comma-separated; none): ",
                    self._findings,
                )
            )
            steps += [
                Step(
                    f"against:{d}",
                    f"Findings that argue against {self.labels[d]} (numbers or names; none): ",
                    self._findings,
                )
                for d in ranking[1:]
            ]
        flags = " · ".join(f"{i} {rule.title}" for i, rule in enumerate(self.red_flag_rules, start=1))
        steps.append(Step("red_flags", f"Which red flags apply? ({flags}; numbers, or none): ", self._red_flags))
        steps += [
            Step(f"sct:{item.id}", f"{item_question(item, self.evaluator.pack)}: ({scale_text()}) ", self._scale)
            for item in self.items
        ]
        return steps

    def pending(self) -> list[Step]:
        return [step for step in self.steps() if not self._answered(step.key)]

    def _answered(self, key: str) -> bool:
        if key.startswith("against:"):
            return key.split(":", 1)[1] in self.answers.get("against", {})
        if key.startswith("sct:"):
            return key.split(":", 1)[1] in self.answers.get("script_concordance", {})
        return key in self.answers

    def accept(self, step: Step, value: Any) -> None:
        if step.key.startswith("against:"):
            self.answers.setdefault("against", {})[step.key.split(":", 1)[1]] = value
        elif step.key.startswith("sct:"):
            self.answers.setdefault("script_concordance", {})[step.key.split(":", 1)[1]] = value
        else:
            self.answers[step.key] = value

    def go_back(self) -> str | None:
        """Forget the last answer given (the questions are asked in order); its key, or None at the start."""
        answered = [step for step in self.steps() if self._answered(step.key)]
        if not answered:
            return None
        key = answered[-1].key
        if key.startswith(("against:", "sct:")):
            group, name = key.split(":", 1)
            del self.answers["against" if group == "against" else "script_concordance"][name]
        else:
            del self.answers[key]
        return key

    def result(self) -> Answers:
        return Answers.model_validate(
            {"student": self.student, "case": self.case.id, **self.answers},
            context={"pack": self.evaluator.pack, "diagnoses": self.diagnoses},
        )

    # ---- answer parsers ----------------------------------------------------------------------------------

    def _ranking(self, text: str) -> list[str]:
        diagnoses = self.diagnoses
        parts = [p for p in text.replace(",", " ").split() if p]
        chosen: list[str] = []
        for part in parts:
            if part.isdigit() and 1 <= int(part) <= len(diagnoses):
                chosen.append(diagnoses[int(part) - 1])
                continue
            matches = [
                d for d in diagnoses if d.startswith(part.lower()) or self.labels[d].lower().startswith(part.lower())
            ]
            if len(matches) != 1:
                raise QuizAnswerError(f"{part!r} is not one of 1–{len(diagnoses)} or a diagnosis name")
            chosen.append(matches[0])
        if len(chosen) == len(diagnoses) - 1:
            chosen += [d for d in diagnoses if d not in chosen]
        if sorted(chosen) != sorted(diagnoses):
            raise QuizAnswerError(f"rank each of the {len(diagnoses)} diagnoses once, e.g. 1 3 2")
        return chosen

    def _status(self, text: str) -> str:
        word = text.strip().lower()
        matches = {v for k, v in STATUS_WORDS.items() if k.startswith(word)} if word else set()
        if len(matches) != 1:
            raise QuizAnswerError("answer present, absent or indeterminate")
        return matches.pop()

    def _pick(self, text: str, options: list[str], what: str) -> list[str]:
        if text.strip().lower() in ("", "none", "-", "0"):
            return []
        picked: list[str] = []
        for part in (p.strip() for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()):
            if part.isdigit() and 1 <= int(part) <= len(options):
                name = options[int(part) - 1]
            elif part in options:
                name = part
            elif len([o for o in options if o.startswith(part)]) == 1:  # a unique beginning, as in `ddx new`
                name = next(o for o in options if o.startswith(part))
            else:
                from ddx.findings import suggest

                raise QuizAnswerError(f"{part!r} is not one of the {what}{suggest(part, options)}")
            if name not in picked:
                picked.append(name)
        return picked

    def _findings(self, text: str) -> list[str]:
        return self._pick(text, self.findings, "case's findings (numbers 1–" + str(len(self.findings)) + ")")

    def _red_flags(self, text: str) -> list[str]:
        return self._pick(text, [rule.id for rule in self.red_flag_rules], "red flags listed")

    def _scale(self, text: str) -> int:
        """−2 … +2 as printed (U+2212 minus too), as typed (-2), or a label as printed ("much more likely")."""
        typed = " ".join(text.strip().lower().replace("\u2212", "-").replace("\u2013", "-").split())
        by_label = {label: value for value, label in SCT_LABELS.items()}
        number, _, label = typed.partition(" ")
        if typed in by_label:
            return by_label[typed]
        try:
            value = int(number.replace("+", ""))
        except ValueError:
            raise QuizAnswerError("answer −2, −1, 0, +1 or +2 (or its words, e.g. much more likely)") from None
        if value not in SCT_LABELS or (label and by_label.get(label) != value):
            raise QuizAnswerError("answer −2, −1, 0, +1 or +2 (or its words, e.g. much more likely)")
        return value


def run_quiz(
    session: QuizSession,
    store: QuizStore,
    attempt_id: int,
    read_line: Callable[[str], str],
    write: Callable[[str], None],
) -> Grade | None:
    """Ask every pending question, storing each answer at once; grade and store the result at the end.

    Returns None when the student typed ``quit`` or input ended (the attempt stays open for --resume).
    """
    write(session.vignette())
    write("Type back to change your last answer, quit to stop (your answers are kept; `ddx quiz --resume` continues).")
    while pending := session.pending():
        step = pending[0]
        try:
            text = read_line(step.prompt)
        except EOFError:
            return None
        if text.strip().lower() == "quit":
            return None
        if text.strip().lower() == "back":
            key = session.go_back()
            write("  Nothing to go back to." if key is None else "  Back one question.")
            if key is not None:
                store.record_answer(attempt_id, f"back:{key}", None, session.answers)
            continue
        try:
            value = step.parse(text)
        except QuizAnswerError as error:
            write(f"  {error}")
            continue
        session.accept(step, value)
        store.record_answer(attempt_id, step.key, value, session.answers)
    result = grade(session.result(), session.case, session.evaluator)
    store.finish(attempt_id, result)
    return result
