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


# ---- the vocabulary (findings.yaml), on a copy of the small test pack ------------------------------------

KNEE_RULES = Path(__file__).resolve().parent / "packs" / "knee" / "rules"


@pytest.fixture
def knee_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "knee"
    shutil.copytree(KNEE_RULES, folder)
    return folder


def edit_vocabulary(folder: Path, old: str, new: str) -> None:
    path = folder / "findings.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(folder: Path, text: str) -> int:
    lines = (folder / "findings.yaml").read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def test_the_test_pack_vocabulary_is_clean(knee_copy: Path) -> None:
    assert messages(knee_copy) == []


def test_a_synonym_on_two_values_is_reported_at_its_line(knee_copy: Path) -> None:
    edit_vocabulary(knee_copy, "synonyms: [pus, frank pus]", "synonyms: [pus, frank pus, turbid]")
    found = messages(knee_copy)
    line = line_of(knee_copy, "frank pus, turbid")
    assert f"findings.yaml:{line}: findings.aspirate.purulent.synonyms[2]: 'turbid' also names 'cloudy'" in "\n".join(
        found
    )


def test_a_synonym_equal_to_another_values_label_or_id_is_reported(knee_copy: Path) -> None:
    edit_vocabulary(knee_copy, "synonyms: [blood, haemorrhagic]", "synonyms: [blood, Clear]")
    assert any("findings.aspirate.bloody.synonyms[1]: 'Clear' also names 'clear'" in m for m in messages(knee_copy))


def test_a_label_that_names_another_finding_is_reported(knee_copy: Path) -> None:
    edit_vocabulary(knee_copy, "label: Popliteal swelling", "label: fever")
    assert any(
        "findings.popliteal_swelling.label: 'fever' also names the finding 'fever'" in m for m in messages(knee_copy)
    )


def test_a_finding_no_rule_reads_must_say_why(knee_copy: Path) -> None:
    edit_vocabulary(knee_copy, "    not_read_because: recorded for the report only.\n", "")
    line = line_of(knee_copy, "- id: knee_side")
    assert f"findings.yaml:{line}: findings.knee_side: no rule reads it" in "\n".join(messages(knee_copy))


def test_a_finding_read_only_by_applies_when_counts_as_read(knee_copy: Path) -> None:
    # aspirate is read by rules too; make crystals' applies_when the only reader of anticoagulated
    edit_vocabulary(
        knee_copy, "applies_when: {aspirate: {in: [clear, cloudy, purulent]}}", "applies_when: {anticoagulated: false}"
    )
    (knee_copy / "knee.yaml").write_text(
        (knee_copy / "knee.yaml").read_text().replace("when: {anticoagulated: true}", "when: {fever: false}")
    )
    found = messages(knee_copy)
    assert not any("findings.anticoagulated: no rule reads it" in m for m in found)


def test_not_read_because_on_a_finding_that_is_read_is_reported(knee_copy: Path) -> None:
    edit_vocabulary(knee_copy, "    label: Fever\n", "    label: Fever\n    not_read_because: nobody.\n")
    assert any("findings.fever: not_read_because, but KNEE-FEVER" in m for m in messages(knee_copy))


def test_a_derived_entry_must_name_a_derived_fact(knee_copy: Path) -> None:
    edit_vocabulary(knee_copy, "{id: popliteal_cyst, meaning:", "{id: baker_cyst, meaning:")
    line = line_of(knee_copy, "id: baker_cyst")
    expected = f"findings.yaml:{line}: derived.baker_cyst: not a derived fact of this pack; expected one of"
    assert any(expected in m for m in messages(knee_copy))


def test_an_unused_section_is_reported(knee_copy: Path) -> None:
    edit_vocabulary(
        knee_copy,
        "  - {id: aspirate, label: Joint aspirate}\n",
        "  - {id: aspirate, label: Joint aspirate}\n  - {id: imaging, label: Imaging}\n",
    )
    line = line_of(knee_copy, "id: imaging")
    assert f"findings.yaml:{line}: sections.imaging: no finding is in this section" in "\n".join(messages(knee_copy))


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
