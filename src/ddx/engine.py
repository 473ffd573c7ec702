"""The only module that talks to durable-rules: compile a pack once, evaluate cases in sessions.

What durable-rules 2.0.28 does, and how this module keeps the rest of ddx from seeing it:

* events are consumed by the first matching rule, so a case's findings are asserted as one *fact*;
* a fact that matches no rule returns status 1 (the Python wrapper raises
  ``MessageNotHandledException``), and — measured here — deleting that session's state afterwards
  corrupts the heap (``free(): invalid pointer`` or a segfault, depending on what else the process has
  allocated), while *not* deleting it leaks until ``MemoryError``. So every compiled ruleset carries a
  sentinel rule that matches every case fact: the engine always takes the handled path, and "nothing
  fired" is simply an empty list;
* the stock Python host dispatches through ``threading.Timer`` loops and closures (about 19 µs a fired
  rule, and action functions with two parameters become asynchronous); we call the C engine's
  ``assert_fact`` / ``start_action_for_state`` / ``complete_and_start_action`` directly, about 2 µs;
* rule names are taken from the definition's keys, so each compiled rule is named by its rule id;
* a catch-all ``+m.sid`` condition hung the engine, so no compiled rule is ever unconditional;
* a rule holds at most 15 and/or groups (error 113), so compiled groups are merged where the meaning allows;
* the alpha network is walked with a 64-entry stack; overflowing it (error 303) corrupts the engine, so
  rules are sharded by how many alternatives they expand into (see ``MAX_ALTERNATIVES_PER_SHARD``);
* comparisons on an absent attribute do not match;
* creating a session zeroes two 512-entry indexes for every rule (``createStateNode`` in state.c), which
  cost more than matching the case: so each shard keeps one session for every case, and each case's fact
  is retracted once its actions are taken. If anything interrupts a case, the session is deleted instead,
  so the next case always starts from an empty session and no fact leaks from one case into the next.

Conditions are compiled under three-valued logic: ``not`` is pushed down to the comparisons (De
Morgan), and a negated comparison also requires the finding to exist, so a rule fires only when its
condition is known to be true.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import durable_rules_engine
import orjson

from ddx.conditions import AllOf, AnyOf, Comparison, Condition, Not

_STATUS_HANDLED = 0
# Neither name can clash: rule ids are upper-case with hyphens and findings come from a fixed vocabulary.
_SENTINEL_RULE = "ddx_sentinel"
_SENTINEL_KEY = "ddx_case"
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_DURABLE_OPERATOR = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ruleset_names = itertools.count()


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
        conjunction = isinstance(condition, AllOf) != negate  # De Morgan
        return _group("$and" if conjunction else "$or", [_when(part, negate=negate) for part in condition.parts])
    raise TypeError(f"not a condition: {condition!r}")


def _comparison(comparison: Comparison, *, negate: bool) -> dict[str, Any]:
    name, value = comparison.finding, comparison.value
    if comparison.op == "in":
        assert isinstance(value, tuple)
        options = [_comparison(Comparison(name, "==", option), negate=negate) for option in value]
        return _group("$and" if negate else "$or", options)
    op = _NEGATED[comparison.op] if negate else comparison.op
    if op == "==":
        return {name: value}
    test = {_DURABLE_OPERATOR[op]: {name: value}}
    if op == "!=":
        # An unknown finding is not "different from v": require it to be present.
        return _group("$and", [{"$ex": {name: 1}}, test])
    return test


# durable-rules keeps each rule's and/or structure in a sequence of at most 31 entries, two per $and or
# $or (OP_AND/OP_OR … OP_END in rete.c's createAlpha; error 113 beyond). Groups are therefore kept as few
# as the meaning allows: a group inside a group of the same kind is merged into it, a repeated part is
# dropped, a group of one is its part.
MAX_GROUPS_PER_RULE = 15


def _group(kind: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, dict[str, Any]] = {}
    for part in parts:
        for piece in part[kind] if set(part) == {kind} else [part]:
            merged.setdefault(json.dumps(piece, sort_keys=True), piece)
    pieces = list(merged.values())
    return pieces[0] if len(pieces) == 1 else {kind: pieces}


def groups(expression: Mapping[str, Any]) -> int:
    """How many $and/$or groups a compiled expression holds (durable-rules allows 15 a rule)."""
    count = 0
    for key, value in expression.items():
        if key in ("$and", "$or"):
            count += 1 + sum(groups(part) for part in value)
    return count


# durable-rules walks its alpha network with a fixed stack of 64 nodes (MAX_STACK_SIZE in events.c) and
# fails with error 303 when a fact matches more at once — after which the engine's heap is corrupt (measured:
# a later call segfaults). In a tree walk that pushes every matching child, the stack never holds more
# entries than the tree has leaves, i.e. than the rules have alternatives once each condition is expanded
# into a disjunction of conjunctions. Rules are therefore packed into shards of at most 63 alternatives
# (plus the sentinel), each its own durable-rules ruleset: a fact can never overflow the stack.
MAX_ALTERNATIVES_PER_SHARD = 63


def alternatives(expression: Mapping[str, Any]) -> int:
    """How many conjunctions a compiled expression expands into ($and multiplies, $or adds)."""
    if "$and" in expression:
        count = 1
        for part in expression["$and"]:
            count *= alternatives(part)
        return count
    if "$or" in expression:
        return sum(alternatives(part) for part in expression["$or"])
    return 1


class CompiledRuleset:
    """Rules compiled once into durable-rules rulesets (shards), each evaluating one case at a time."""

    def __init__(self, rules: Sequence[tuple[str, Condition]]) -> None:
        self.rule_ids: tuple[str, ...] = tuple(rule_id for rule_id, _ in rules)
        self._order = {rule_id: index for index, rule_id in enumerate(self.rule_ids)}
        shards: list[dict[str, Any]] = [{}]
        used = 0
        for rule_id, condition in rules:
            expression = compile_condition(condition)
            if groups(expression) > MAX_GROUPS_PER_RULE:
                raise EngineError(
                    f"rule {rule_id} compiles into {groups(expression)} and/or groups; durable-rules holds at most "
                    f"{MAX_GROUPS_PER_RULE} in one rule — split it into several rules"
                )
            size = alternatives(expression)
            if size > MAX_ALTERNATIVES_PER_SHARD:
                raise EngineError(
                    f"rule {rule_id} expands into {size} alternatives; durable-rules can match at most "
                    f"{MAX_ALTERNATIVES_PER_SHARD} at once — split it into several rules"
                )
            if used + size > MAX_ALTERNATIVES_PER_SHARD:
                shards.append({})
                used = 0
            shards[-1][rule_id] = {"all": [{"m": expression}]}
            used += size
        self._handles: list[int] = []
        try:
            for definition in shards:
                definition[_SENTINEL_RULE] = {"all": [{"m": {_SENTINEL_KEY: 1}}]}
                name = f"ddx{next(_ruleset_names)}"
                self._handles.append(durable_rules_engine.create_ruleset(name, json.dumps(definition)))
        except durable_rules_engine.error as error:
            self.close()
            raise EngineError(f"durable-rules rejected the compiled rules: {error}") from error

    @property
    def shard_count(self) -> int:
        return len(self._handles)

    def evaluate(self, facts: Mapping[str, Any]) -> list[str]:
        """Ids of every rule whose condition holds for ``facts``, in rule-pack order."""
        fact = _fact_json(facts)
        fired: set[str] = set()
        for handle in self._handles:
            self._evaluate_shard(handle, fact, fired)
        fired.discard(_SENTINEL_RULE)
        return sorted(fired, key=self._order.__getitem__)

    @staticmethod
    def _evaluate_shard(handle: int, fact: str, fired: set[str]) -> None:
        # One case at a time in the shard's one session (an Evaluator is not shared between threads).
        retracted = False
        try:
            status, state = durable_rules_engine.assert_fact(handle, fact)
            if status != _STATUS_HANDLED:
                raise EngineError(f"durable-rules returned status {status} for a new fact")
            # The first action comes as (state, message); each next one as the message alone.
            first = durable_rules_engine.start_action_for_state(handle, state)
            if first:
                complete = durable_rules_engine.complete_and_start_action
                message = first[1]
                while message:
                    fired.add(_fired_rule_name(message))
                    message = complete(handle, state)
            status, _ = durable_rules_engine.retract_fact(handle, _RETRACT_JSON)
            if status != _STATUS_HANDLED:
                raise EngineError(f"durable-rules returned status {status} retracting a case")
            retracted = True
        except durable_rules_engine.error as error:
            raise EngineError(f"durable-rules failed while evaluating: {error}") from error
        finally:
            if not retracted:  # an error or an interrupt: the next case must not meet this one's fact
                durable_rules_engine.delete_state(handle, _SESSION)

    def close(self) -> None:
        handles, self._handles = getattr(self, "_handles", []), []
        for handle in handles:
            durable_rules_engine.delete_ruleset(handle)

    def __del__(self) -> None:
        # Not contextlib.suppress: at interpreter shutdown module globals may already be None, and a script
        # that used the library would print "Exception ignored in __del__" on exit.
        try:  # noqa: SIM105 - contextlib may be gone by then
            self.close()
        except Exception:
            pass


def _fired_rule_name(message: str) -> str:
    """The rule name from an action message ``{"NAME":{"m":{...the whole fact...}}}``.

    Parsing the whole message as JSON for its first key cost more than the engine's own matching; rule
    names here are rule ids or the sentinel, which never contain a quote.
    """
    if not message.startswith('{"'):
        raise EngineError(f"unexpected durable-rules action message: {message[:80]!r}")
    return message[2 : message.index('"', 2)]


_SESSION = "case"
_FACT_ID = "case-findings"
_FACT_TAIL = f',"{_SENTINEL_KEY}":1,"id":"{_FACT_ID}","sid":"{_SESSION}"}}'
_RETRACT_JSON = f'{{"id":"{_FACT_ID}","sid":"{_SESSION}"}}'


def _fact_json(facts: Mapping[str, Any]) -> str:
    """The case as one durable-rules fact: its findings, the sentinel key, a fixed fact id and the session id.

    Keys are ddx finding names and never collide with ``sid``, ``id`` or the sentinel key. orjson because the
    standard encoder took longer than the engine's own parse of the result.
    """
    body = orjson.dumps(facts).decode()
    return ("{" if body == "{}" else body[:-1] + ",") + _FACT_TAIL[1:]
