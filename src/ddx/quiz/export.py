"""Quiz items for an LMS: Moodle XML and GIFT, from the curated cases and the engine's answers.

For each case: the most likely diagnosis, each secondary condition's status, and its script-concordance items
(answer fractions from the teachers' panel where the case has one — the aggregate method — else 100 % for
the engine's answer and 50 % for a neighbouring one). Moodle accepts only certain fractions, so credits
are rounded to the nearest of them.

Only questions with a determinate answer are exported: no question on a secondary condition whose answer would be
"indeterminate" (students would learn to click it), and no most-likely-diagnosis question whose top
diagnosis the engine rates below :data:`DETERMINATE_TOP`. Question names carry the case's neutral label,
never its id (most ids begin with the diagnosis).
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ddx.case import Case
from ddx.display import percent
from ddx.evaluate import Evaluator
from ddx.findings import display_value
from ddx.quiz.items import item_question, items_for_case, neutral_label
from ddx.quiz.model import SCT_LABELS, SCT_SCALE, ScriptItem
from ddx.rulepack import CONDITION_STATUSES

MOODLE_FRACTIONS = (
    100,
    90,
    83.33333,
    80,
    75,
    70,
    66.66667,
    60,
    50,
    40,
    33.33333,
    30,
    25,
    20,
    16.66667,
    14.28571,
    12.5,
    11.11111,
    10,
    5,
    0,
)


DETERMINATE_TOP = 0.6  # a "most likely" question needs a top diagnosis at least this probable


@dataclass(frozen=True)
class Choice:
    text: str
    fraction: float


@dataclass(frozen=True)
class Question:
    name: str
    text: str
    choices: tuple[Choice, ...]
    feedback: str


def moodle_fraction(credit: float) -> float:
    return min(MOODLE_FRACTIONS, key=lambda allowed: abs(allowed - credit * 100))


def _vignette_html(case: Case) -> str:
    findings = "".join(
        f"<li>{html.escape(name)} = {html.escape(display_value(value))}</li>"
        for name, value in case.findings.known().items()
    )
    description = f"<p>{html.escape(' '.join(case.description.split()))}</p>" if case.description else ""
    return f"<p><b>{html.escape(case.title)}</b></p>{description}<ul>{findings}</ul>"


def _sct_fractions(item: ScriptItem) -> dict[int, float]:
    return {answer: moodle_fraction(item.credit(answer)) for answer in SCT_SCALE}


def questions_for(case: Case, evaluator: Evaluator) -> list[Question]:
    pack = evaluator.pack
    conclusion = evaluator.conclude(case.findings)
    labels = {d: info.label for d, info in pack.diagnoses.items()}
    vignette = _vignette_html(case)
    top = conclusion.top.diagnosis
    label = neutral_label(case.id).capitalize()
    ranked = [d for d in pack.diagnosis_ids if d in {e.diagnosis for e in conclusion.ranking}]
    condition_labels = {c.id: c.label for c in pack.info.conditions}
    questions = []
    if conclusion.top.probability >= DETERMINATE_TOP:
        questions.append(
            Question(
                name=f"{label}: most likely diagnosis",
                text=f"{vignette}<p>Which diagnosis is most likely?</p>",
                choices=tuple(Choice(labels[d], 100.0 if d == top else 0.0) for d in ranked),
                feedback=f"ddx ranks {labels[top]} first ({percent(conclusion.top.probability, 0)}).",
            )
        )
    questions += [
        Question(
            name=f"{label}: {condition_labels[secondary.condition].lower()}",
            text=f"{vignette}<p>Is {html.escape(condition_labels[secondary.condition].lower())} present?</p>",
            choices=tuple(Choice(s, 100.0 if s == secondary.status else 0.0) for s in CONDITION_STATUSES),
            feedback=f"ddx: {secondary.status}.",
        )
        for secondary in conclusion.secondary
        if secondary.status != "indeterminate"  # a question whose answer is "we cannot tell" teaches nothing
    ]
    for item in items_for_case(case, pack):
        fractions = _sct_fractions(item)
        questions.append(
            Question(
                name=f"{label}: {item.id}",
                text=f"{vignette}<p>{html.escape(item_question(item, pack))}:</p>",
                choices=tuple(
                    Choice(f"{a:+d} {SCT_LABELS[a]}" if a else f"0 {SCT_LABELS[a]}", fractions[a]) for a in SCT_SCALE
                ),
                feedback=f"Rule {item.rule}: likelihood ratio {item.likelihood_ratio:g}.",
            )
        )
    return questions


def moodle_xml(questions: list[Question]) -> str:
    quiz = ET.Element("quiz")
    for question in questions:
        node = ET.SubElement(quiz, "question", type="multichoice")
        ET.SubElement(ET.SubElement(node, "name"), "text").text = question.name
        text = ET.SubElement(node, "questiontext", format="html")
        ET.SubElement(text, "text").text = question.text
        feedback = ET.SubElement(node, "generalfeedback", format="html")
        ET.SubElement(feedback, "text").text = html.escape(question.feedback)
        ET.SubElement(node, "defaultgrade").text = "1"
        ET.SubElement(node, "single").text = "true"
        ET.SubElement(node, "shuffleanswers").text = "false"
        ET.SubElement(node, "answernumbering").text = "none"
        for choice in question.choices:
            answer = ET.SubElement(node, "answer", fraction=f"{choice.fraction:g}", format="html")
            ET.SubElement(answer, "text").text = html.escape(choice.text)
    ET.indent(quiz)
    return ET.tostring(quiz, encoding="unicode", xml_declaration=True) + "\n"


GIFT_SPECIAL = "~=#{}:\\"


def gift_escape(text: str) -> str:
    return "".join(f"\\{ch}" if ch in GIFT_SPECIAL else ch for ch in text).replace("\n", " ")


def gift(questions: list[Question]) -> str:
    blocks = ["// ddx quiz export (GIFT). Import in Moodle: Question bank → Import → GIFT format."]
    for question in questions:
        lines = [f"::{gift_escape(question.name)}::[html]{gift_escape(question.text)} {{"]
        for choice in question.choices:
            if choice.fraction >= 100:
                lines.append(f"\t={gift_escape(choice.text)}")
            elif choice.fraction > 0:
                lines.append(f"\t~%{choice.fraction:g}%{gift_escape(choice.text)}")
            else:
                lines.append(f"\t~{gift_escape(choice.text)}")
        lines.append(f"\t####{gift_escape(question.feedback)}")
        lines.append("}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
