"""Quiz attempts in SQLite: every answer as it is given, the engine's answers and the grade.

Writes are transactions (``BEGIN IMMEDIATE``); the database runs in WAL mode with a busy timeout and a
few retries, so an interrupted quiz keeps what was answered and two processes writing at once lose
nothing. The default database lives in the user's data directory (``platformdirs``); ``--db`` chooses.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL,
    case_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('in_progress', 'complete')),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    rule_pack TEXT NOT NULL,
    engine TEXT NOT NULL,
    answers TEXT NOT NULL DEFAULT '{}',
    score REAL,
    breakdown TEXT,
    grade TEXT
);
CREATE TABLE IF NOT EXISTS answer_log (
    attempt_id INTEGER NOT NULL REFERENCES attempts(id),
    seq INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (attempt_id, seq)
);
CREATE TABLE IF NOT EXISTS misconceptions (
    attempt_id INTEGER NOT NULL REFERENCES attempts(id),
    rule_id TEXT NOT NULL,
    finding TEXT NOT NULL,
    diagnosis TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_student ON attempts(student, started_at);
"""
RETRIES = 5
_T = TypeVar("_T")


def _start(
    connection: sqlite3.Connection, student: str, case_id: str, rule_pack: dict[str, str], engine: dict[str, Any]
) -> int:
    cursor = connection.execute(
        "INSERT INTO attempts (student, case_id, status, started_at, rule_pack, engine) "
        "VALUES (?, ?, 'in_progress', ?, ?, ?)",
        (student, case_id, _now(), json.dumps(rule_pack), json.dumps(engine)),
    )
    return int(cursor.lastrowid or 0)


def _record_answer(
    connection: sqlite3.Connection, attempt_id: int, question: str, answer: Any, answers: dict[str, Any]
) -> None:
    (seq,) = connection.execute(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM answer_log WHERE attempt_id = ?", (attempt_id,)
    ).fetchone()
    connection.execute(
        "INSERT INTO answer_log (attempt_id, seq, question, answer, answered_at) VALUES (?, ?, ?, ?, ?)",
        (attempt_id, seq, question, json.dumps(answer), _now()),
    )
    connection.execute("UPDATE attempts SET answers = ? WHERE id = ?", (json.dumps(answers), attempt_id))


def _finish(connection: sqlite3.Connection, attempt_id: int, grade: Any) -> None:
    connection.execute(
        "UPDATE attempts SET status = 'complete', finished_at = ?, score = ?, breakdown = ?, grade = ? WHERE id = ?",
        (_now(), grade.score, json.dumps(grade.breakdown), grade.model_dump_json(), attempt_id),
    )
    connection.executemany(
        "INSERT INTO misconceptions (attempt_id, rule_id, finding, diagnosis) VALUES (?, ?, ?, ?)",
        [(attempt_id, m.rule, m.finding, m.diagnosis) for m in grade.misconceptions],
    )


def default_db_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("ddx", appauthor=False)) / "quiz.sqlite3"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Attempt:
    id: int
    student: str
    case_id: str
    status: str
    started_at: str
    finished_at: str | None
    rule_pack: dict[str, str]
    engine: dict[str, Any]
    answers: dict[str, Any]
    score: float | None
    breakdown: dict[str, float] | None


class QuizStore:
    def __init__(self, path: Path) -> None:
        from ddx.errors import DdxInputError

        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA busy_timeout=10000")
            self._connection.execute("PRAGMA foreign_keys=ON")
            self._connection.executescript(SCHEMA)  # idempotent; executescript commits on its own
        except sqlite3.DatabaseError as error:
            raise DdxInputError(f"not a usable quiz database ({error})", source=path) from None
        except OSError as error:
            raise DdxInputError(f"cannot open the quiz database ({error.strerror})", source=path) from None

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            yield self._connection
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def _write(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` in one transaction, retrying while another writer holds the lock.

        A database that cannot be written (read-only file or folder, full disk) is one line, exit 2.
        """
        from ddx.errors import DdxInputError

        for attempt in range(RETRIES):
            try:
                with self._transaction() as connection:
                    return work(connection)
            except sqlite3.OperationalError as error:
                if ("locked" not in str(error) and "busy" not in str(error)) or attempt == RETRIES - 1:
                    raise DdxInputError(f"cannot write to the quiz database ({error})", source=self.path) from None
                time.sleep(0.05 * 2**attempt)
            except sqlite3.DatabaseError as error:
                raise DdxInputError(f"cannot write to the quiz database ({error})", source=self.path) from None
        raise AssertionError("unreachable")

    def start(self, student: str, case_id: str, rule_pack: dict[str, str], engine: dict[str, Any]) -> int:
        return self._write(lambda connection: _start(connection, student, case_id, rule_pack, engine))

    def record_answer(self, attempt_id: int, question: str, answer: Any, answers: dict[str, Any]) -> None:
        """One answer: appended to the log and merged into the attempt's answers, in one transaction."""
        self._write(lambda connection: _record_answer(connection, attempt_id, question, answer, answers))

    def finish(self, attempt_id: int, grade: Any) -> None:
        self._write(lambda connection: _finish(connection, attempt_id, grade))

    def save_graded(
        self,
        *,
        student: str,
        case_id: str,
        rule_pack: dict[str, str],
        engine: dict[str, Any],
        question: str,
        answer: Any,
        answers: dict[str, Any],
        grade: Any,
    ) -> int:
        """A graded answers file as one complete attempt, in one transaction: a kill at any moment leaves
        either nothing or the whole attempt, never an unfinished one that ``--resume`` would offer."""

        def save(connection: sqlite3.Connection) -> int:
            attempt_id = _start(connection, student, case_id, rule_pack, engine)
            _record_answer(connection, attempt_id, question, answer, answers)
            _finish(connection, attempt_id, grade)
            return attempt_id

        return self._write(save)

    def _attempts(self, where: str, parameters: tuple[Any, ...]) -> list[Attempt]:
        rows = self._connection.execute(
            "SELECT id, student, case_id, status, started_at, finished_at, rule_pack, engine, answers, score, "
            f"breakdown FROM attempts {where} ORDER BY started_at, id",
            parameters,
        ).fetchall()
        return [
            Attempt(
                id=row[0],
                student=row[1],
                case_id=row[2],
                status=row[3],
                started_at=row[4],
                finished_at=row[5],
                rule_pack=json.loads(row[6]),
                engine=json.loads(row[7]),
                answers=json.loads(row[8]),
                score=row[9],
                breakdown=json.loads(row[10]) if row[10] else None,
            )
            for row in rows
        ]

    def attempts(self, student: str | None = None) -> list[Attempt]:
        if student is None:
            return self._attempts("", ())
        return self._attempts("WHERE student = ?", (student,))

    def unfinished(self, student: str | None = None) -> list[Attempt]:
        if student is None:
            return self._attempts("WHERE status = 'in_progress'", ())
        return self._attempts("WHERE status = 'in_progress' AND student = ?", (student,))

    def attempt(self, attempt_id: int) -> Attempt | None:
        found = self._attempts("WHERE id = ?", (attempt_id,))
        return found[0] if found else None

    def answer_log(self, attempt_id: int) -> list[tuple[int, str, Any]]:
        rows = self._connection.execute(
            "SELECT seq, question, answer FROM answer_log WHERE attempt_id = ? ORDER BY seq", (attempt_id,)
        ).fetchall()
        return [(row[0], row[1], json.loads(row[2])) for row in rows]

    def misconception_counts(self) -> list[tuple[str, str, int]]:
        """(rule, finding, how many times) over all attempts, most common first."""
        rows = self._connection.execute(
            "SELECT rule_id, finding, COUNT(*) FROM misconceptions GROUP BY rule_id, finding "
            "ORDER BY COUNT(*) DESC, rule_id, finding"
        ).fetchall()
        return [(row[0], row[1], int(row[2])) for row in rows]

    def integrity_ok(self) -> bool:
        (result,) = self._connection.execute("PRAGMA integrity_check").fetchone()
        return bool(result == "ok")
