"""The only module that talks to durable-rules: compile a pack once, evaluate cases in sessions.

What durable-rules 2.0.28 does, and how this module keeps the rest of ddx from seeing it:

* events are consumed by the first matching rule, so a case's findings are asserted as one *fact*;
* a fact that matches no rule returns status 1 (the Python wrapper raises
  ``MessageNotHandledException``), and — measured here — deleting that session's state afterwards
  corrupts the heap (``free(): invalid pointer`` or a segfault, depending on what else the process has
  allocated), while *not* deleting it leaks until ``MemoryError``. So every compiled ruleset carries a
  sentinel rule that matches every case fact: the engine always takes the handled path, the session is
  always deleted, and "nothing fired" is simply an empty list;
* the stock Python host dispatches through ``threading.Timer`` loops and closures (about 19 µs a fired
  rule, and action functions with two parameters become asynchronous); we call the C engine's
  ``assert_fact`` / ``start_action_for_state`` / ``complete_and_start_action`` directly, about 2 µs;
* rule names are taken from the definition's keys, so each compiled rule is named by its rule id;
* a catch-all ``+m.sid`` condition hung the engine, so no compiled rule is ever unconditional;
* comparisons on an absent attribute do not match, and each case gets its own session id whose
  state is deleted afterwards, so no fact leaks from one case into the next.

Conditions are compiled under three-valued logic: ``not`` is pushed down to the comparisons (De
Morgan), and a negated comparison also requires the finding to exist, so a rule fires only when its
condition is known to be true.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import durable_rules_engine

from ddx.conditions import AllOf, AnyOf, Comparison, Condition, Not

_STATUS_HANDLED = 0
# Neither name can clash: rule ids are upper-case with hyphens and findings come from a fixed vocabulary.
_SENTINEL_RULE = "ddx_sentinel"
_SENTINEL_KEY = "ddx_case"
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_DURABLE_OPERATOR = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ruleset_names = itertools.count()
_session_ids = itertools.count()


class EngineError(RuntimeError):
    """durable-rules refused a compiled ruleset or failed while evaluating; a bug, not bad input."""


def compile_condition(condition: Condition) -> dict[str, Any]:
    """The durable-rules expression that matches exactly when ``condition`` is known to be true."""
    return _when(condition, negate=False)


def _when(condition: Condition, *, negate: bool) -> dict[str, Any]:
    if isinstance(condition, Comparison):
        return _comparison(condition, negate=negate)
    if isinstance(condition, Not):
        return _when(condition.part, negate=not negate)
    if isinstance(condition, AllOf | AnyOf):
        parts = [_when(part, negate=negate) for part in condition.parts]
        conjunction = isinstance(condition, AllOf) != negate  # De Morgan
        if len(parts) == 1:
            return parts[0]
        return {"$and" if conjunction else "$or": parts}
    raise TypeError(f"not a condition: {condition!r}")


def _comparison(comparison: Comparison, *, negate: bool) -> dict[str, Any]:
    name, value = comparison.finding, comparison.value
    if comparison.op == "in":
        assert isinstance(value, tuple)
        options = [_comparison(Comparison(name, "==", option), negate=negate) for option in value]
        if len(options) == 1:
            return options[0]
        return {"$and": options} if negate else {"$or": options}
    op = _NEGATED[comparison.op] if negate else comparison.op
    if op == "==":
        return {name: value}
    test = {_DURABLE_OPERATOR[op]: {name: value}}
    if op == "!=":
        # An unknown finding is not "different from v": require it to be present.
        return {"$and": [{"$ex": {name: 1}}, test]}
    return test


class CompiledRuleset:
    """A set of rules compiled once into one durable-rules ruleset, evaluated one session per case."""

    def __init__(self, rules: Sequence[tuple[str, Condition]]) -> None:
        self.rule_ids: tuple[str, ...] = tuple(rule_id for rule_id, _ in rules)
        self._order = {rule_id: index for index, rule_id in enumerate(self.rule_ids)}
        self._name = f"ddx{next(_ruleset_names)}"
        definition = {rule_id: {"all": [{"m": compile_condition(condition)}]} for rule_id, condition in rules}
        definition[_SENTINEL_RULE] = {"all": [{"m": {_SENTINEL_KEY: 1}}]}
        try:
            self._handle: int | None = durable_rules_engine.create_ruleset(self._name, json.dumps(definition))
        except durable_rules_engine.error as error:
            raise EngineError(f"durable-rules rejected the compiled rules: {error}") from error

    def evaluate(self, facts: Mapping[str, Any]) -> list[str]:
        """Ids of every rule whose condition holds for ``facts``, in rule-pack order."""
        if self._handle is None:
            return []
        handle = self._handle
        session = f"s{next(_session_ids)}"
        fired: list[str] = []
        try:
            status, state = durable_rules_engine.assert_fact(handle, _fact_json(facts, session))
            if status != _STATUS_HANDLED:
                raise EngineError(f"durable-rules returned status {status} for a new fact")
            result = durable_rules_engine.start_action_for_state(handle, state)
            while result:
                fired.append(_fired_rule_name(result[1] if isinstance(result, tuple | list) else result))
                result = durable_rules_engine.complete_and_start_action(handle, state)
        except durable_rules_engine.error as error:
            raise EngineError(f"durable-rules failed while evaluating: {error}") from error
        finally:
            durable_rules_engine.delete_state(handle, session)
        return sorted(
            {rule_id for rule_id in fired if rule_id != _SENTINEL_RULE}, key=self._order.__getitem__
        )

    def evaluate_many(self, cases: Iterable[Mapping[str, Any]]) -> list[list[str]]:
        return [self.evaluate(facts) for facts in cases]

    def close(self) -> None:
        if self._handle is not None:
            durable_rules_engine.delete_ruleset(self._handle)
            self._handle = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _fired_rule_name(message: str) -> str:
    """The rule name from an action message ``{"NAME":{"m":{...the whole fact...}}}``.

    Parsing the whole message as JSON for its first key cost more than the engine's own matching; rule
    names here are rule ids or the sentinel, which never contain a quote.
    """
    if not message.startswith('{"'):
        raise EngineError(f"unexpected durable-rules action message: {message[:80]!r}")
    return message[2 : message.index('"', 2)]


def _fact_json(facts: Mapping[str, Any], session: str) -> str:
    # Keys are ddx finding names and never collide with durable-rules' own 'sid' or the sentinel key.
    return json.dumps({**facts, _SENTINEL_KEY: 1, "sid": session}, separators=(",", ":"))
