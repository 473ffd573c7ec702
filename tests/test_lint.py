"""`ddx rules lint`: the shipped pack is clean; each kind of problem is found with its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ddx.conditions import AllOf, AnyOf, Comparison, Not
from ddx.lint import canonical, lint_rules
from tests.conftest import RULES_DIR


def test_the_shipped_pack_has_no_problems() -> None:
    pack, problems = lint_rules(RULES_DIR)
    assert pack is not None
    assert [str(p) for p in problems] == []


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    return folder


def add_rules(folder: Path, text: str) -> None:
    (folder / "zz_extra.yaml").write_text("rules:\n" + text, encoding="utf-8")


RULE = """  - id: {id}
    title: t
    rationale: r
    citations: [eurorad-14910]
    when: {when}
    effects: [{{diagnosis: sarcoma, direction: for, strength: weak}}]
    examples:
      fires: [{fires}]
      does_not_fire: [{{}}]
"""


def messages(folder: Path) -> list[str]:
    return [str(p) for p in lint_rules(folder)[1]]


def test_a_rule_that_can_never_fire_is_reported(rules_copy: Path) -> None:
    when = '{all: [{age_years: {">": 50}}, {age_years: {"<": 40}}]}'
    add_rules(rules_copy, RULE.format(id="TEST-NEVER", when=when, fires="{age_years: 60}"))
    found = messages(rules_copy)
    assert any("zz_extra.yaml:2: rule TEST-NEVER: can never fire" in m for m in found)


def test_two_rules_with_the_same_condition_are_reported(rules_copy: Path) -> None:
    add_rules(
        rules_copy,
        RULE.format(id="TEST-TWIN", when="{growth_on_followup: true}", fires="{growth_on_followup: true}"),
    )
    assert any("TEST-TWIN: same condition as SAR-GROWTH-ON-FOLLOW-UP" in m for m in messages(rules_copy))


def test_an_example_that_does_not_do_what_it_says_is_reported(rules_copy: Path) -> None:
    add_rules(
        rules_copy,
        RULE.format(id="TEST-EXAMPLE", when="{lesion_size_cm: {'>': 12}}", fires="{lesion_size_cm: 3}"),
    )
    assert any("examples.fires[0] does not fire" in m for m in messages(rules_copy))


def test_every_load_problem_is_reported_not_only_the_first(rules_copy: Path) -> None:
    text = RULE.format(id="TEST-ONE", when="{tendon: true}", fires="{}") + RULE.format(
        id="TEST-TWO", when="{site: femur}", fires="{}"
    )
    add_rules(rules_copy, text)
    found = messages(rules_copy)
    assert any("TEST-ONE" in m and "unknown finding 'tendon'" in m for m in found)
    assert any("TEST-TWO" in m and "not a value of 'site'" in m for m in found)


def test_an_unused_source_is_reported(rules_copy: Path) -> None:
    sources = rules_copy / "sources.yaml"
    sources.write_text(sources.read_text() + '  unused-2020:\n    citation: "Nobody 2020."\n')
    assert any("source 'unused-2020' is never cited" in m for m in messages(rules_copy))


def test_conditions_equal_up_to_order_have_one_canonical_form() -> None:
    a = Comparison("site", "==", "buttock")
    b = Comparison("age_years", ">", 50)
    assert canonical(AllOf((a, b))) == canonical(AllOf((b, AllOf((a,)))))
    assert canonical(Comparison("site", "in", ("buttock",))) == canonical(a)
    assert canonical(AnyOf((a, b))) != canonical(AllOf((a, b)))
    assert canonical(Not(a)) != canonical(a)


def test_a_lexicon_phrase_for_an_unknown_finding_is_reported_with_its_line(rules_copy: Path) -> None:
    lexicon = rules_copy / "lexicon.yaml"
    text = lexicon.read_text(encoding="utf-8").replace(
        "  - finding: trauma_history\n", "  - finding: trauma_histry\n", 1
    )
    lexicon.write_text(text, encoding="utf-8")
    found = messages(rules_copy)
    assert len(found) == 1
    assert "lexicon.yaml:" in found[0]
    assert "unknown finding 'trauma_histry' (did you mean 'trauma_history'?)" in found[0]


def test_a_lexicon_example_that_does_not_hold_is_reported(rules_copy: Path) -> None:
    pytest.importorskip("medspacy")
    lexicon = rules_copy / "lexicon.yaml"
    text = lexicon.read_text(encoding="utf-8").replace(
        "findings: {age_years: 55, sex: male}", "findings: {age_years: 56}"
    )
    lexicon.write_text(text, encoding="utf-8")
    found = messages(rules_copy)
    assert len(found) == 1
    assert "lexicon.yaml:" in found[0]
    assert "'A 55-year-old man.': expected {'age_years': 56}" in found[0]
