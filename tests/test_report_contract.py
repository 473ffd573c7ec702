"""The JSON contract other tools rely on: keys, types and the disclaimer that cannot be removed."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from ddx.api import assess
from ddx.case import load_case
from ddx.evaluate import Evaluator
from ddx.render import render
from ddx.report import DISCLAIMER, Report
from tests.conftest import REFERENCE_CASE


@pytest.fixture(scope="module")
def document(evaluator: Evaluator) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(assess(load_case(REFERENCE_CASE), evaluator).to_json())
    return parsed


def test_top_level_keys_follow_the_contract(document: dict[str, object]) -> None:
    assert {
        "case_id",
        "ranking",
        "secondary",
        "red_flags",
        "recommendations",
        "unknown_findings",
        "disclaimer",
    } <= set(document)


def test_ranking_entries_follow_the_contract(document: dict[str, object]) -> None:
    ranking = document["ranking"]
    assert isinstance(ranking, list)
    entry = ranking[0]
    assert {"diagnosis", "label", "rank", "probability", "log_odds", "evidence"} <= set(entry)
    evidence = entry["evidence"][0]
    assert {"rule", "direction", "likelihood_ratio", "findings", "rationale", "citation"} <= set(evidence)
    assert evidence["direction"] in ("for", "against")


def test_secondary_red_flags_recommendations_and_unknowns_follow_the_contract(
    document: dict[str, object],
) -> None:
    secondary = document["secondary"][0]  # type: ignore[index]
    assert (secondary["condition"], secondary["status"]) == ("ischiofemoral_impingement", "present")
    assert {"rule", "message", "citation"} <= set(document["red_flags"][0])  # type: ignore[index]
    assert {"rule", "text", "citation"} <= set(document["recommendations"][0])  # type: ignore[index]
    assert all({"finding", "could_change_top"} <= set(u) for u in document["unknown_findings"])  # type: ignore[attr-defined]


def test_json_is_byte_for_byte_deterministic(evaluator: Evaluator) -> None:
    case = load_case(REFERENCE_CASE)
    assert assess(case, evaluator).to_json() == assess(case, evaluator).to_json()


def test_every_format_carries_the_disclaimer(evaluator: Evaluator) -> None:
    report = assess(load_case(REFERENCE_CASE), evaluator)
    for output_format in ("text", "markdown", "json"):
        assert " ".join(DISCLAIMER.split()[:6]) in " ".join(render(report, output_format).split())


def test_the_disclaimer_cannot_be_replaced(evaluator: Evaluator) -> None:
    data = assess(load_case(REFERENCE_CASE), evaluator).model_dump()
    with pytest.raises(ValidationError):
        Report.model_validate({**data, "disclaimer": ""})


def test_report_round_trips_through_json(evaluator: Evaluator) -> None:
    report = assess(load_case(REFERENCE_CASE), evaluator)
    assert Report.model_validate_json(report.to_json()) == report
