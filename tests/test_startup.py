"""Start-up stays lean: the loaded pack is cached by content, and pydantic's plugin scan is skipped."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ddx import packcache, rulepack
from ddx.rulepack import load_rule_pack
from tests.conftest import REFERENCE_CASE, RULES_DIR


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DDX_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    return folder


def test_an_unchanged_pack_comes_from_the_cache(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_rule_pack(cached)
    assert list((Path(os.environ["DDX_CACHE_DIR"]) / "packs").glob("*.pickle"))

    def not_again(*_: object) -> None:
        raise AssertionError("the pack was validated again")

    monkeypatch.setattr(rulepack, "_load_rule_pack", not_again)
    again = load_rule_pack(cached)
    assert again is not first
    assert again.digest == first.digest
    assert [rule.id for rule in again.rules] == [rule.id for rule in first.rules]
    assert again.specs == first.specs
    assert again.vocabulary.findings_model.model_fields.keys() == first.vocabulary.findings_model.model_fields.keys()


def test_a_changed_file_is_never_served_stale(cached: Path) -> None:
    before = load_rule_pack(cached)
    pack_file = cached / "pack.yaml"
    text = pack_file.read_text()
    changed, count = re.subn(r'^version: ".*"$', 'version: "9.9.9"', text, flags=re.MULTILINE)
    assert count == 1
    pack_file.write_text(changed)
    after = load_rule_pack(cached)
    assert after.info.version == "9.9.9"
    assert after.digest != before.digest


def test_a_copy_elsewhere_names_its_own_files(cached: Path, tmp_path: Path) -> None:
    load_rule_pack(cached)
    other = tmp_path / "other"
    shutil.copytree(cached, other)
    assert all(rule.file.startswith(str(other)) for rule in load_rule_pack(other).rules)


def test_a_corrupt_entry_is_a_miss(cached: Path) -> None:
    load_rule_pack(cached)
    for entry in (Path(os.environ["DDX_CACHE_DIR"]) / "packs").glob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    assert load_rule_pack(cached).rules
    assert packcache.read(Path(os.environ["DDX_CACHE_DIR"]), "no-such-key") is None


def test_lint_always_reads_the_files(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_rule_pack(cached)
    monkeypatch.setattr(packcache, "read", lambda *_: pytest.fail("lint used the cache"))
    assert load_rule_pack(cached, problems=[]).rules


def _modules_after_assess(env: dict[str, str]) -> str:
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(*sorted(m for m in ('importlib.metadata', 'ruamel.yaml') if m in sys.modules),"
        " sep=',', file=sys.stderr))\n"
        f"sys.argv = ['ddx', 'assess', {str(REFERENCE_CASE)!r}, '--format', 'json']\n"
        "from ddx.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


def test_assess_skips_the_plugin_scan_and_the_yaml_parser_when_cached(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env["DDX_CACHE_DIR"] = str(tmp_path / "cache")
    _modules_after_assess(env)  # fills the cache
    assert _modules_after_assess(env) == ""


def test_pydantic_plugin_variable_set_by_the_user_is_respected(tmp_path: Path) -> None:
    env = {**os.environ, "PYDANTIC_DISABLE_PLUGINS": "", "DDX_CACHE_DIR": str(tmp_path / "cache")}
    assert "importlib.metadata" in _modules_after_assess(env)


LIBRARY_SCRIPT = """
import sys
from ddx.api import assess, evaluator_for
from ddx.case import load_case
from ddx.render import render
evaluator = evaluator_for(None)
print(render(assess(load_case(sys.argv[1], evaluator.pack), evaluator), "json"))
print(sorted(name for name in sys.modules if name.split(".")[0] in ("rich", "typer")), file=sys.stderr)
"""


def test_a_json_report_from_the_library_imports_no_terminal_library_and_exits_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "DDX_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY_SCRIPT, str(REFERENCE_CASE)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0
    assert done.stderr == "[]\n"  # nothing from rich or typer, and no "Exception ignored in __del__" at exit
