"""The loaded rule pack, kept between runs so that ``ddx`` does not validate an unchanged pack again.

Loading a pack validates every file into models (tens of milliseconds of a ``ddx assess`` that takes a
few hundred). The validated pack is kept as a pickle in the user's cache directory (``$DDX_CACHE_DIR``,
``off`` disables it), keyed by everything the result depends on: the name and bytes of every ``*.yaml``
file in the rules folder, the folder's path (reports name rule files by it), the source of the modules
that load a pack and define what is pickled, and the versions of ddx, pydantic and Python. A changed
file is a different key, so a stale pack is never used; a missing, corrupt or unreadable entry is a miss.

The entry is a pickle, so it is trusted as Python's own bytecode cache is: it lives in the user's own
cache directory, written only by ddx (files are created readable by their owner only).
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from pathlib import Path
from typing import Any

_FORMAT = b"ddx-rule-pack-1"


def _code_that_shapes_a_pack() -> list[Path]:
    from ddx import conditions, findings, rulepack, vocabulary, yamlsource

    return [Path(module.__file__ or "") for module in (conditions, findings, rulepack, vocabulary, yamlsource)]


def key(directory: Path) -> str:
    """The cache key of the pack in ``directory``: a hash of every input the loaded pack depends on."""
    import pydantic

    from ddx import __version__

    digest = hashlib.sha256(_FORMAT)
    for part in (__version__, pydantic.VERSION, sys.version, str(directory)):
        digest.update(part.encode() + b"\0")
    for source in _code_that_shapes_a_pack():
        digest.update(source.read_bytes() + b"\0")
    from ddx.rulepack import rule_file_paths
    from ddx.yamlsource import read_bounded

    # Every file the pack reads, read as the loader reads it (bounded, regular files only), so a FIFO or a
    # folder named x.yaml is refused here with the same one-line error rather than hung on.
    for path in rule_file_paths(directory):
        digest.update(path.name.encode() + b"\0" + read_bounded(path) + b"\0")
    return digest.hexdigest()


def _entry(cache_dir: Path, cache_key: str) -> Path:
    return cache_dir / "packs" / f"{cache_key}.pickle"


def read(cache_dir: Path, cache_key: str) -> Any:
    """The pack kept under ``cache_key``, or None."""
    try:
        data = _entry(cache_dir, cache_key).read_bytes()
    except OSError:
        return None
    try:
        return pickle.loads(data)
    except Exception:  # a truncated or foreign file: a miss, and the next write replaces it
        return None


def write(cache_dir: Path, cache_key: str, pack: Any) -> None:
    """Keep ``pack`` under ``cache_key`` (atomically); a cache that cannot be written is simply skipped."""
    import os
    import tempfile

    target = _entry(cache_dir, cache_key)
    try:
        data = pickle.dumps(pack, protocol=pickle.HIGHEST_PROTOCOL)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=target.parent, delete=False, suffix=".tmp") as handle:
            handle.write(data)
        os.replace(handle.name, target)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        return
