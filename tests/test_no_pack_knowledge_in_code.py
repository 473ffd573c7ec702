"""ddx is an engine: no id or clinical threshold of the shipped pack appears in src/ddx.

The shipped pack's finding ids, values of its choices, diagnosis ids, condition ids and keys and rule ids
are looked for, as whole words, in every NAME and STRING token and every comment of src/ddx/**/*.py; its
rule thresholds are looked for among the numbers that src/ddx compares with. Knowledge belongs in rules/.
"""

from __future__ import annotations

import ast
import re
import tokenize
from pathlib import Path

from ddx.conditions import comparisons
from tests.conftest import REPO, SHIPPED_PACK

SOURCES = sorted((REPO / "src" / "ddx").rglob("*.py"))

# Values of the shipped pack that are also plain English words ddx's own messages use.
ENGLISH_WORDS: dict[str, str] = {
    "none": "'none fired', 'red flags: none': ddx's own wording (also a value of a history finding)",
    "other": "'the other way', 'other effects': ddx's own wording (also a value of a site finding)",
}

# Files being rewritten on other branches at the time of writing; each still needs its wording made
# generic. test_pending_files_still_need_it fails once a file is clean, so the entry is then removed.
PENDING: dict[str, str] = {
    "interview.py": "docstrings and comments name a condition and findings of the shipped pack (issue 12)",
}

# Numbers the engine compares with that happen to equal a threshold of the shipped pack: (file, number) → why.
# Engine constants (durable-rules' limits, the −2…+2 script-concordance scale, counts such as "at least two
# diagnoses", which are comparisons with len() and skipped) go here only when they collide.
ENGINE_NUMBERS: dict[tuple[str, float], str] = {
    ("validate.py", 2.0): "k-fold cross-validation needs at least two cases and two folds (n < 2 or k < 2)",
    # The pack compares a lesion's age in weeks with 1 (seen within the first week); these compare counts.
    ("case.py", 1.0): "an item listed more than once (count > 1)",
    ("explain.py", 1.0): "more than one contribution to sort (len > 1)",
    ("quiz/model.py", 1.0): "an item listed more than once (count > 1)",
    ("rulepack.py", 1.0): "more than one effect of a kind, target or file (count > 1, len(set) == 1)",
    ("vocabulary.py", 1.0): "a value listed more than once (count > 1)",
    ("interview.py", 1.0): "'1 finding' against 'N findings' in the running differential's label",
    ("extract.py", 2.0): "token positions two back in a sentence, and a blank line (two line breaks)",
}


def shipped_ids() -> set[str]:
    pack = SHIPPED_PACK
    ids = set(pack.specs)
    ids |= {value for spec in pack.specs.values() for value in spec.choices}
    ids |= set(pack.diagnosis_ids)
    ids |= {c.id for c in pack.info.conditions} | {c.answer_key for c in pack.info.conditions}
    ids |= {rule.id for rule in pack.rules}
    return ids - set(ENGLISH_WORDS)


def shipped_thresholds() -> set[float]:
    found: set[float] = set()
    for rule in SHIPPED_PACK.rules:
        for comparison in comparisons(rule.when):
            value = comparison.value
            if isinstance(value, int | float) and not isinstance(value, bool):
                found.add(float(value))
    return found


def _relative(path: Path) -> str:
    return path.relative_to(REPO / "src" / "ddx").as_posix()


def id_hits(path: Path, pattern: re.Pattern[str], root: Path = REPO / "src" / "ddx") -> list[str]:
    hits = []
    with path.open(encoding="utf-8") as handle:
        for token in tokenize.generate_tokens(handle.readline):
            if token.type in (tokenize.NAME, tokenize.STRING, tokenize.COMMENT):
                for match in pattern.finditer(token.string):
                    hits.append(f"{path.relative_to(root).as_posix()}:{token.start[0]}: {match.group(0)}")
    return hits


def id_pattern() -> re.Pattern[str]:
    words = sorted(shipped_ids(), key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(map(re.escape, words)) + r")(?![A-Za-z0-9_])")


def test_no_id_of_the_shipped_pack_in_src() -> None:
    pattern = id_pattern()
    hits = [hit for path in SOURCES if _relative(path) not in PENDING for hit in id_hits(path, pattern)]
    assert hits == [], "shipped-pack ids in src/ddx (knowledge belongs in rules/):\n" + "\n".join(hits)


def test_pending_files_still_need_it() -> None:
    pattern = id_pattern()
    for name in PENDING:
        assert id_hits(REPO / "src" / "ddx" / name, pattern), f"{name} is clean now: remove it from PENDING"


def _counts(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"


def compared_numbers(path: Path) -> list[tuple[int, float]]:
    """Every numeric literal that is an operand of a comparison (``x > 15``, ``15 <= y``), except where
    the comparison counts things (``len(parts) >= 2``): a count is structure, not a clinical threshold."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and not any(_counts(part) for part in (node.left, *node.comparators)):
            for part in (node.left, *node.comparators):
                operand = part.operand if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.USub) else part
                value = operand.value if isinstance(operand, ast.Constant) else None
                if isinstance(value, int | float) and not isinstance(value, bool):
                    found.append((node.lineno, float(value)))
    return found


def test_no_threshold_of_the_shipped_pack_in_src_comparisons() -> None:
    thresholds = shipped_thresholds()
    assert thresholds, "the shipped pack has numeric thresholds; this test must see them"
    hits = [
        f"{_relative(path)}:{line}: compares with {value:g}"
        for path in SOURCES
        for line, value in compared_numbers(path)
        if value in thresholds and (_relative(path), value) not in ENGINE_NUMBERS
    ]
    assert hits == [], "shipped-pack thresholds in src/ddx comparisons:\n" + "\n".join(hits)


def test_every_allowance_is_still_used() -> None:
    for (name, value), reason in ENGINE_NUMBERS.items():
        assert reason
        assert value in {v for _, v in compared_numbers(REPO / "src" / "ddx" / name)}, f"{name}: {value:g} unused"


def test_the_checks_would_catch_a_leak(tmp_path: Path) -> None:
    leaky = tmp_path / "leak.py"
    rule_id = SHIPPED_PACK.rules[0].id
    diagnosis = SHIPPED_PACK.diagnosis_ids[0]
    threshold = max(shipped_thresholds())
    leaky.write_text(f'# see {rule_id}\nif top == "{diagnosis}" and size > {threshold:g}:\n    pass\n')
    words = [hit.rsplit(": ", 1)[1] for hit in id_hits(leaky, id_pattern(), root=tmp_path)]
    assert words == [rule_id, diagnosis]
    assert threshold in {value for _, value in compared_numbers(leaky)}
