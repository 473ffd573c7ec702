"""Shared fixtures: the shipped rule pack compiled once per test session."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ddx.evaluate import Evaluator
from ddx.rulepack import RulePack, load_rule_pack

REPO = Path(__file__).resolve().parent.parent
RULES_DIR = REPO / "rules"
CASES_DIR = REPO / "cases"
REFERENCE_CASE = CASES_DIR / "reference-eurorad-14910.yaml"

# The shipped pack's vocabulary, for tests that name its findings: specs and the findings model.
SHIPPED_PACK = load_rule_pack(RULES_DIR)
FINDING_SPECS = SHIPPED_PACK.specs
Findings = SHIPPED_PACK.vocabulary.findings_model


@pytest.fixture(scope="session")
def pack() -> RulePack:
    return SHIPPED_PACK


@pytest.fixture(scope="session")
def evaluator(pack: RulePack) -> Iterator[Evaluator]:
    shipped = Evaluator(pack)
    yield shipped
    shipped.close()


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli_columns() -> int:
    """The terminal width ``cli`` runs at; a test module overrides it where its tables need more."""
    return 120


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cli_columns: int) -> Cli:
    """``ddx ARGS`` in-process through the real entry point: (exit code, stdout, stderr)."""
    from ddx.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["ddx", *args])
        monkeypatch.setenv("COLUMNS", str(cli_columns))
        with pytest.raises(SystemExit) as exit_info:
            main()
        out, err = capsys.readouterr()
        return int(exit_info.value.code or 0), out, err

    return run


def assert_one_line_error(err: str, *says: str, starts: str = "ddx: error: ") -> None:
    """A user error as the brief asks for it: one line, starting with ``starts``, saying each of ``says``,
    never a traceback nor an internal error."""
    assert err.count("\n") == 1, f"expected one line, got: {err!r}"
    assert err.startswith(starts), err
    for text in says:
        assert text in err, err
    assert "Traceback" not in err, err
    assert "internal error" not in err, err


def run_ddx(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``ddx ARGS`` in a fresh process, as a user runs it (wide terminal, so tables do not wrap)."""
    return subprocess.run(
        [sys.executable, "-m", "ddx.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
    )


def spawn_ddx(*args: str) -> subprocess.Popen[str]:
    """``ddx ARGS`` started in a fresh process with pipes, for tests that answer it and interrupt it."""
    return subprocess.Popen(
        [sys.executable, "-m", "ddx.cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]|\r")


def _controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``ddx ARGS`` in a pseudo-terminal of a given width, driven as a person at the keyboard drives it."""

    def __init__(self, args: tuple[str, ...], columns: int, stdout: int | None, env: dict[str, str] | None) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ddx.cli", *args],
            stdin=slave,
            stdout=slave if stdout is None else stdout,
            stderr=slave,
            env={**os.environ, "TERM": "xterm", "COLUMNS": str(columns), **(env or {})},
            start_new_session=True,
            preexec_fn=_controlling_terminal,  # noqa: PLW1509 (tests start no threads) Ctrl-C is SIGINT, as at a keyboard
        )
        os.close(slave)
        self.seen = ""
        self.consumed = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the child closed the terminal
            return False
        if not chunk:
            return False
        self.seen += ANSI.sub("", self.decoder.decode(chunk))
        return True

    def expect(self, text: str, timeout: float = 60) -> str:
        """Wait until ``text`` appears after what earlier calls consumed; return the output up to it."""
        deadline = time.monotonic() + timeout
        while text not in self.seen[self.consumed :]:
            if time.monotonic() > deadline or (not self._read(0.2) and self.process.poll() is not None):
                if text in self.seen[self.consumed :]:
                    break
                raise AssertionError(f"never saw {text!r}; the terminal shows:\n{self.seen[self.consumed :]}")
        end = self.seen.index(text, self.consumed) + len(text)
        shown, self.consumed = self.seen[self.consumed : end], end
        return shown

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\r").encode())

    def send_raw(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 60) -> int:
        """Wait for the exit code, reading everything the terminal still shows."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while self._read(0.1):
            pass
        os.close(self.master)
        return self.process.wait(timeout=5)

    @property
    def rest(self) -> str:
        return self.seen[self.consumed :]


def terminal_ddx(
    *args: str, columns: int = 80, stdout: int | None = None, env: dict[str, str] | None = None
) -> Terminal:
    return Terminal(args, columns, stdout, env)
