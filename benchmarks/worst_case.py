"""Worst cases for time, not for bytes: what the limits of issue 15 promise, measured end to end.

    .venv/bin/python benchmarks/worst_case.py            # a table; --json for one JSON object

* ``assess_threshold_pack_s`` / ``regress_threshold_pack_s`` — a 2,000-rule pack (the shipped rules plus
  2,000 generated ones) whose thresholds all fall on one finding the cases leave unknown, so the what-if
  search has ~4,000 value regions to try: ``ddx assess`` on the reference case and ``ddx regress`` on
  the curated cases, fresh processes, wall clock. Targets: ≤ 2 s and ≤ 30 s.
* ``assess_largest_case_s`` — the most work a case file within the limits can ask for (every list and
  mapping at its item limit, every text at its length limit), ``ddx assess``. Target: ≤ 2 s.

The targets are measured as ddx runs by default, with the parsed-file cache warm (``DDX_CACHE_DIR`` points
at a fresh folder, filled by a first run). ``*_cold_s`` are the same commands with the cache off: parsing
2,000 rules with the pure-Python YAML parser alone takes seconds, once per change of the pack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"assess_threshold_pack_s": 2.0, "regress_threshold_pack_s": 30.0, "assess_largest_case_s": 2.0}
UNTARGETED = ("assess_threshold_pack_cold_s", "regress_threshold_pack_cold_s")
RULE_COUNT = 2_000
FINDING = "lesion_size_cm"  # unknown in the reference case and in most curated cases


def threshold_pack(folder: Path, count: int = RULE_COUNT) -> Path:
    """The shipped rules plus ``count`` rules that each compare one finding with a threshold of their own."""
    rules = folder / "rules"
    shutil.copytree(REPO / "rules", rules)
    diagnoses = ("avulsion", "myositis_ossificans", "sarcoma")
    lines = ["rules:"]
    for index in range(count):
        threshold = round(0.05 + index * 0.049, 3)  # 2,000 distinct thresholds in (0, 100]
        op, example, non_example = (
            ("<=", threshold, threshold + 0.01) if index % 2 else (">", threshold + 0.01, threshold)
        )
        lines += [
            f"  - id: GEN-T{index:04d}",
            f"    title: generated threshold {index}",
            "    rationale: generated for the worst-case benchmark",
            "    citations: [eurorad-14910]",
            f"    when: {{{FINDING}: {{'{op}': {threshold}}}}}",
            f"    effects: [{{diagnosis: {diagnoses[index % 3]}, direction: {'for' if index % 4 < 2 else 'against'}, "
            "strength: weak}]",
            f"    examples: {{fires: [{{{FINDING}: {example}}}], does_not_fire: [{{{FINDING}: {non_example}}}]}}",
        ]
    (rules / "zz-generated.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rules


def largest_case(folder: Path) -> Path:
    """A case at every limit: 100-item lists, 100-key panels, text at its maximum length."""
    from ddx.case import MAX_LIST_ITEMS

    panel = {
        f"GEN-{i:03d}/avulsion": {str(answer): 1_000_000 for answer in (-2, -1, 0, 1, 2)} for i in range(MAX_LIST_ITEMS)
    }
    case = {
        "id": "largest",
        "title": "t" * 500,
        "description": "d" * 20_000,
        "source": "s" * 2_000,
        "findings": {"age_years": 40, "site": "ischial_tuberosity", "tendon_attachment": True},
        "expect": {
            "fires": [f"RULE-{i:03d}" for i in range(MAX_LIST_ITEMS)],
            "does_not_fire": [f"OTHER-{i:03d}" for i in range(MAX_LIST_ITEMS)],
        },
        "quiz": {"items": [f"ITEM-{i:03d}/sarcoma" for i in range(MAX_LIST_ITEMS)], "panel": panel},
    }
    path = folder / "largest.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    return path


def wall_s(command: list[str], cache: str) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(
        command,
        capture_output=True,
        check=False,
        env={**os.environ, "DDX_CACHE_DIR": cache},
        cwd=REPO,
        timeout=600,
    )
    return time.perf_counter() - start, done.returncode


def measure() -> dict[str, float]:
    ddx = [sys.executable, "-m", "ddx.cli"]
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ddx-worst-") as workdir:
        folder = Path(workdir)
        rules = threshold_pack(folder)
        cache = str(folder / "cache")
        reference = str(REPO / "cases" / "reference-eurorad-14910.yaml")
        assess = [*ddx, "assess", reference, "--rules", str(rules), "--format", "json"]
        regress = [*ddx, "regress", str(REPO / "cases"), "--rules", str(rules), "--json"]
        for suffix, setting in (("_cold", "off"), ("", cache), ("", cache)):  # the first warm run fills the cache
            seconds, code = wall_s(assess, setting)
            assert code == 0, code
            results[f"assess_threshold_pack{suffix}_s"] = seconds
            seconds, code = wall_s(regress, setting)
            assert code in (0, 1), code  # generated rules may move a curated case; the time is what is measured
            results[f"regress_threshold_pack{suffix}_s"] = seconds
        seconds, code = wall_s([*ddx, "assess", str(largest_case(folder)), "--format", "json"], cache)
        assert code == 0, code
        results["assess_largest_case_s"] = seconds
    return results


def main() -> None:
    results = measure()
    if "--json" in sys.argv:
        print(json.dumps({key: round(value, 2) for key, value in results.items()}))
        return
    for key, value in results.items():
        target = TARGETS.get(key)
        verdict = "—" if target is None else f"target ≤ {target:g} s: {'met' if value <= target else 'NOT met'}"
        print(f"{key:30} {value:8.2f} s   {verdict}")


if __name__ == "__main__":
    main()
