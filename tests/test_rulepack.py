"""Loading rules: the shipped pack is valid; malformed rules fail with file, line and rule id."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ddx.errors import DdxInputError
from ddx.rulepack import DiagnosisEffect, RulePack, load_rule_pack
from tests.conftest import RULES_DIR


def test_shipped_pack_loads_with_rules_for_every_diagnosis(pack: RulePack) -> None:
    diagnoses = {e.diagnosis for r in pack.rules for e in r.effects_of(DiagnosisEffect)}
    assert diagnoses == {"avulsion", "myositis_ossificans", "sarcoma", "metastasis"}


def test_every_rule_cites_a_known_source_and_has_examples(pack: RulePack) -> None:
    for rule in pack.rules:
        assert rule.citations
        assert all(key in pack.sources for key in rule.citations)
        assert rule.examples.fires
        assert rule.examples.does_not_fire


def test_strengths_map_to_likelihood_ratios_in_one_place(pack: RulePack) -> None:
    scale = pack.info.strength_scale
    assert scale.likelihood_ratio("strong", "for") == scale.strong
    assert scale.likelihood_ratio("strong", "against") == pytest.approx(1 / scale.strong)


def test_every_prior_context_is_a_distribution_over_the_packs_diagnoses(pack: RulePack) -> None:
    for context in pack.info.prior_contexts:
        assert sum(context.probabilities.values()) == pytest.approx(1, abs=1e-3)
        assert set(context.probabilities) <= set(pack.diagnosis_ids)
    assert pack.info.prior_contexts[-1].when is None  # the default comes last


def test_digest_changes_when_a_rule_file_changes(tmp_path: Path, pack: RulePack) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(RULES_DIR, copy)
    (copy / "sarcoma.yaml").write_text((copy / "sarcoma.yaml").read_text() + "\n# edited\n")
    assert load_rule_pack(copy).digest != pack.digest


def test_a_prior_context_without_when_before_the_default_is_an_error_with_its_line(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(RULES_DIR, copy)
    pack_file = copy / "pack.yaml"
    text = pack_file.read_text(encoding="utf-8")
    pack_file.write_text(text.replace("    when: {history_of_malignancy: true}\n", "", 1), encoding="utf-8")
    with pytest.raises(DdxInputError, match=r"pack\.yaml:69: priors\.0: needs 'when' \(only the last prior context"):
        load_rule_pack(copy)


@pytest.fixture
def rules_with(tmp_path: Path) -> Callable[[str], Path]:
    """A copy of the shipped rules folder plus one extra rules file."""

    def make(extra: str) -> Path:
        folder = tmp_path / "rules"
        shutil.copytree(RULES_DIR, folder)
        (folder / "zz_extra.yaml").write_text(extra, encoding="utf-8")
        return folder

    return make


GOOD_RULE = """rules:
  - id: TEST-RULE
    title: t
    rationale: r
    citations: [eurorad-14910]
    when:
      {when}
    effects: [{effect}]
    examples:
      fires: [{{tendon_attachment: true}}]
      does_not_fire: [{{}}]
"""


def load_error(folder: Path) -> DdxInputError:
    with pytest.raises(DdxInputError) as caught:
        load_rule_pack(folder)
    return caught.value


def rule_text(
    when: str = "tendon_attachment: true",
    effect: str = "{diagnosis: avulsion, direction: for, strength: weak}",
) -> str:
    return GOOD_RULE.format(when=when, effect=effect)


def test_a_well_formed_extra_rule_loads(rules_with: Callable[[str], Path]) -> None:
    assert "TEST-RULE" in load_rule_pack(rules_with(rule_text())).by_id


def test_unknown_finding_in_a_condition_names_file_line_and_rule(rules_with: Callable[[str], Path]) -> None:
    error = load_error(rules_with(rule_text(when="tendon_attached: true")))
    assert error.rule_id == "TEST-RULE"
    assert error.source is not None
    assert error.source.endswith("zz_extra.yaml")
    assert error.line == 7
    assert "did you mean 'tendon_attachment'" in str(error)


def test_unknown_operator_is_rejected(rules_with: Callable[[str], Path]) -> None:
    error = load_error(rules_with(rule_text(when='age_years: {"=<": 3}')))
    assert "unknown operator '=<'" in str(error)


def test_ordering_a_boolean_finding_is_rejected(rules_with: Callable[[str], Path]) -> None:
    assert "needs a numeric finding" in str(load_error(rules_with(rule_text(when='tendon_attachment: {">": 1}'))))


def test_value_outside_a_findings_choices_is_rejected(rules_with: Callable[[str], Path]) -> None:
    assert "not a value of 'site'" in str(load_error(rules_with(rule_text(when="site: femur"))))


def test_likelihood_ratio_must_be_positive(rules_with: Callable[[str], Path]) -> None:
    error = load_error(rules_with(rule_text(effect="{diagnosis: avulsion, direction: for, likelihood_ratio: 0}")))
    assert error.field == "effects.0.likelihood_ratio"


def test_likelihood_ratio_must_agree_with_its_direction(rules_with: Callable[[str], Path]) -> None:
    error = load_error(rules_with(rule_text(effect="{diagnosis: avulsion, direction: against, likelihood_ratio: 3}")))
    assert "does not match direction" in str(error)


def test_effect_without_a_kind_is_rejected(rules_with: Callable[[str], Path]) -> None:
    assert "an effect needs one of" in str(load_error(rules_with(rule_text(effect="{direction: for}"))))


def test_duplicate_rule_ids_are_rejected(rules_with: Callable[[str], Path]) -> None:
    text = rule_text().replace("TEST-RULE", "AVU-TENDON-INSERTS-ON-LESION")
    error = load_error(rules_with(text))
    assert "duplicate rule id" in str(error)
    assert "avulsion.yaml" in str(error)


def test_unknown_citation_is_rejected(rules_with: Callable[[str], Path]) -> None:
    assert "unknown source" in str(load_error(rules_with(rule_text().replace("eurorad-14910", "nobody-2020"))))


def test_evidence_rules_may_not_read_derived_facts(rules_with: Callable[[str], Path]) -> None:
    assert "only for recommendation rules" in str(load_error(rules_with(rule_text(when="top_diagnosis: sarcoma"))))


def test_example_with_an_unknown_finding_is_rejected(rules_with: Callable[[str], Path]) -> None:
    text = rule_text().replace("does_not_fire: [{}]", "does_not_fire: [{tendon: true}]")
    error = load_error(rules_with(text))
    assert error.field == "examples.does_not_fire[0].tendon"


def test_rules_are_never_executed(rules_with: Callable[[str], Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = rule_text(when=f"!!python/object/apply:os.system ['touch {marker}']")
    with pytest.raises(DdxInputError):
        load_rule_pack(rules_with(text))
    assert not marker.exists()


def test_a_rule_may_not_mix_recommendations_with_evidence(rules_with: Callable[[str], Path]) -> None:
    text = rule_text().replace(
        "effects: [{diagnosis: avulsion, direction: for, strength: weak}]",
        "effects: [{diagnosis: avulsion, direction: for, strength: weak}, {recommendation: x, category: imaging}]",
    )
    assert "cannot share a rule" in str(load_error(rules_with(text)))


def test_a_rule_may_not_have_two_effects_on_one_diagnosis(rules_with: Callable[[str], Path]) -> None:
    text = rule_text().replace(
        "effects: [{diagnosis: avulsion, direction: for, strength: weak}]",
        "effects: [{diagnosis: avulsion, direction: for, strength: weak},"
        " {diagnosis: avulsion, direction: for, strength: strong}]",
    )
    assert "same target" in str(load_error(rules_with(text)))
