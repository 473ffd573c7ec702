"""Safe loading of YAML and JSON documents that remembers where every value came from.

Case files and rule files share this loader, so both get the same limits and the same
``file:line`` errors. Nothing in a document is ever executed: the round-trip loader builds
only plain mappings, sequences and scalars.
"""

from __future__ import annotations

import json
import re
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
    return parse_cached(read_bounded(path), source=str(path), cache_dir=cache_dir)


def parse_cached(raw_bytes: bytes, *, source: str, cache_dir: Path | None) -> LoadedDocument:
    """:func:`parse_document`, through the parsed-file cache when ``cache_dir`` is given."""
    if cache_dir is None:
        return parse_document(raw_bytes, source=source)
    cache_file = cache_dir / f"{_cache_key(raw_bytes, Path(source))}.json"
    cached = _read_cache(cache_file, source)
    if cached is not None:
        return cached
    document = parse_document(raw_bytes, source=source)
    _write_cache(cache_file, document)
    return document


def _file_kind(mode: int) -> str:
    import stat

    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path``, reading at most ``limit + 1`` whatever ``stat`` says.

    Anything but a regular file (a FIFO, ``/dev/zero``, a socket, a directory — directly or through a link)
    is refused before a single byte is read: opening is non-blocking, so a FIFO with no writer cannot hang.
    """
    import errno
    import os
    import stat

    from ddx.errors import DdxInputError

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise DdxInputError("file not found", source=path) from None
    except OSError as error:
        if error.errno == errno.ENXIO:  # a socket, or a FIFO opened for writing only
            raise DdxInputError("is not a regular file; expected a YAML or JSON file", source=path) from None
        raise DdxInputError(f"cannot read file ({error.strerror})", source=path) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise DdxInputError("is a directory, expected a YAML or JSON file", source=path)
        if not stat.S_ISREG(mode):
            raise DdxInputError(
                f"is {_file_kind(mode)}, not a regular file; expected a YAML or JSON file "
                "(use '-' to read standard input)",
                source=path,
            )
        size = os.fstat(descriptor).st_size
        if size > limit:
            raise DdxInputError(f"file is {size} bytes; the limit is {limit} bytes", source=path)
        os.set_blocking(descriptor, True)
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as error:
        raise DdxInputError(f"cannot read file ({error.strerror})", source=path) from None
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > limit:
        raise DdxInputError(f"file is more than {limit} bytes; the limit is {limit} bytes", source=path)
    return data


def read_stdin(limit: int = MAX_FILE_BYTES) -> bytes:
    """Standard input, at most ``limit + 1`` bytes read; refused if closed or a device other than a terminal."""
    import sys

    from ddx.errors import DdxInputError

    closed = "standard input is closed; pipe or redirect a case into 'ddx assess -'"
    stream = sys.stdin
    if stream is None:
        raise DdxInputError(closed)
    check_stdin()
    buffer = getattr(stream, "buffer", None)
    try:  # a buffered read of n bytes returns at EOF or after n bytes, never later: bounded for a pipe too
        data = buffer.read(limit + 1) if buffer is not None else stream.read(limit + 1).encode()
    except OSError as error:
        raise DdxInputError(f"cannot read standard input ({error.strerror})") from None
    except ValueError:  # a closed stream
        raise DdxInputError(closed) from None
    if len(data) > limit:
        raise DdxInputError(f"input is more than {limit} bytes; the limit is {limit}", source="<stdin>")
    return data


def check_stdin() -> None:
    """Refuse a standard input that is closed or a device other than a terminal (``< /dev/zero``)."""
    import contextlib
    import io
    import os
    import stat
    import sys

    from ddx.errors import DdxInputError

    stream = sys.stdin
    if stream is None:
        raise DdxInputError("standard input is closed")
    try:
        descriptor = stream.fileno()
    except (io.UnsupportedOperation, AttributeError):
        return  # a stream without a file (tests, embedding): bounded reads still apply
    except ValueError:
        raise DdxInputError("standard input is closed") from None
    try:
        status = os.fstat(descriptor)
    except OSError:
        raise DdxInputError("standard input is closed") from None
    mode = status.st_mode
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(descriptor):
        return
    with contextlib.suppress(OSError):
        if os.path.samestat(status, os.stat(os.devnull)):  # `< /dev/null`: an empty input, not a stream
            return
    raise DdxInputError(
        f"standard input is {_file_kind(mode)}; expected a file, a pipe or a terminal", source="<stdin>"
    )


_CACHE_FORMAT = "ddx-parsed-document-2"  # 2: directives, merge keys, number forms refused


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
    return LoadedDocument(data=_to_plain(raw, source), source=source, lines=_line_map(raw))


def _check_json_syntax(text: str, source: str) -> None:
    from ddx.errors import DdxInputError

    try:
        json.loads(text, parse_int=str, parse_float=str)  # syntax only: numbers are checked by the YAML pass
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
            ended = line is not None and any(
                row.split("#", 1)[0].strip() == "..." for row in text.splitlines()[: line - 1]
            )
            marker = "the '...' end marker" if ended else "the second '---'"
            problem = f"a ddx file holds one document; remove {marker} and what follows"
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
    from ruamel.yaml.events import AliasEvent, DocumentStartEvent

    from ddx.errors import DdxInputError

    class PlainComposer(Composer):
        def compose_document(self, *args: Any, **kwargs: Any) -> Any:
            event = self.parser.peek_event()
            if isinstance(event, DocumentStartEvent) and (event.version is not None or event.tags):
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                raise DdxInputError(
                    "YAML directives (%YAML, %TAG) are not allowed in ddx files: they change how values are "
                    "read; remove them",
                    source=source,
                    line=line,
                )
            return super().compose_document(*args, **kwargs)

        def compose_scalar_node(self, anchor: Any) -> Any:
            event = self.parser.peek_event()
            node = super().compose_scalar_node(anchor)
            if event.style is None:  # plain (unquoted): the only scalars YAML reads as numbers or merge keys
                _check_plain_scalar(node.tag, event.value, source, event.start_mark.line + 1)
            return node

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


MAX_NUMBER_CHARACTERS = 40
_DECIMAL_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_DECIMAL_FLOAT = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")


def _check_plain_scalar(tag: Any, text: str, source: str, line: int) -> None:
    """A clinical value is written one way: plain decimal numbers, no merge keys, no other number forms."""
    from ddx.errors import DdxInputError, shown

    kind = str(getattr(tag, "value", tag) or "")
    if text == "<<" or kind.endswith(":merge"):
        raise DdxInputError(
            "YAML merge keys (<<) are not allowed in ddx files; write every key out", source=source, line=line
        )
    if not kind.endswith((":int", ":float")):
        return
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise DdxInputError(
            f"a number of {len(text)} characters; numbers in ddx files have at most {MAX_NUMBER_CHARACTERS}",
            source=source,
            line=line,
        )
    pattern = _DECIMAL_INT if kind.endswith(":int") else _DECIMAL_FLOAT
    if not pattern.fullmatch(text):
        raise DdxInputError(
            f"{shown(text)} is not a plain decimal number; write numbers in decimal without leading zeros, "
            "0x/0o/0b prefixes, '_' or ':' (quote it if it is text)",
            source=source,
            line=line,
        )


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


def _to_plain(node: Any, source: str = "") -> Any:
    """ruamel's scalar subclasses keep formatting; the rest of ddx wants plain builtins.

    Keys become strings, so two keys that differ only in type (``1`` and ``"1"``) would collapse into one:
    that is refused as a duplicate key. Dates and times become their ISO text (YAML reads ``2020-01-01``
    as a date; ddx files hold no dates, so a validator then says what was expected instead).
    """
    import datetime

    from ddx.errors import DdxInputError, shown

    if isinstance(node, dict):
        plain: dict[str, Any] = {}
        for key, value in node.items():
            name = str(key.isoformat() if isinstance(key, datetime.date) else key)
            if name in plain:
                lc = getattr(node, "lc", None)
                line = _child_line(lc, key, is_item=False)
                raise DdxInputError(
                    f"invalid YAML: duplicate key {shown(name)} (written once as a number and once as text)",
                    source=source,
                    line=line,
                )
            plain[name] = _to_plain(value, source)
        return plain
    if isinstance(node, list):
        return [_to_plain(item, source) for item in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime.date):
        return node.isoformat()
    return node
