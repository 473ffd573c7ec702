"""`ddx extract`: what a report states becomes a finding, traced to its sentence; nothing else does.

Behaviour only (negation, history, hypotheses, sections, conflicts, numbers, provenance, bad input, the
commands that use it); the figures (precision, recall, speed) are benchmarks/extract_bench.py's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from ddx.case import load_case
from ddx.cli import main
from tests.conftest import REFERENCE_CASE, REPO, SHIPPED_PACK, assert_one_line_error

pytest.importorskip("medspacy")

from ddx.extract import Extraction, extractor_for

CORPUS = REPO / "tests" / "extract_corpus"
REFERENCE_TEXT = CORPUS / "reference-eurorad-14910.txt"
Run = Callable[..., tuple[int, str, str]]


def extract(text: str, today: date | None = None) -> Extraction:
    return extractor_for(SHIPPED_PACK).extract(text, today=today)


def mentions_of(extraction: Extraction, finding: str) -> list[Any]:
    return [m for m in extraction.mentions if m.finding == finding]


@pytest.fixture
def ddx(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["ddx", *args])
        monkeypatch.delenv("DDX_DEBUG", raising=False)
        if stdin is not None:
            import io

            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        with pytest.raises(SystemExit) as done:
            main()
        out, err = capsys.readouterr()
        return int(done.value.code or 0), out, err

    return run


# ---- the reference case ------------------------------------------------------------------------------


def test_the_reference_text_yields_the_findings_the_issue_lists() -> None:
    found = extract(REFERENCE_TEXT.read_text(encoding="utf-8")).findings
    assert (
        found
        | {
            "age_years": 55,
            "sex": "male",
            "trauma_history": "none",
            "site": "ischial_tuberosity",
            "tendon_attachment": True,
            "mineralization_pattern": "corticomedullary",
            "lesion_maturity": "mature",
            "mr_signal_like_bone": True,
            "soft_tissue_mass": False,
            "infiltrative_margins": False,
            "bone_destruction": False,
            "ischiofemoral_space_mm": 7,
            "quadratus_femoris": "edema_and_atrophy",
            "history_of_malignancy": True,
            "radiating_pain": True,
            "degenerative_changes": True,
        }
        == found
    )


def test_what_the_reference_discussion_only_mentions_is_set_aside() -> None:
    extraction = extract(REFERENCE_TEXT.read_text(encoding="utf-8"))
    assert "growth_on_followup" not in extraction.findings
    assert "forceful_hamstring_contraction" not in extraction.findings
    set_aside = [m for m in mentions_of(extraction, "soft_tissue_mass") if not m.counted]
    assert any(m.read == "hypothetical" and "possibility arises" in m.sentence for m in set_aside)


def test_the_reference_case_read_from_its_text_ranks_as_published(ddx: Run) -> None:
    code, out, _ = ddx("assess", "--report", str(REFERENCE_TEXT), "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["ranking"][0]["diagnosis"] == "avulsion"
    assert report["secondary"][0]["status"] == "present"
    where = report["extracted_from"]["ischiofemoral_space_mm"]
    assert where["value"] == 7
    assert "ischiofemoral space" in where["sentence"]


# ---- how a mention is read ---------------------------------------------------------------------------


def test_a_negated_finding_is_read_as_absent() -> None:
    extraction = extract("MRI: there is no soft tissue mass and no bone destruction.")
    assert extraction.findings == {"soft_tissue_mass": False, "bone_destruction": False}
    assert {m.read for m in extraction.mentions} == {"negated"}


def test_a_historical_finding_counts_and_says_so() -> None:
    extraction = extract("Past medical history of renal cell carcinoma.")
    assert extraction.findings == {"history_of_malignancy": True}
    assert mentions_of(extraction, "history_of_malignancy")[0].read == "historical"


@pytest.mark.parametrize(
    "text",
    [
        "If there were a soft tissue mass, a sarcoma would be likely.",
        "This possibility arises when there is a soft tissue mass.",
        "Possible soft tissue mass.",
        "A soft tissue mass cannot be excluded.",
    ],
)
def test_hypothetical_and_uncertain_mentions_never_become_findings(text: str) -> None:
    extraction = extract(text)
    assert extraction.findings == {}
    assert mentions_of(extraction, "soft_tissue_mass")[0].read in ("hypothetical", "uncertain")


def test_a_family_history_is_not_the_patients() -> None:
    assert extract("Her mother had breast cancer.").findings == {}


def test_a_discussion_section_never_yields_findings() -> None:
    text = "Findings:\nA 3 cm ossicle at the ischial tuberosity.\n\nDiscussion:\nSarcoma shows periosteal reaction.\n"
    extraction = extract(text)
    assert extraction.findings == {"site": "ischial_tuberosity", "lesion_size_cm": 3}
    (reaction,) = mentions_of(extraction, "periosteal_reaction")
    assert not reaction.counted
    assert reaction.section == "discussion"


def test_a_differential_counts_only_what_it_says_of_this_patient() -> None:
    text = (
        "Differential diagnosis:\nSarcoma usually shows bone destruction.\n"
        "In this case, the lesion has smooth borders and no bone destruction.\n"
    )
    assert extract(text).findings == {"infiltrative_margins": False, "bone_destruction": False}


def test_conflicting_mentions_leave_the_finding_unknown_and_name_both_sentences() -> None:
    extraction = extract("There is a soft tissue mass. On review, there is no soft tissue mass.")
    assert "soft_tissue_mass" not in extraction.findings
    conflict = extraction.conflicts["soft_tissue_mass"]
    assert "There is a soft tissue mass." in conflict
    assert "On review, there is no soft tissue mass." in conflict
    assert extraction.provenance()["soft_tissue_mass"]["conflict"] == conflict


def test_a_line_wrapped_in_mid_sentence_does_not_end_it() -> None:
    text = (
        "MRI shows bone-like signal, the hamstring tendons inserting on the ossicle, no soft-tissue mass and no\n"
        "bone destruction. Radiographs of the pelvis, taken immediately after the\ninjury, show a fragment.\n"
    )
    extraction = extract(text)
    assert extraction.findings["bone_destruction"] is False
    assert extraction.findings["trauma_history"] == "recent"
    (destruction,) = mentions_of(extraction, "bone_destruction")
    assert text[destruction.start : destruction.end] == destruction.text == "bone destruction"
    assert destruction.sentence.startswith("MRI shows")


def test_headings_and_list_items_start_sentences() -> None:
    text = "Findings:\n1. No soft tissue mass\n2. A 7 mm ossicle\n"
    extraction = extract(text)
    assert extraction.findings == {"soft_tissue_mass": False, "lesion_size_cm": 0.7}
    assert {m.sentence for m in extraction.mentions} == {"1. No soft tissue mass", "2. A 7 mm ossicle"}


def test_nothing_is_guessed() -> None:
    assert extract("The patient was seen in clinic today.").findings == {}


# ---- numbers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A 55-year-old man.", {"age_years": 55, "sex": "male"}),
        ("The ischiofemoral space is narrowed (7mm).", {"ischiofemoral_space_mm": 7}),
        ("The ischiofemoral space measures 7 mm.", {"ischiofemoral_space_mm": 7}),
        ("A lesion measuring 2.5 x 3 cm.", {"lesion_size_cm": 3}),
        ("A 7 mm ossicle.", {"lesion_size_cm": 0.7}),
        ("MRI five weeks after a fall.", {"lesion_age_weeks": 5, "trauma_history": "recent"}),
        ("CT two years after the injury.", {"lesion_age_weeks": 104.36, "trauma_history": "remote"}),
        ("A fragment displaced 12 mm.", {"fragment_displacement_cm": 1.2}),
    ],
)
def test_numbers_as_clinicians_write_them(text: str, expected: dict[str, Any]) -> None:
    assert extract(text).findings == expected


def test_since_a_year_counts_the_weeks_to_the_day_of_reading() -> None:
    found = extract("A lump known since 2019.", today=date(2021, 7, 1)).findings
    assert found == {"palpable_mass": True, "lesion_age_weeks": 104}


def test_a_number_outside_the_findings_range_is_not_read() -> None:
    assert "age_years" not in extract("A 250-year-old tortoise.").findings


# ---- provenance --------------------------------------------------------------------------------------


def test_every_mention_points_at_its_words_and_its_sentence() -> None:
    text = REFERENCE_TEXT.read_text(encoding="utf-8")
    extraction = extract(text)
    assert extraction.mentions
    for mention in extraction.mentions:
        assert text[mention.start : mention.end] == mention.text
        assert " ".join(mention.text.split()) in mention.sentence


def test_the_case_file_holds_the_provenance_and_loads_back(ddx: Run, tmp_path: Path) -> None:
    out = tmp_path / "ref.yaml"
    code, _, err = ddx("extract", str(REFERENCE_TEXT), "-o", str(out))
    assert code == 0, err
    case = load_case(out, SHIPPED_PACK)
    assert case.findings.known()["age_years"] == 55
    assert case.provenance is not None
    first = case.provenance["age_years"].mentions[0]
    assert (first.text, first.read) == ("55-year-old", "affirmed")
    assert "55-year-old man" in first.sentence
    assert case.provenance["soft_tissue_mass"].set_aside  # the discussion's mention, kept for the reader
    data = YAML(typ="safe").load(out)
    assert next(iter(data)) == "id"
    assert out.read_text(encoding="utf-8").startswith("# Extracted by ddx extract")


def test_json_output_and_standard_input(ddx: Run) -> None:
    code, out, _ = ddx("extract", "-", "--format", "json", stdin=b"A 40-year-old woman. No soft tissue mass.")
    assert code == 0
    data = json.loads(out)
    assert data["findings"] == {"age_years": 40, "sex": "female", "soft_tissue_mass": False}
    assert data["provenance"]["soft_tissue_mass"]["mentions"][0]["read"] == "negated"


def test_a_hand_written_case_reports_as_before(ddx: Run) -> None:
    code, out, _ = ddx("assess", str(REFERENCE_CASE), "--format", "json")
    assert code == 0
    assert "extracted_from" not in json.loads(out)


def test_the_interview_starts_from_what_the_report_states(tmp_path: Path) -> None:
    report = tmp_path / "r.txt"
    report.write_text("A 55-year-old man. A 3 cm ossicle at the ischial tuberosity.", encoding="utf-8")
    out = tmp_path / "c.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "ddx.cli", "new", "--from-report", str(report), "--out", str(out), "--format", "json"],
        input="done\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Read from" in done.stderr
    assert "Age in years" not in done.stderr  # stated in the report: not asked
    saved = load_case(out, SHIPPED_PACK)
    assert saved.findings.known()["age_years"] == 55
    assert saved.findings.known()["site"] == "ischial_tuberosity"
    assert saved.provenance is not None
    assert saved.provenance["age_years"].mentions[0].sentence == "A 55-year-old man."


def test_assess_without_extraction_does_not_import_spacy() -> None:
    code = (
        "import sys\nfrom ddx import cli\n"
        f"cli.app(['assess', {str(REFERENCE_CASE)!r}, '--format', 'json'], standalone_mode=False)\n"
        "print('SPACY', 'spacy' in sys.modules, 'medspacy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip().endswith("SPACY False False")


# ---- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "the report is empty"),
        (b"   \n\t\n", "the report is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        ("Ein 55-jähriger Mann".encode("latin-1"), "not UTF-8"),
        (
            b"The patient was seen in clinic today.",
            "no finding could be read from the text; enter the case with: ddx new",
        ),
    ],
)
def test_bad_reports_are_refused_in_one_line(ddx: Run, tmp_path: Path, content: bytes, says: str) -> None:
    report = tmp_path / "report.txt"
    report.write_bytes(content)
    code, out, err = ddx("extract", str(report))
    assert (code, out) == (2, "")
    assert_one_line_error(err, says, starts=f"ddx: error: {report}: ")


def test_a_report_over_one_megabyte_is_refused(ddx: Run, tmp_path: Path) -> None:
    report = tmp_path / "huge.txt"
    report.write_text("No soft tissue mass. " * 60_000, encoding="utf-8")
    code, _, err = ddx("assess", "--report", str(report))
    assert code == 2
    assert_one_line_error(err, "the limit is 1000000 bytes")


def test_a_missing_report_is_refused(ddx: Run, tmp_path: Path) -> None:
    code, _, err = ddx("new", "--from-report", str(tmp_path / "nope.txt"))
    assert code == 2
    assert "file not found" in err


def test_a_case_file_and_a_report_together_are_refused(ddx: Run) -> None:
    code, _, err = ddx("assess", str(REFERENCE_CASE), "--report", str(REFERENCE_TEXT))
    assert code == 2
    assert "not both" in err


def test_the_benchmark_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "extract_bench.py"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=REPO,
    )
    figures = json.loads(done.stdout)
    assert {"precision", "recall", "one_page_ms", "load_s", "per_finding", "targets_met"} <= set(figures)
    assert figures["reports"] == len(list(CORPUS.glob("*.txt")))
    assert figures["forbidden_read"] == []  # what the reference discussion only mentions is never read


def test_every_corpus_text_has_its_expected_findings_and_they_are_valid() -> None:
    model = SHIPPED_PACK.vocabulary.findings_model
    for text_file in CORPUS.glob("*.txt"):
        expected = YAML(typ="safe").load(text_file.with_suffix(".yaml"))
        model.model_validate(expected["findings"])
