"""Every example in rules/lexicon.yaml, run: its text must yield exactly its findings.

As tests/test_rule_examples.py does for rules, this file only collects the examples; a new phrase, modifier,
section or combination is tested by writing its examples beside it.
"""

from __future__ import annotations

import pytest

from ddx.lexicon import LocatedExample, lexicon_for
from tests.conftest import SHIPPED_PACK

pytest.importorskip("medspacy")

from ddx.extract import extractor_for

_LEXICON = lexicon_for(SHIPPED_PACK)
_EXAMPLES = [pytest.param(example, id=f"{example.where}-{index}") for index, example in enumerate(_LEXICON.examples)]


def test_the_lexicon_has_examples() -> None:
    assert len(_EXAMPLES) >= 30


@pytest.mark.parametrize("located", _EXAMPLES)
def test_lexicon_example(located: LocatedExample) -> None:
    example = located.example
    read = extractor_for(SHIPPED_PACK).extract(example.text, today=example.today).findings
    assert read == example.findings, f"{_LEXICON.source}:{located.line} {located.where}: {example.text!r}"
