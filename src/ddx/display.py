"""Text from users and files, made safe to show: no terminal escapes on screen, no formulas in spreadsheets.

A student's name, a case title or any other free text may hold control characters (an ANSI escape can
rewrite the terminal, hide text or set the window title). Everything ddx prints through rich goes
through :class:`ddx.render.console.SafeConsole`, which shows such characters as visible escapes
(``\\x1b``); plain-text outputs use :func:`printable`. CSV cells that a spreadsheet would read as a formula
are neutralised as OWASP's CSV-injection guidance recommends (:func:`csv_cell`). This module imports no rich:
a JSON report should not pay for a terminal library it never uses.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates
# that can make text read differently from what it holds.
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``); tab and newline are kept."""
    return UNPRINTABLE.sub(_escape, text)


MAX_MESSAGE_CHARACTERS = 1_000


def one_line(message: str) -> str:
    """An error message as one printable line of bounded length (a last guard; values are shortened first)."""
    text = printable(" ".join(message.split("\n")))
    if len(text) <= MAX_MESSAGE_CHARACTERS:
        return text
    return f"{text[: MAX_MESSAGE_CHARACTERS - 40]}… (message of {len(text)} characters shortened)"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string starting with = + - @ tab or CR gets a leading ``'``
    (OWASP), and control characters are escaped. Numbers are left as numbers."""
    if not isinstance(value, str):
        return value
    text = printable(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def percent(probability: float, digits: int = 1) -> str:
    """A probability as reports show it, never 0 % or 100 %, which a rule-based estimate cannot claim."""
    floor = 10.0**-digits / 100
    if probability < floor:
        return f"<{floor:.{digits}%}"
    if probability > 1 - floor:
        return f">{1 - floor:.{digits}%}"
    return f"{probability:.{digits}%}"
