"""ddx extract benchmark: precision and recall on the test corpus, per finding and overall; speed; load time.

Run from the repository root:  python benchmarks/extract_bench.py  [--json]

The corpus is tests/extract_corpus/: each ``NAME.txt`` is a report or vignette and ``NAME.yaml`` holds the
findings it states (``findings``) and, optionally, findings it must not yield (``not``). A finding read with
the expected value is a true positive (numbers within 5 %); read with another value, a false positive and a
false negative; read when not expected, a false positive; expected and not read, a false negative.

Timing: the load is measured in a fresh interpreter (importing spaCy and medspaCy and building the pipeline);
a one-page report is the first 3,000 characters of the reference case's text (about 500 words), the median of
30 runs after the pipeline is loaded. Tests check that this script runs and prints every figure, not the
figures themselves.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "extract_corpus"
REFERENCE = CORPUS / "reference-eurorad-14910.txt"
PAGE_CHARS = 3_000

TARGETS: dict[str, tuple[str, float]] = {
    "precision": (">=", 0.95),
    "recall": (">=", 0.80),
    "one_page_ms": ("<=", 150),
    "load_s": ("<=", 2.0),
}

_LOAD_SCRIPT = """
import time
started = time.perf_counter()
from ddx.api import pack_for
from ddx.extract import Extractor
Extractor(pack_for())
print(time.perf_counter() - started)
"""


def same(expected: Any, got: Any) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool) or isinstance(expected, str):
        return bool(expected == got)
    if isinstance(expected, int | float) and isinstance(got, int | float):
        return abs(expected - got) <= 0.05 * max(abs(expected), 1e-9)
    return bool(expected == got)


def load_corpus() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    items = []
    for text_file in sorted(CORPUS.glob("*.txt")):
        expected = yaml.load(text_file.with_suffix(".yaml").read_text(encoding="utf-8"))
        items.append(
            (text_file.stem, text_file.read_text(encoding="utf-8"), expected["findings"], expected.get("not") or {})
        )
    return items


def score(extractor: Any) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = {}
    forbidden_read: list[str] = []
    for name, text, expected, forbidden in load_corpus():
        got = extractor.extract(text).findings
        for finding in set(expected) | set(got):
            tally = counts.setdefault(finding, Counter())
            if finding in expected and finding in got and same(expected[finding], got[finding]):
                tally["tp"] += 1
                continue
            if finding in got:
                tally["fp"] += 1
            if finding in expected:
                tally["fn"] += 1
        forbidden_read += [f"{name}: {f}={v!r}" for f, v in forbidden.items() if f in got and same(v, got[f])]
    per_finding = {}
    for finding, tally in sorted(counts.items()):
        tp, fp, fn = tally["tp"], tally["fp"], tally["fn"]
        per_finding[finding] = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        }
    tp = sum(t["tp"] for t in counts.values())
    fp = sum(t["fp"] for t in counts.values())
    fn = sum(t["fn"] for t in counts.values())
    return {
        "reports": len(load_corpus()),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
        "per_finding": per_finding,
        "forbidden_read": forbidden_read,
    }


def load_seconds() -> float:
    done = subprocess.run([sys.executable, "-c", _LOAD_SCRIPT], capture_output=True, text=True, check=True, cwd=REPO)
    return float(done.stdout.strip().splitlines()[-1])


def one_page_ms(extractor: Any) -> float:
    page = REFERENCE.read_text(encoding="utf-8")[:PAGE_CHARS]
    extractor.extract(page)  # warm-up
    runs = []
    for _ in range(30):
        started = time.perf_counter()
        extractor.extract(page)
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    arguments = parser.parse_args()
    from ddx.api import pack_for
    from ddx.extract import Extractor

    extractor = Extractor(pack_for())
    figures = score(extractor)
    figures["one_page_ms"] = round(one_page_ms(extractor), 1)
    figures["load_s"] = round(load_seconds(), 2)
    figures["targets_met"] = {
        name: (figures[name] >= bound if op == ">=" else figures[name] <= bound)
        for name, (op, bound) in TARGETS.items()
    }
    if arguments.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"ddx extract on {figures['reports']} reports of tests/extract_corpus/\n")
    print(f"{'finding':<32}{'tp':>4}{'fp':>4}{'fn':>4}{'precision':>11}{'recall':>8}")
    for finding, row in figures["per_finding"].items():
        shown = [f"{row[k]:.0%}" if row[k] is not None else "—" for k in ("precision", "recall")]
        print(f"{finding:<32}{row['tp']:>4}{row['fp']:>4}{row['fn']:>4}{shown[0]:>11}{shown[1]:>8}")
    print(f"\n{'overall':<32}{figures['tp']:>4}{figures['fp']:>4}{figures['fn']:>4}", end="")
    print(f"{figures['precision']:>11.1%}{figures['recall']:>8.1%}")
    if figures["forbidden_read"]:
        print("read although only mentioned: " + "; ".join(figures["forbidden_read"]))
    for name, (op, bound) in TARGETS.items():
        met = "met" if figures["targets_met"][name] else "NOT met"
        print(f"{name}: {figures[name]} (target {op} {bound}: {met})")


if __name__ == "__main__":
    main()
