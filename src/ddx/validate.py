"""How right the engine is on real published cases: the figures ``ddx validate`` reports.

A validation case is an ordinary case file with a ``reference:`` block (the final diagnosis and its source).
Each case is assessed with the rule pack; the reference is never read while ranking. From the rankings come
top-1 and top-2 accuracy, mean log loss, the multi-class Brier score, per-diagnosis sensitivity, the confusion
table, a calibration table, the safety of the diagnoses the pack marks ``malignant`` (ranked first or given an
urgent red flag), and the same accuracy for the pack's ``baseline`` rule of thumb on the same cases.

Nothing is fitted to the cases today. A step that is (a shrinkage of likelihood ratios, a threshold) must be
passed as ``fit``: :func:`predict` then fits it on the other folds and predicts each case only from a
model that never saw it, so every figure is cross-validated.

Nothing here names a diagnosis: the diagnoses, which of them are malignant and the baseline come from the pack.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddx.case import Case, Reference, case_from_document
from ddx.errors import DdxInputError
from ddx.evaluate import Evaluator
from ddx.explain import build_report
from ddx.findings import suggest
from ddx.oracle import fires
from ddx.report import Report
from ddx.rulepack import RulePack
from ddx.yamlsource import load_document

# Log loss clips p(true) at 1 %: a report never claims less ("<1%"), and a diagnosis a case does not rank
# (one its prior context leaves out) would otherwise cost −ln(1e-6) ≈ 13.8 and swamp every other figure.
MIN_PROBABILITY = 0.01
CALIBRATION_BINS = 10
DEFAULT_FOLDS = 10


@dataclass(frozen=True)
class ValidationCase:
    """A loaded validation case and the file it came from."""

    path: str
    case: Case
    reference: Reference


Predict = Callable[[Case], Report]
Fit = Callable[[Sequence[ValidationCase]], Predict]
"""Fits whatever is fitted on training cases and returns the predictor for held-out cases."""


# ---- loading --------------------------------------------------------------------------------------------


def load_validation_cases(target: Path, pack: RulePack) -> list[ValidationCase]:
    """Every case under ``target`` (a folder or one file), or :class:`DdxInputError` with file and line for
    the first that is not a validation case: no reference block, a diagnosis the pack does not rank, an id
    used twice, or no case file at all."""
    from ddx.regress import case_paths

    paths = case_paths(target)
    if not paths:
        raise DdxInputError("no case files (*.yaml, *.yml, *.json) found", source=target)
    diagnoses = tuple(pack.diagnoses)
    cases: list[ValidationCase] = []
    first_path: dict[str, str] = {}
    for path in paths:
        document = load_document(path)
        case = case_from_document(document, pack)
        if case.reference is None:
            raise DdxInputError(
                "no 'reference:' block; a validation case states its final diagnosis and source "
                "(see validation/README.md)",
                source=path,
                line=document.line_of(()),
            )
        if case.reference.diagnosis not in diagnoses:
            given = case.reference.diagnosis
            raise DdxInputError(
                f"got {given!r}; the rule pack ranks {', '.join(diagnoses)}{suggest(given, diagnoses)}",
                source=path,
                line=document.line_of(("reference", "diagnosis")),
                field="reference.diagnosis",
            )
        if case.id in first_path:
            raise DdxInputError(
                f"duplicate case id '{case.id}' (first in {first_path[case.id]})",
                source=path,
                line=document.line_of(("id",)),
                field="id",
            )
        first_path[case.id] = str(path)
        cases.append(ValidationCase(str(path), case, case.reference))
    return cases


# ---- prediction, cross-validated when anything is fitted -------------------------------------------------


def kfold(n: int, k: int) -> list[tuple[list[int], list[int]]]:
    """``k`` folds over ``n`` cases as (training, held-out) index lists; every case is held out exactly once.

    Deterministic (case ``i`` is in fold ``i mod k``), so a run is reproducible; ``k >= n`` is leave-one-out.
    """
    if n < 2 or k < 2:
        raise ValueError("cross-validation needs at least two cases and two folds")
    k = min(k, n)
    folds = []
    for fold in range(k):
        held_out = [i for i in range(n) if i % k == fold]
        training = [i for i in range(n) if i % k != fold]
        folds.append((training, held_out))
    return folds


def predict(
    cases: Sequence[ValidationCase], evaluator: Evaluator, fit: Fit | None = None, folds: int = DEFAULT_FOLDS
) -> list[Report]:
    """One report per case. Without ``fit`` the pack as it is ranks every case; with ``fit``, each case is
    ranked by what was fitted on the other folds only (k-fold cross-validation)."""
    if fit is None:
        return [build_report(item.case, evaluator) for item in cases]
    reports: list[Report | None] = [None] * len(cases)
    for training, held_out in kfold(len(cases), folds):
        predictor = fit([cases[i] for i in training])
        for i in held_out:
            reports[i] = predictor(cases[i].case)
    assert all(report is not None for report in reports)
    return [report for report in reports if report is not None]


def baseline_diagnosis(pack: RulePack, findings: Mapping[str, Any]) -> str | None:
    """The pack's rule of thumb: the first step whose condition is known to hold, else the default step;
    None when the pack has no baseline."""
    for step in pack.info.baseline:
        if step.when is None or fires(step.when, findings):
            return step.diagnosis
    return None


# ---- one case's outcome ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseOutcome:
    """What the engine (and the baseline) said about one case, and the reference it is judged against."""

    path: str
    case_id: str
    reference: str
    ranking: tuple[tuple[str, float], ...]
    urgent_red_flag: bool
    baseline: str | None
    hard: str | None
    subtype: str | None
    source: str

    @property
    def probabilities(self) -> dict[str, float]:
        return dict(self.ranking)

    @property
    def probability(self) -> float:
        """The probability given to the reference diagnosis (0 if it was not ranked)."""
        return self.probabilities.get(self.reference, 0.0)

    @property
    def rank(self) -> int | None:
        order = [diagnosis for diagnosis, _ in self.ranking]
        return order.index(self.reference) + 1 if self.reference in order else None

    @property
    def top(self) -> str:
        return self.ranking[0][0]

    @property
    def top_probability(self) -> float:
        return self.ranking[0][1]

    @property
    def rankable(self) -> bool:
        """The case's prior context ranks the reference diagnosis at all (a pack's prior contexts may leave a
        diagnosis out, e.g. one that needs a stated history); otherwise no ranking could be right."""
        return self.rank is not None

    def within(self, k: int) -> bool:
        """The reference is among the first ``k`` of the ranking."""
        rank = self.rank
        return rank is not None and rank <= k


def outcome(item: ValidationCase, report: Report, pack: RulePack) -> CaseOutcome:
    reference = item.reference
    return CaseOutcome(
        path=item.path,
        case_id=item.case.id,
        reference=reference.diagnosis,
        ranking=tuple((entry.diagnosis, entry.probability) for entry in report.ranking),
        urgent_red_flag=any(flag.severity == "urgent" for flag in report.red_flags),
        baseline=baseline_diagnosis(pack, item.case.findings.known()),
        hard=reference.hard,
        subtype=reference.subtype,
        source=source_link(reference),
    )


def source_link(reference: Reference) -> str:
    """The shortest way to find the case's source: DOI, else PMID, else URL, else the citation."""
    if reference.doi:
        return f"doi:{reference.doi}"
    if reference.pmid:
        return f"PMID {reference.pmid}"
    return reference.url or reference.citation


# ---- metrics --------------------------------------------------------------------------------------------


def top_k_accuracy(outcomes: Sequence[CaseOutcome], k: int) -> float:
    return sum(o.within(k) for o in outcomes) / len(outcomes)


def mean_log_loss(outcomes: Sequence[CaseOutcome]) -> float:
    """Mean of −ln p(reference), p clipped to [0.01, 1]; uniform guessing over m diagnoses scores ln m."""
    return sum(-math.log(min(1.0, max(MIN_PROBABILITY, o.probability))) for o in outcomes) / len(outcomes)


def brier_score(outcomes: Sequence[CaseOutcome], diagnoses: Sequence[str]) -> float:
    """Multi-class Brier score: per case Σ over diagnoses of (p − y)², then the mean (0 best, 2 worst)."""
    total = 0.0
    for o in outcomes:
        p = o.probabilities
        total += sum((p.get(d, 0.0) - (1.0 if d == o.reference else 0.0)) ** 2 for d in diagnoses)
    return total / len(outcomes)


def confusion(outcomes: Sequence[CaseOutcome], diagnoses: Sequence[str]) -> dict[str, dict[str, int]]:
    """Reference (rows) × the engine's top diagnosis (columns), in the pack's order."""
    table = {reference: dict.fromkeys(diagnoses, 0) for reference in diagnoses}
    for o in outcomes:
        table[o.reference][o.top] = table[o.reference].get(o.top, 0) + 1
    return table


def per_diagnosis(outcomes: Sequence[CaseOutcome], diagnoses: Sequence[str]) -> dict[str, dict[str, Any]]:
    """For each diagnosis: its cases, how many the engine ranked first (sensitivity = top-1 recall), how
    often it was the engine's top answer and how often that was right (precision)."""
    table: dict[str, dict[str, Any]] = {}
    for d in diagnoses:
        n = sum(o.reference == d for o in outcomes)
        correct = sum(o.reference == d and o.top == d for o in outcomes)
        predicted = sum(o.top == d for o in outcomes)
        table[d] = {
            "n": n,
            "correct": correct,
            "sensitivity": correct / n if n else None,
            "predicted": predicted,
            "precision": correct / predicted if predicted else None,
        }
    return table


def calibration(outcomes: Sequence[CaseOutcome], bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Every probability the engine gave (each ranked diagnosis of each case), binned by its value: how many,
    their mean, and how often that diagnosis was the reference. ``ece`` is the count-weighted mean gap."""
    members: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for o in outcomes:
        for diagnosis, p in o.ranking:
            members[min(int(p * bins), bins - 1)].append((p, diagnosis == o.reference))
    rows = []
    total = sum(len(m) for m in members)
    ece = 0.0
    for index, member in enumerate(members):
        count = len(member)
        mean = sum(p for p, _ in member) / count if count else None
        observed = sum(hit for _, hit in member) / count if count else None
        if mean is not None and observed is not None:
            ece += count / total * abs(mean - observed)
        rows.append(
            {
                "lower": index / bins,
                "upper": (index + 1) / bins,
                "count": count,
                "mean_predicted": mean,
                "observed": observed,
            }
        )
    return {"bins": rows, "ece": ece}


def malignant_safety(outcomes: Sequence[CaseOutcome], malignant: Sequence[str]) -> dict[str, Any]:
    """Cases whose reference is a diagnosis the pack marks malignant: ranked first, given an urgent red flag,
    and safe (either); the unsafe ones by id."""
    cases = [o for o in outcomes if o.reference in malignant]
    first = [o for o in cases if o.top == o.reference]
    flagged = [o for o in cases if o.urgent_red_flag]
    unsafe = [o.case_id for o in cases if o.top != o.reference and not o.urgent_red_flag]
    return {
        "n": len(cases),
        "first": len(first),
        "flagged": len(flagged),
        "safe": len(cases) - len(unsafe),
        "unsafe": unsafe,
    }


def ranked_under_malignant(
    outcomes: Sequence[CaseOutcome], diagnoses: Sequence[str], malignant: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """For each benign diagnosis with cases, in the pack's order: how often a malignant diagnosis was ranked
    above it (the benign lesion that would be worked up, or biopsied, as a tumour), in all and per malignant
    diagnosis (a target may name one malignant diagnosis alone)."""
    table: dict[str, dict[str, Any]] = {}
    for diagnosis in diagnoses:
        cases = [o for o in outcomes if o.reference == diagnosis]
        if diagnosis in malignant or not cases:
            continue
        above = {o.case_id: _malignant_ranked_above(o, malignant) for o in cases}
        under = [case_id for case_id, ranked_above in above.items() if ranked_above]
        table[diagnosis] = {
            "n": len(cases),
            "under": len(under),
            "fraction": len(under) / len(cases),
            "by_diagnosis": {m: sum(m in ranked_above for ranked_above in above.values()) for m in malignant},
            "cases": under,
        }
    return table


def _malignant_ranked_above(o: CaseOutcome, malignant: Sequence[str]) -> set[str]:
    above = o.ranking if o.rank is None else o.ranking[: o.rank - 1]
    return {diagnosis for diagnosis, _ in above if diagnosis in malignant}


def baseline_accuracy(outcomes: Sequence[CaseOutcome]) -> float | None:
    """Top-1 accuracy of the pack's rule of thumb on the same cases (None without a baseline)."""
    if any(o.baseline is None for o in outcomes):
        return None
    return sum(o.baseline == o.reference for o in outcomes) / len(outcomes)


# ---- the whole run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    outcomes: tuple[CaseOutcome, ...]
    pack: RulePack
    fitted: str = "none"

    @property
    def diagnoses(self) -> tuple[str, ...]:
        return tuple(self.pack.diagnoses)

    @property
    def malignant(self) -> tuple[str, ...]:
        return tuple(d for d, info in self.pack.diagnoses.items() if info.malignant)


def validate(
    cases: Sequence[ValidationCase], evaluator: Evaluator, fit: Fit | None = None, folds: int = DEFAULT_FOLDS
) -> Validation:
    """Assess every case (cross-validated when ``fit`` is given) and keep what each answer was."""
    if not cases:
        raise ValueError("no validation cases")
    reports = predict(cases, evaluator, fit, folds)
    pack = evaluator.pack
    fitted = "none" if fit is None else f"{getattr(fit, '__name__', 'fitted step')}, {min(folds, len(cases))}-fold"
    return Validation(tuple(outcome(c, r, pack) for c, r in zip(cases, reports, strict=True)), pack, fitted)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def summary(validation: Validation) -> dict[str, Any]:
    """The run as one JSON-ready object (fractions are floats in [0, 1], counts are integers)."""
    outcomes, diagnoses, pack = validation.outcomes, validation.diagnoses, validation.pack
    safety = malignant_safety(outcomes, validation.malignant)
    hard = [o for o in outcomes if o.hard]
    calib = calibration(outcomes)
    return {
        **_accuracy_keys(outcomes, diagnoses),
        **_safety_keys(safety, outcomes, validation.malignant),
        "malignant_diagnoses": list(validation.malignant),
        "ranked_under_malignant": {
            d: {**row, "fraction": _round(row["fraction"])}
            for d, row in ranked_under_malignant(outcomes, diagnoses, validation.malignant).items()
        },
        "hard_n": len(hard),
        "hard_top1": _round(top_k_accuracy(hard, 1)) if hard else None,
        "fitted": validation.fitted,
        "rule_pack": {"name": pack.info.name, "version": pack.info.version, "digest": pack.digest},
        "diagnoses": {d: info.label for d, info in pack.diagnoses.items()},
        "per_diagnosis": {
            d: {**row, "sensitivity": _round(row["sensitivity"]), "precision": _round(row["precision"])}
            for d, row in per_diagnosis(outcomes, diagnoses).items()
        },
        "confusion": confusion(outcomes, diagnoses),
        "calibration": {
            "bins": [
                {**row, "mean_predicted": _round(row["mean_predicted"]), "observed": _round(row["observed"])}
                for row in calib["bins"]
            ],
            "ece": _round(calib["ece"]),
        },
        "within_differential": _accuracy_keys([o for o in outcomes if o.rankable], diagnoses),
        "outside_differential": _outside_keys([o for o in outcomes if not o.rankable]),
        "misses": [_case_row(o) for o in outcomes if o.top != o.reference],
        "cases": [_case_row(o) for o in outcomes],
    }


def _accuracy_keys(outcomes: Sequence[CaseOutcome], diagnoses: Sequence[str]) -> dict[str, Any]:
    """n, top-1, top-2, log loss, Brier and the baseline's top-1 over ``outcomes`` (all the cases, or those
    within the differential: see ``rankable``)."""
    if not outcomes:
        return {"n": 0, "top1": None, "top2": None, "log_loss": None, "brier": None, "baseline_top1": None}
    return {
        "n": len(outcomes),
        "top1": _round(top_k_accuracy(outcomes, 1)),
        "top2": _round(top_k_accuracy(outcomes, 2)),
        "log_loss": _round(mean_log_loss(outcomes)),
        "brier": _round(brier_score(outcomes, diagnoses)),
        "baseline_top1": _round(baseline_accuracy(outcomes)),
    }


def _outside_keys(outcomes: Sequence[CaseOutcome]) -> dict[str, Any]:
    """Cases whose reference the engine could not rank: how many, how many got an urgent red flag, which."""
    return {
        "n": len(outcomes),
        "flagged": sum(o.urgent_red_flag for o in outcomes),
        "cases": [o.case_id for o in outcomes],
    }


def _safety_keys(safety: dict[str, Any], outcomes: Sequence[CaseOutcome], malignant: tuple[str, ...]) -> dict[str, Any]:
    """``malignant_n`` … ``malignant_unsafe`` over every malignant reference, and the same figures for each
    malignant diagnosis under its own id (``<id>_n``, ``<id>_safe``, ...), the names scripts were promised."""
    parts = ("n", "safe", "first", "flagged", "unsafe")
    keys = {f"malignant_{part}": safety[part] for part in parts}
    for diagnosis in malignant:
        own = malignant_safety(outcomes, (diagnosis,))
        keys.update({f"{diagnosis}_{part}": own[part] for part in parts})
    return keys


def _case_row(o: CaseOutcome) -> dict[str, Any]:
    return {
        "case_id": o.case_id,
        "path": o.path,
        "reference": o.reference,
        "subtype": o.subtype,
        "reference_probability": _round(o.probability),
        "reference_rank": o.rank,
        "top": o.top,
        "top_probability": _round(o.top_probability),
        "top1": o.within(1),
        "top2": o.within(2),
        "urgent_red_flag": o.urgent_red_flag,
        "baseline": o.baseline,
        "hard": o.hard,
        "source": o.source,
    }
