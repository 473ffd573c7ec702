"""The one error type users see: where the problem is and what was expected, on one line."""

from __future__ import annotations

from pathlib import Path


class DdxInputError(Exception):
    """Bad input from a user or a rule author. Rendered as ``file:line: field: message``."""

    def __init__(
        self,
        message: str,
        *,
        source: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        rule_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = str(source) if source is not None else None
        self.line = line
        self.field = field
        self.rule_id = rule_id

    def __str__(self) -> str:
        location = ""
        if self.source is not None:
            location = self.source if self.line is None else f"{self.source}:{self.line}"
        parts = [p for p in (location, f"rule {self.rule_id}" if self.rule_id else "", self.field) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


SHOWN_CHARACTERS = 60


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr(value)`` for a message, shortened when long (saying how long it was): errors stay one short line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = len(value) if isinstance(value, str | bytes | list | tuple | dict) else len(text)
    unit = "characters" if isinstance(value, str | bytes | int | float) else "items"
    return f"{text[: limit - 1]}… ({size} {unit})"
