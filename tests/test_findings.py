"""The finding vocabulary: absent means unknown, values are checked, the spec is read off the model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ddx.findings import suggest
from tests.conftest import FINDING_SPECS, Findings


def test_absent_findings_are_unknown_not_false() -> None:
    findings = Findings.model_validate({"tendon_attachment": False})
    assert findings.known() == {"tendon_attachment": False}
    assert "soft_tissue_mass" in findings.unknown_names()


def test_the_findings_model_has_one_field_per_finding_of_the_vocabulary_file() -> None:
    from ruamel.yaml import YAML

    from tests.conftest import RULES_DIR

    written = [entry["id"] for entry in YAML(typ="safe").load(RULES_DIR / "findings.yaml")["findings"]]
    assert list(FINDING_SPECS) == written
    assert list(Findings.model_fields) == written


def test_a_quoted_number_is_not_a_number() -> None:
    with pytest.raises(ValidationError):
        Findings.model_validate({"ischiofemoral_space_mm": "7"})


def test_enum_findings_list_their_allowed_values() -> None:
    assert FINDING_SPECS["quadratus_femoris"].choices == ("normal", "edema", "atrophy", "edema_and_atrophy")


def test_numeric_findings_carry_their_range() -> None:
    age = FINDING_SPECS["age_years"]
    assert (age.kind, age.minimum, age.maximum) == ("int", 0, 120)
    assert FINDING_SPECS["lesion_size_cm"].exclusive_minimum


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("age_years", 121),
        ("age_years", 14.5),
        ("age_years", "14"),
        ("ischiofemoral_space_mm", -1),
        ("lesion_size_cm", 0),
        ("ischiofemoral_space_mm", float("nan")),
        ("ischiofemoral_space_mm", float("inf")),
        ("tendon_attachment", "yes"),
        ("tendon_attachment", 1),
        ("site", "thigh"),
    ],
)
def test_out_of_range_or_wrongly_typed_values_are_rejected(name: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Findings.model_validate({name: value})
    assert not FINDING_SPECS[name].accepts(value)


def test_unknown_finding_names_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Findings.model_validate({"tendon_attachement": True})


def test_suggest_names_the_closest_finding() -> None:
    assert "tendon_attachment" in suggest("tendon_attachement", FINDING_SPECS)
    assert "ischial_tuberosity" in suggest("ischial", FINDING_SPECS["site"].choices)
    assert suggest("zzzz", FINDING_SPECS) == ""
