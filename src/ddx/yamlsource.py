"""Safe loading of YAML and JSON documents that remembers where every value came from.

Case files and rule files share this loader, so both get the same limits and the same
``file:line`` errors. Nothing in a document is ever executed: the round-trip loader builds
only plain mappings, sequences and scalars.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ruamel.yaml.composer import Composer

MAX_FILE_BYTES = 1_000_000
MAX_NESTING_DEPTH = 32


@dataclass(frozen=True)
class LoadedDocument:
    """A plain-Python document plus a way back from any value's location to its line."""

    data: Any
    source: str
    lines: dict[str, int]

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """1-based line of the deepest part of ``location`` that exists in the document."""
        parts = list(location)
        while parts:
            line = self.lines.get(_location_key(parts))
            if line is not None:
                return line
            parts.pop()
        return self.lines.get("")


def _location_key(location: Sequence[str | int]) -> str:
    return "\x1f".join(f"i{part}" if isinstance(part, int) else f"s{part}" for part in location)


def _line_map(raw: Any) -> dict[str, int]:
    """Every key's and item's line, keyed by its location (computed once, so it can be cached)."""
    lines: dict[str, int] = {}
    root_line = getattr(getattr(raw, "lc", None), "line", None)
    lines[""] = int(root_line) + 1 if root_line is not None else 1
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(raw, ())]
    while stack:
        node, location = stack.pop()
        lc = getattr(node, "lc", None)
        children: list[tuple[str | int, Any]] = []
        if isinstance(node, dict):
            children = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        for key, child in children:
            child_location = (*location, key if isinstance(key, int) and isinstance(node, list) else str(key))
            line = _child_line(lc, key, is_item=isinstance(node, list))
            if line is not None:
                lines[_location_key(child_location)] = line
            stack.append((child, child_location))
    return lines


def _child_line(lc: Any, key: Any, *, is_item: bool) -> int | None:
    if lc is None:
        return None
    try:
        return int((lc.item(key) if is_item else lc.key(key))[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def load_document(path: Path, *, cache_dir: Path | None = None) -> LoadedDocument:
    """Read ``path`` (YAML or JSON) safely, or raise :class:`DdxInputError` naming file and line.

    With ``cache_dir``, a parsed document is kept there as JSON keyed by the file's content hash, so an
    unchanged rule file is not parsed again (the YAML parser is the slowest step of start-up). The cache
    holds only data; a missing, corrupt or unwritable cache is simply a miss.
    """
    from ddx.errors import DdxInputError

    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DdxInputError("file not found", source=path) from None
    except OSError as error:
        raise DdxInputError(f"cannot read file ({error.strerror})", source=path) from None
    if path.is_dir():
        raise DdxInputError("is a directory, expected a YAML or JSON file", source=path)
    if size > MAX_FILE_BYTES:
        raise DdxInputError(f"file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes", source=path)
    raw_bytes = path.read_bytes()
    if cache_dir is None:
        return parse_document(raw_bytes, source=str(path))
    cache_file = cache_dir / f"{_cache_key(raw_bytes, path)}.json"
    cached = _read_cache(cache_file, str(path))
    if cached is not None:
        return cached
    document = parse_document(raw_bytes, source=str(path))
    _write_cache(cache_file, document)
    return document


_CACHE_FORMAT = "ddx-parsed-document-1"


def _cache_key(raw_bytes: bytes, path: Path) -> str:
    import hashlib

    from ddx import __version__

    salt = f"{_CACHE_FORMAT}\0{__version__}\0{path.suffix}\0".encode()
    return hashlib.sha256(salt + raw_bytes).hexdigest()


def _read_cache(cache_file: Path, source: str) -> LoadedDocument | None:
    try:
        stored = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(stored, dict)
        or stored.get("format") != _CACHE_FORMAT
        or not isinstance(stored.get("lines"), dict)
    ):
        return None
    return LoadedDocument(data=stored.get("data"), source=source, lines=stored["lines"])


def _write_cache(cache_file: Path, document: LoadedDocument) -> None:
    import os
    import tempfile

    try:  # a document JSON cannot hold (a YAML date, say) is not cached; validation reports it
        payload = json.dumps({"format": _CACHE_FORMAT, "data": document.data, "lines": document.lines})
    except (TypeError, ValueError):
        return
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache_file.parent, delete=False, suffix=".tmp") as handle:
            handle.write(payload)
        os.replace(handle.name, cache_file)  # atomic: a reader sees the old file or the whole new one
    except OSError:
        return


def default_cache_dir() -> Path | None:
    """``$DDX_CACHE_DIR`` (empty or ``off`` disables caching), else the user's cache directory."""
    import os

    configured = os.environ.get("DDX_CACHE_DIR")
    if configured is not None:
        return None if configured.strip() in ("", "off") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ddx" / "parsed"


def parse_document(raw_bytes: bytes, *, source: str) -> LoadedDocument:
    """Parse bytes already read (a file, standard input) with the same limits and errors."""
    from ddx.errors import DdxInputError

    if len(raw_bytes) > MAX_FILE_BYTES:
        raise DdxInputError(f"input is {len(raw_bytes)} bytes; the limit is {MAX_FILE_BYTES}", source=source)
    if raw_bytes.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DdxInputError("UTF-16 text; save the file as UTF-8", source=source)
    if b"\x00" in raw_bytes:
        raise DdxInputError("binary content (NUL bytes); expected UTF-8 YAML or JSON text", source=source)
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw_bytes[: error.start].count(b"\n") + 1
        raise DdxInputError("not valid UTF-8 text", source=source, line=line) from None
    if source.endswith(".json"):
        _check_json_syntax(text, source)
    raw = _parse_yaml(text, source)
    _check_depth(raw, source)
    return LoadedDocument(data=_to_plain(raw), source=source, lines=_line_map(raw))


def _check_json_syntax(text: str, source: str) -> None:
    from ddx.errors import DdxInputError

    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise DdxInputError(f"invalid JSON: {error.msg}", source=source, line=error.lineno) from None
    except RecursionError:
        raise DdxInputError(f"nesting deeper than {MAX_NESTING_DEPTH} levels", source=source) from None


def _parse_yaml(text: str, source: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from ddx.errors import DdxInputError

    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    yaml.Composer = _plain_composer(source)
    try:
        return yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (error.problem or error.context or "invalid YAML").strip()
        if "duplicate key" in str(error):
            problem = "duplicate key " + _duplicate_key_name(str(error))
        elif "another document" in problem:
            problem = "a ddx file holds one document; remove the second '---' and what follows"
        raise DdxInputError(f"invalid YAML: {problem}", source=source, line=line) from None
    except YAMLError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "invalid YAML"
        raise DdxInputError(f"invalid YAML: {first_line}", source=source) from None
    except RecursionError:
        raise DdxInputError(f"nesting deeper than {MAX_NESTING_DEPTH} levels", source=source) from None


def _duplicate_key_name(message: str) -> str:
    for line in message.splitlines():
        if "found duplicate key" in line:
            return line.split("found duplicate key", 1)[1].split(" with value")[0].strip()
    return ""


def _plain_composer(source: str) -> type[Composer]:
    """A ruamel composer that refuses anchors, aliases and explicit tags as it meets them, in the one parse.

    Anchors and aliases are refused before they are expanded (the 'billion laughs' defence); explicit tags
    (``!!python/...`` or ``!custom``) because ddx files never need them and they would otherwise arrive as
    data that only looks like a plain mapping. A syntax error earlier in the file is reported first, by
    the parser, with its line.
    """
    from ruamel.yaml.composer import Composer  # at run time only when parsing: ruamel is slow to import
    from ruamel.yaml.events import AliasEvent

    from ddx.errors import DdxInputError

    class PlainComposer(Composer):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.parser.peek_event()
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
                raise DdxInputError("YAML anchors and aliases are not allowed in ddx files", source=source, line=line)
            tag = getattr(event, "tag", None)
            implicit = getattr(event, "implicit", True)
            implied = any(implicit) if isinstance(implicit, tuple) else bool(implicit)
            if tag is not None and not implied:
                raise DdxInputError(
                    f"YAML tags ({tag}) are not allowed in ddx files; write plain values", source=source, line=line
                )
            return super().compose_node(parent, index)

    return PlainComposer


def _check_depth(raw: Any, source: str) -> None:
    from ddx.errors import DdxInputError

    stack: list[tuple[Any, int]] = [(raw, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING_DEPTH:
            line = getattr(getattr(node, "lc", None), "line", None)
            raise DdxInputError(
                f"nesting deeper than {MAX_NESTING_DEPTH} levels",
                source=source,
                line=None if line is None else int(line) + 1,
            )
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)


def _to_plain(node: Any) -> Any:
    """ruamel's scalar subclasses keep formatting; the rest of ddx wants plain builtins."""
    if isinstance(node, dict):
        return {str(key): _to_plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_to_plain(item) for item in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node
