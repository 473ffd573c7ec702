"""The quiz's data: a student's answers (also the answers-file format) and the grade they earn."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator, model_validator

from ddx.errors import shown

DiagnosisId = str

Status = Literal["present", "absent", "indeterminate"]
SCT_SCALE: tuple[int, ...] = (-2, -1, 0, 1, 2)
SCT_LABELS = {
    -2: "much less likely",
    -1: "less likely",
    0: "neither more nor less likely",
    1: "more likely",
    2: "much more likely",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Answers(_Model):
    """What a student answered for one case. Also the format of ``ddx quiz grade`` answers files.

    Validate with ``context={"pack": pack, "diagnoses": ...}``: the ranking must name each diagnosis the case
    ranks (``diagnoses``, by default every diagnosis of the pack) once, and each secondary condition's status is
    given under its key (``cyst: present``), kept in ``secondary``.
    """

    student: str = Field(min_length=1, max_length=200)
    case: str = Field(min_length=1, max_length=200, description="The curated case's id")
    ranking: tuple[DiagnosisId, ...]
    secondary: dict[str, Status] = Field(default_factory=dict, description="Condition key → status")
    supports_first: tuple[str, ...] = Field(default=(), description="Findings that support the first choice")
    against: dict[DiagnosisId, tuple[str, ...]] = Field(
        default_factory=dict, description="For each other diagnosis, the findings that argue against it"
    )
    red_flags: tuple[str, ...] = Field(default=(), description="Red-flag rule ids the student thinks apply")
    # Strict: an answer is a number, so "+1" and true are refused rather than read as 1.
    script_concordance: dict[str, Annotated[int, Strict()]] = Field(default_factory=dict, description="Item id → −2…+2")

    @field_validator("supports_first", "red_flags")
    @classmethod
    def _each_once(cls, listed: tuple[str, ...]) -> tuple[str, ...]:
        return _listed_once(listed)

    @field_validator("against")
    @classmethod
    def _each_once_per_diagnosis(
        cls, against: dict[DiagnosisId, tuple[str, ...]]
    ) -> dict[DiagnosisId, tuple[str, ...]]:
        for listed in against.values():
            _listed_once(listed)
        return against

    @model_validator(mode="before")
    @classmethod
    def _conditions_by_key(cls, data: Any, info: ValidationInfo) -> Any:
        pack = (info.context or {}).get("pack")
        if pack is None or not isinstance(data, dict):
            return data
        keys = [c.answer_key for c in pack.info.conditions]
        given = {key: data[key] for key in keys if key in data}
        missing = [key for key in keys if key not in given and key not in data.get("secondary", {})]
        if missing:
            raise ValueError(f"'{missing[0]}' is required: present, absent or indeterminate")
        rest = {k: v for k, v in data.items() if k not in keys}
        return {**rest, "secondary": {**data.get("secondary", {}), **given}}

    @field_validator("ranking")
    @classmethod
    def _each_diagnosis_once(cls, ranking: tuple[DiagnosisId, ...], info: ValidationInfo) -> tuple[DiagnosisId, ...]:
        context = info.context or {}
        expected = context.get("diagnoses") or (context["pack"].diagnosis_ids if "pack" in context else None)
        if expected is not None and sorted(ranking) != sorted(expected):
            raise ValueError(f"rank each of {', '.join(expected)} exactly once")
        return ranking

    @field_validator("script_concordance")
    @classmethod
    def _on_the_scale(cls, answers: dict[str, int]) -> dict[str, int]:
        for item, value in answers.items():
            if value not in SCT_SCALE:
                raise ValueError(f"{item}: {value} is not on the scale −2, −1, 0, +1, +2")
        return answers


def _listed_once(listed: tuple[str, ...]) -> tuple[str, ...]:
    """A finding or red flag counts once: listing it twice is refused, not counted (or penalised) twice."""
    seen: set[str] = set()
    for name in listed:
        if name in seen:
            raise ValueError(f"{shown(name)} is listed twice; list each once")
        seen.add(name)
    return listed


class ScriptItem(_Model):
    """A script-concordance item: hypothesis, new information, and how likely the hypothesis becomes."""

    id: str
    diagnosis: DiagnosisId
    finding: str
    value: bool | int | float | str
    rule: str
    engine_answer: int
    likelihood_ratio: float
    panel: dict[int, int] = Field(default_factory=dict, description="Teachers' answers: scale value → count")

    def credit(self, answer: int | None) -> float:
        """Aggregate scoring: the share of the panel's modal answer; without a panel, the engine's answer."""
        if answer is None:
            return 0.0
        if self.panel:
            modal = max(self.panel.values())
            return self.panel.get(answer, 0) / modal if modal else 0.0
        return 1.0 if answer == self.engine_answer else 0.5 if abs(answer - self.engine_answer) == 1 else 0.0


class CitedFinding(_Model):
    finding: str
    verdict: Literal["agrees", "missed", "not_weighed", "misconception"]
    rules: tuple[str, ...] = ()


class Misconception(_Model):
    finding: str
    student_said: str
    rule: str
    direction: Literal["for", "against"]
    diagnosis: DiagnosisId
    rationale: str
    citation: str
    penalised: bool = Field(
        True,
        description="False where the rule reads the finding only together with others (a combined rule), "
        "so the finding alone may fairly be read the student's way: shown, not penalised",
    )


class MissedRedFlag(_Model):
    rule: str
    message: str
    citation: str


class ScriptResult(_Model):
    item: str
    question: str
    student: int | None
    engine: int
    credit: float
    rule: str


class RankingAgreement(_Model):
    top1_match: bool
    kendall_tau: float
    student: tuple[DiagnosisId, ...]
    engine: tuple[DiagnosisId, ...]


class Grade(_Model):
    """The comparison, point by point, and the score out of 100 with its breakdown."""

    student: str
    case: str
    score: float
    breakdown: dict[str, float]
    maximum: dict[str, float]
    ranking_agreement: RankingAgreement
    secondary: dict[str, dict[str, str]] = Field(description="Condition key → {student, engine} statuses")
    missed_red_flags: list[MissedRedFlag]
    false_red_flags: list[str]
    misconceptions: list[Misconception]
    supports_first: list[CitedFinding]
    against: dict[str, list[CitedFinding]]
    script_concordance: list[ScriptResult]
    rule_pack: dict[str, str]
    misconception_penalty: float = Field(
        0.0, description="Points the misconceptions took from the two findings parts (already in breakdown)"
    )
    before_penalty: dict[str, float] = Field(
        default_factory=dict, description="The two findings parts before the misconception penalty"
    )
