"""Nothing entered is lost: writers killed with SIGKILL at random moments leave consistent data behind."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ddx.interview import load_draft
from ddx.quiz.store import QuizStore
from tests.conftest import SHIPPED_PACK

QUIZ_WRITER = """
import sys, pathlib
from ddx.quiz.store import QuizStore
store = QuizStore(pathlib.Path(sys.argv[1]))
attempt = store.start("w", "c", {"version": "1"}, {})
n = 0
while True:
    n += 1
    store.record_answer(attempt, f"q{n}", n, {"n": n})
"""

DRAFT_WRITER = """
import sys, pathlib
from ddx.interview import Draft, save_draft
path = pathlib.Path(sys.argv[1])
n = 0
while True:
    n += 1
    save_draft(Draft(case_id="d", title="t", out="d.yaml", findings={"age_years": n % 120},
                     asked=["age_years"] * (n % 50)), path)
"""


def kill_at_random(script: str, target: Path, rounds: int = 6) -> None:
    rng = random.Random(20261126)
    for _ in range(rounds):
        writer = subprocess.Popen([sys.executable, "-c", script, str(target)])
        time.sleep(rng.uniform(0.4, 0.9))  # long enough to be mid-way through many writes
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)


def test_quiz_answers_survive_sigkill_mid_write(tmp_path: Path) -> None:
    db = tmp_path / "quiz.db"
    kill_at_random(QUIZ_WRITER, db)
    store = QuizStore(db)
    assert store.integrity_ok()
    attempts = store.attempts()
    assert len(attempts) == 6
    for attempt in attempts:
        log = store.answer_log(attempt.id)
        # The answer log and the attempt's answers are written in one transaction: they always agree.
        assert attempt.answers.get("n", 0) == len(log)
        assert [answer for _, _, answer in log] == list(range(1, len(log) + 1))


def test_interview_drafts_survive_sigkill_mid_write(tmp_path: Path) -> None:
    draft = tmp_path / "case.yaml.draft"
    kill_at_random(DRAFT_WRITER, draft)
    loaded = load_draft(draft, SHIPPED_PACK)  # a whole draft, never half of one
    assert loaded.case_id == "d"


GRADED_WRITER = """
import sys, pathlib
from ddx.quiz.store import QuizStore

class Grade:
    score = 50.0
    breakdown = {"ranking": 25.0}
    misconceptions = []
    def model_dump_json(self):
        return '{"score": 50.0}'

store = QuizStore(pathlib.Path(sys.argv[1]))
n = 0
while True:
    n += 1
    store.save_graded(student="g", case_id="c", rule_pack={"version": "1"}, engine={}, question="answers file",
                      answer=f"a{n}.yaml", answers={"n": n}, grade=Grade())
"""


def test_a_graded_file_saved_while_killed_is_all_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "quiz.db"
    kill_at_random(GRADED_WRITER, db, rounds=4)
    store = QuizStore(db)
    assert store.integrity_ok()
    attempts = store.attempts()
    assert attempts  # some were saved
    assert store.unfinished() == []  # and none half-saved, for `ddx quiz --resume` to offer
    for attempt in attempts:
        assert attempt.status == "complete"
        assert len(store.answer_log(attempt.id)) == 1
