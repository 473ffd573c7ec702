"""The ``ddx`` command: parse arguments, call the library, choose a renderer, map errors to exit codes.

Exit codes: 0 success; 1 a check failed (regressions); 2 bad input (file, YAML, validation, arguments);
3 an internal error (a bug in ddx, reported in one line; ``DDX_DEBUG=1`` shows the traceback).
Every error is one line on standard error, ``ddx: error: <file>:<line>: <field>: <what was expected>``.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn


def _skip_pydantic_plugin_scan() -> None:
    """Spare every ``ddx`` run pydantic's plugin discovery (about 20 ms: importing importlib.metadata and
    reading every installed package's entry points), as ``PYDANTIC_DISABLE_PLUGINS=__all__`` would.

    ddx uses no pydantic plugin. With that variable set pydantic returns no plugins but still imports the
    discovery module, so this puts a stand-in for that module in its place whose ``get_plugins`` returns
    none, and which loads the real module should anything else be asked of it. Set
    ``PYDANTIC_DISABLE_PLUGINS`` yourself (``""`` to load them all) and pydantic's own scan runs as usual.
    """
    import types

    name = "pydantic.plugin._loader"
    if "PYDANTIC_DISABLE_PLUGINS" in os.environ or name in sys.modules:
        return
    stand_in = types.ModuleType(name)

    def get_plugins() -> tuple[()]:
        return ()

    def load_the_real_module(attribute: str) -> Any:
        import importlib

        if attribute.startswith("__"):  # the import system asks for __path__ and the like
            raise AttributeError(attribute)
        del sys.modules[name]
        return getattr(importlib.import_module(name), attribute)

    stand_in.get_plugins = get_plugins  # type: ignore[attr-defined]
    stand_in.__getattr__ = load_the_real_module  # type: ignore[method-assign]
    sys.modules[name] = stand_in


_skip_pydantic_plugin_scan()

import typer  # noqa: E402 - after the stand-in, which must be in place before the first pydantic model

_APP_SETTINGS: dict[str, Any] = {
    "name": "ddx",
    "help": "Rule-based differential diagnosis: ranks a rule pack's diagnoses for a case and explains every "
    "choice (the shipped pack, or any other with --rules). Decision support for clinicians, not a diagnosis.",
    "no_args_is_help": True,
    "add_completion": True,  # --install-completion / --show-completion, typer's convention
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
}
app = typer.Typer(**_APP_SETTINGS)

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL_ERROR = 0, 1, 2, 3

# Interpreter shutdown runs the cycle collector over every object the imports made (pydantic's schemas,
# typer, rich) only to find what exit frees anyway: ~40 ms of a ~230 ms `ddx assess`, measured. Freezing
# them at exit (atexit runs before modules are torn down) skips that walk; other exit handlers and file
# flushing are unaffected.
atexit.register(gc.freeze)

RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Rules folder (default: the shipped pack).", file_okay=False),
]


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    from ddx.display import one_line

    typer.echo(f"ddx: error: {one_line(message)}", err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        from ddx import __version__

        typer.echo(f"ddx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """ddx — decision support for clinicians, not a diagnosis."""


@app.command()
def assess(
    case_file: Annotated[
        Path | None,
        typer.Argument(help="Case file (YAML or JSON); '-' reads standard input; none starts the interview."),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", help="Output format: text, markdown or json (default: from the -o extension, else text)."
        ),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    rules: RulesOption = None,
    what_if: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="FINDING=VALUE",
            help="What if: finding=value (or finding=unknown); repeatable. Shows what moved.",
        ),
    ] = None,
    report_file: Annotated[
        Path | None,
        typer.Option("--report", help="Read the case from a written report (text; '-' for stdin): see ddx extract."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Let -o replace the case file it reads.")] = False,
) -> None:
    """Rank the differential for one case and explain every choice."""
    from ddx.api import assess as assess_case
    from ddx.api import evaluator_for
    from ddx.case import case_from_document, load_case
    from ddx.render import FORMATS, render
    from ddx.yamlsource import parse_document, read_stdin

    chosen = output_format or _format_for(output)
    if chosen not in FORMATS:
        _fail(f"--format: got {chosen!r}; expected one of {', '.join(FORMATS)}")
    if report_file is not None and case_file is not None:
        _fail("give a case file or --report, not both")
    if case_file is None and report_file is None:
        if what_if:
            _fail("--set needs a case file to change")
        if not sys.stdin.isatty():
            _fail(
                "no case file given, and standard input is not a terminal to interview: name a case file, "
                "'-' to read the case from standard input, or run 'ddx new' for a piped interview"
            )
        new(
            out=None,
            resume=None,
            order="adaptive",
            ask_all=False,
            case_id=None,
            title=None,
            rules=rules,
            output_format=chosen,
            force=False,
        )
        return
    evaluator = evaluator_for(rules)
    if report_file is not None:
        case = _case_from_report(report_file, evaluator.pack, None, None)
    elif str(case_file) == "-":
        case = case_from_document(parse_document(read_stdin(), source="<stdin>"), evaluator.pack)
    else:
        assert case_file is not None
        case = load_case(case_file, evaluator.pack)
        if output is not None and output.exists() and output.resolve() == case_file.resolve():
            _confirm_replace(output, force, "the case file with its report")
    if what_if:
        _assess_what_if(case, what_if, evaluator, chosen, output)
        return
    report = assess_case(case, evaluator)
    if output is not None:
        _write(output, render(report, chosen, color=False))
        typer.echo(f"Report ({chosen}) written to {output}", err=True)
        return
    _print_report(report, chosen)


def _start_from_report(draft: Any, report_file: Path, pack: Any) -> tuple[Any, str]:
    """Put what a written report states into the interview's draft (as already asked), and say what it was.

    Returns the extraction and the report's name, which the saved case keeps with each sentence.
    """
    extraction, _, source = _extraction_from_report(report_file, pack)
    draft.findings.update(extraction.findings)
    draft.asked.extend(name for name in extraction.findings if name not in draft.asked)
    stated = ", ".join(f"{name}={value}" for name, value in extraction.findings.items())
    typer.echo(f"Read from {source}: {stated}", err=True)
    return extraction, source


def _format_for(output: Path | None) -> str:
    """The report format an output file's extension asks for: .md → markdown, .json → json, else text."""
    suffix = output.suffix.lower() if output is not None else ""
    return {".md": "markdown", ".markdown": "markdown", ".json": "json"}.get(suffix, "text")


def _extraction_from_report(report_file: Path, pack: Any) -> tuple[Any, str, str]:
    from ddx.extract import extract_text, read_report

    text, source = read_report(report_file)
    return extract_text(text, pack, source=source), text, source


def _case_from_report(report_file: Path, pack: Any, case_id: str | None, title: str | None) -> Any:
    """The case a report states, validated as a case file would be (so what is written loads back)."""
    from ddx.case import case_model
    from ddx.extract import case_data, case_id_for

    extraction, text, source = _extraction_from_report(report_file, pack)
    name = source if source == "<stdin>" else Path(source).name
    data = case_data(extraction, case_id or case_id_for(source), title or f"Extracted from {name}", text)
    return case_model(pack).model_validate(data)


def _assess_what_if(case: Any, changes: list[str], evaluator: Any, output_format: str, output: Path | None) -> None:
    from ddx.api import assess as assess_case
    from ddx.errors import shown
    from ddx.findings import AnswerError, parse_answer, suggest
    from ddx.regress import compare_reports
    from ddx.render import render
    from ddx.render.regress import changes_table, what_if_summary

    specs = evaluator.pack.specs
    findings = case.findings.known()
    for change in changes:
        name, separator, text = change.partition("=")
        name = name.strip()
        if not separator and name in specs:
            _fail(f"--set {name}: missing =VALUE (e.g. --set {name}=unknown)")
        if not separator or name not in specs:
            hint = suggest(name[:100], specs) if name else ""
            _fail(f"--set {shown(change)}: expected finding=value with a known finding{hint}")
        if len(text) > MAX_ANSWER_CHARACTERS:
            _fail(f"--set {name}: a value of {len(text)} characters; at most {MAX_ANSWER_CHARACTERS}")
        try:
            value = parse_answer(specs[name], text)
        except AnswerError as error:
            _fail(f"--set {name}: {error}")
        if value is None:
            findings.pop(name, None)
        else:
            findings[name] = value
    changed = case.model_copy(update={"findings": type(case.findings).model_validate(findings)})
    before, after = assess_case(case, evaluator), assess_case(changed, evaluator)
    if output is not None:  # the report of the changed case, as -o does without --set
        _write(output, render(after, output_format, color=False))  # type: ignore[arg-type]
        return
    if output_format == "text":  # the clinician's summary first; the rule author's detail after the report
        _console().print(what_if_summary(before, after, ", ".join(changes)))
    _print_report(after, output_format)
    if output_format == "text":
        short = {d: info.short_label for d, info in evaluator.pack.diagnoses.items()}
        _console().print(
            changes_table([compare_reports(before, after)], f"the saved case ({', '.join(changes)})", short)
        )


def _write(path: Path, text: str) -> None:
    """Atomically: a reader (or a crash) sees the old file or the new one, never half of one."""
    from ddx.errors import DdxInputError
    from ddx.interview import write_text_atomically

    try:
        write_text_atomically(path, text if text.endswith("\n") else text + "\n", make_parents=False)
    except OSError as error:
        raise DdxInputError(f"cannot write ({error.strerror})", source=path) from None


def _confirm_replace(path: Path, force: bool, what: str) -> None:
    """Never replace a user's file silently: --force, or a yes typed at a terminal; else exit 2."""
    if force:
        return
    if sys.stdin.isatty() and sys.stderr.isatty():
        sys.stderr.write(f"{path} exists; replace {what}? [y/N] ")
        sys.stderr.flush()
        try:
            answer = sys.stdin.readline()
        except KeyboardInterrupt:
            answer = ""
        if not answer.endswith("\n"):  # Ctrl-D or Ctrl-C: end the prompt's line before the message
            sys.stderr.write("\n")
        if answer.strip().lower() in ("y", "yes"):
            return
        _fail(f"{path}: not replaced (nothing written); choose another file or use --force")
    _fail(f"{path} exists; use --force to replace {what}, or choose another file")


@app.command()
def new(
    out: Annotated[Path | None, typer.Option("--out", help="Where to save the case (default: <id>.yaml).")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue an interrupted interview's draft.")] = None,
    order: Annotated[str, typer.Option("--order", help="adaptive (most useful question next) or fixed.")] = "adaptive",
    ask_all: Annotated[bool, typer.Option("--all", help="Ask every finding, even when nothing could change.")] = False,
    case_id: Annotated[str | None, typer.Option("--id", help="Case id (default: from --out, or a timestamp).")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Case title.")] = None,
    rules: RulesOption = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="Report format: text, markdown, json.")] = "text",
    from_report: Annotated[
        Path | None,
        typer.Option("--from-report", help="Start with what a written report states; ask only what is still useful."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out file if it exists.")] = False,
) -> None:
    """Enter a case through a guided interview that asks the most useful question next; saves a case file.

    At any prompt: an answer; finding=value (several, comma-separated) for anything already known; unknown
    (or skip, or an empty line); back; show; done; help. In a terminal the dialogue is interactive, with line
    editing and history; with answers piped in, or the report redirected (ddx new ... > report.md), prompts
    and answers go to standard error and standard output carries only the report. An existing --out file is
    replaced only with --force or after a yes at the terminal.
    """
    import signal

    from ddx.api import assess as assess_case
    from ddx.api import evaluator_for
    from ddx.errors import DdxInputError
    from ddx.interview import Interview, case_yaml, load_draft, run_interview, save_draft, write_text_atomically
    from ddx.yamlsource import check_stdin

    if order not in ("adaptive", "fixed"):
        _fail(f"--order: got {order!r}; expected adaptive or fixed")
    check_stdin()  # closed, or /dev/zero: said now, not after the first question
    evaluator = evaluator_for(rules)
    if resume is not None:
        # A resumed draft may be given a better id or title (one that a case file can hold).
        draft, draft_path = load_draft(resume, evaluator.pack, _given(case_id=case_id, title=title)), resume
    else:
        draft, draft_path = _new_draft(out, case_id, title, order, ask_all)
    if not draft.replace and Path(draft.out).exists():
        _confirm_replace(Path(draft.out), force, "the case file")
        draft.replace = True  # asked once: a resumed draft does not ask again
    extraction, source = (None, "") if from_report is None else _start_from_report(draft, from_report, evaluator.pack)
    interview = Interview(draft, evaluator)
    interactive = _stdin_is_terminal()
    dialogue = _console(stderr=_dialogue_on_stderr(interactive))

    def hang_up(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGHUP, hang_up)  # a closed terminal saves the draft like Ctrl-C does
    try:
        save_draft(draft, draft_path)
        run_interview(interview, _line_reader(interactive), dialogue.print, lambda: save_draft(draft, draft_path))
    except KeyboardInterrupt:
        save_draft(draft, draft_path)
        typer.echo(f"\nInterrupted: answers saved in {draft_path}; continue: ddx new --resume {draft_path}", err=True)
        raise typer.Exit(130) from None
    except OSError as error:
        raise DdxInputError(f"cannot save the draft ({error.strerror})", source=draft_path) from None
    case = interview.case()
    target = Path(draft.out)
    try:
        text = case_yaml(case) if extraction is None else _traced_case_yaml(case, extraction, source, evaluator.pack)
        write_text_atomically(target, text)
    except OSError as error:
        raise DdxInputError(
            f"cannot write the case file ({error.strerror}); answers kept in {draft_path}", source=target
        ) from None
    draft_path.unlink(missing_ok=True)
    _print_report(assess_case(case, evaluator), output_format)
    typer.echo(f"Case saved to {target}; assess it again with: ddx assess {target}", err=True)


def _traced_case_yaml(case: Any, extraction: Any, source: str, pack: Any) -> str:
    """An interview's case that began from a report: the report's sentences kept for the findings it stated."""
    from ddx.case import case_model
    from ddx.extract import case_yaml_text

    known = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in case.findings.known().items()}
    provenance = {
        name: entry
        for name, entry in extraction.provenance().items()
        if name not in known or ("value" in entry and entry["value"] == known[name])  # answered anew: no sentence
    }
    data = {"id": case.id, "title": case.title, "findings": known, "provenance": provenance}
    case_model(pack).model_validate(data)
    return case_yaml_text(data, source, made_by="ddx new --from-report (then the interview)")


def _new_draft(out: Path | None, case_id: str | None, title: str | None, order: str, ask_all: bool) -> tuple[Any, Path]:
    from datetime import datetime

    now = datetime.now()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    identifier = case_id or (out.stem if out is not None else f"case-{stamp}")
    target = out or Path(f"{identifier}.yaml")
    draft = _valid_draft(
        {
            "case_id": identifier,
            "title": title or f"Case entered with ddx new on {now:%d %b %Y at %H:%M}",
            "out": str(target),
            "order": "fixed" if order == "fixed" else "adaptive",
            "ask_all": ask_all,
        },
        id_from_out=case_id is None and out is not None,
    )
    return draft, target.with_name(target.name + ".draft")


def _given(**options: str | None) -> dict[str, str]:
    return {key: value for key, value in options.items() if value is not None}


def _valid_draft(data: dict[str, Any], *, id_from_out: bool = False) -> Any:
    """A draft whose id and title a case file can hold, or a one-line error naming the option — before
    the first question, so no answer is ever asked for a case that cannot be saved."""
    from pydantic import ValidationError

    from ddx.errors import shown
    from ddx.interview import Draft

    try:
        return Draft.model_validate(data)
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        field = str(detail["loc"][0]) if detail["loc"] else ""
        option = {"case_id": "--id", "title": "--title"}.get(field, f"--{field}")
        given = detail.get("input")
        if field == "case_id":
            expected = "letters, digits, '.', '_' and '-' (starting with a letter or digit), at most 200"
            hint = " (the id comes from --out's file name; give --id)" if id_from_out else ""
            _fail(f"{option}: got {shown(given)}; expected {expected}{hint}")
        _fail(f"{option}: got {shown(given)}; {detail['msg']}")


MAX_ANSWER_CHARACTERS = 1_000


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def _wrap_prompt(prompt: str, stream: Any) -> tuple[str, str]:
    """A prompt wider than the terminal, wrapped between words: (lines to print first, the last line to ask with).

    The terminal would otherwise break it mid-word (``(trauma_his`` / ``tory, …``); readline needs the prompt
    itself on one line.
    """
    import textwrap

    try:
        width = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return "", prompt
    if len(prompt) < width:
        return "", prompt
    lines = textwrap.wrap(prompt, width=width - 1, break_long_words=False, break_on_hyphens=False)
    return "".join(line + "\n" for line in lines[:-1]), lines[-1] + " "


def _dialogue_on_stderr(interactive: bool) -> bool:
    """Prompts and replies go to standard error when answers are piped in or the report is redirected."""
    return not (interactive and sys.stdout.isatty())


def _line_reader(interactive: bool) -> Any:
    from ddx.display import printable
    from ddx.errors import DdxInputError

    if interactive:
        with contextlib.suppress(ImportError):  # line editing and history at every prompt, as in a shell
            import readline  # noqa: F401

    def read_line(prompt: str) -> str:
        if interactive and (sys.stdout.isatty() or sys.stderr.isatty()):
            head, prompt = _wrap_prompt(prompt, sys.stdout if sys.stdout.isatty() else sys.stderr)
            (sys.stdout if sys.stdout.isatty() else sys.stderr).write(head)
        if interactive and sys.stdout.isatty():
            return input(prompt)
        if interactive and sys.stderr.isatty():
            # `ddx new > report.md`: ask on the terminal (standard error), with line editing, so only the
            # report goes to the file. input() edits lines only when standard output is a terminal, so
            # standard output points at the terminal for the length of one prompt.
            sys.stdout.flush()
            saved = os.dup(1)
            try:
                os.dup2(2, 1)
                return input(prompt)
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
                os.close(saved)
        sys.stderr.write(prompt)  # the prompt first, so a program answering through a pipe can read it
        sys.stderr.flush()
        if sys.stdin is None:
            raise EOFError
        line = sys.stdin.readline(MAX_ANSWER_CHARACTERS + 1)  # bounded: a stream without newlines cannot hang
        if line == "":
            sys.stderr.write("\n")
            raise EOFError
        if len(line) > MAX_ANSWER_CHARACTERS and not line.endswith("\n"):
            sys.stderr.write("\n")
            raise DdxInputError(f"an answer longer than {MAX_ANSWER_CHARACTERS} characters", source="<stdin>")
        sys.stderr.write(printable(line.rstrip("\n")) + "\n")  # and the answer, for a readable transcript
        return line

    return read_line


def _console(*, stderr: bool = False) -> Any:
    """Every terminal console the CLI prints through."""
    from collections.abc import Iterable

    from rich.segment import Segment

    from ddx.render.console import SafeConsole

    class CliConsole(SafeConsole):
        def _render_buffer(self, buffer: Iterable[Segment]) -> str:
            text = super()._render_buffer(buffer)
            if self.is_terminal:
                return text
            return "\n".join(line.rstrip() for line in text.split("\n"))  # a file gets no padding at line ends

        def on_broken_pipe(self) -> None:
            # rich would exit with status 1; a reader that stops early (`ddx ... | head`) is main()'s call.
            self.quiet = True
            raise BrokenPipeError

    return CliConsole(highlight=False, stderr=stderr)


def _print_report(report: Any, output_format: str) -> None:
    from ddx.render import render

    if output_format == "text":
        from ddx.render.text import render_text, report_renderables

        console = _console()
        if not console.is_terminal:  # a file or a pipe: the same layout, without padding at line ends
            typer.echo(render_text(report, color=False, width=console.width), nl=False)
            return
        for part in report_renderables(report, console.width):
            console.print(part)
    else:
        typer.echo(render(report, output_format))  # type: ignore[arg-type]


@app.command()
def extract(
    report_file: Annotated[Path, typer.Argument(help="The report: plain UTF-8 text; '-' reads standard input.")],
    output_format: Annotated[str, typer.Option("--format", "-f", help="Case file format: yaml or json.")] = "yaml",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the case file here.")] = None,
    case_id: Annotated[str | None, typer.Option("--id", help="Case id (default: from the file name).")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Case title.")] = None,
    rules: RulesOption = None,
) -> None:
    """Read a written report into a case file: the findings it states, each traced to its sentence.

    Negated findings are read as absent; hypothetical and uncertain mentions, and a discussion's or a
    differential's general statements, never become findings; conflicting mentions leave a finding unknown.
    """
    import json

    from ddx.api import pack_for

    if output_format not in ("yaml", "json"):
        _fail(f"--format: got {output_format!r}; expected yaml or json")
    pack = pack_for(rules)
    case = _case_from_report(report_file, pack, case_id, title)
    dumped = case.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    known = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in case.findings.known().items()}
    data = {"id": case.id, "title": case.title, "findings": known, "provenance": dumped.get("provenance", {})}
    if case.description:
        data["description"] = case.description
    if output_format == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False)
    else:
        from ddx.extract import case_yaml_text

        text = case_yaml_text(data, "standard input" if str(report_file) == "-" else str(report_file))
    if output is None:
        typer.echo(text.rstrip("\n"))
    else:
        _write(output, text)
        typer.echo(f"Case saved to {output}; assess it with: ddx assess {output}", err=True)


@app.command()
def schema(rules: RulesOption = None) -> None:
    """Print the JSON Schema of a case file (for editors and validators), generated from the vocabulary."""
    import json

    from ddx.api import pack_for
    from ddx.case import case_model

    document = case_model(pack_for(rules)).model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "ddx case file"
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


@app.command()
def regress(
    target: Annotated[Path, typer.Argument(help="A case file or a folder of cases.")] = Path("cases"),
    rules: RulesOption = None,
    against: Annotated[
        str | None,
        typer.Option("--against", help="A git ref (e.g. HEAD) or a second rules folder: show what moved."),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Also write JUnit XML here (for CI).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON instead of tables.")] = False,
    coverage: Annotated[bool, typer.Option("--coverage", help="Show which curated cases each rule fires on.")] = False,
    snapshots: Annotated[
        Path | None,
        typer.Option("--snapshots", help="Compare each case's full JSON report with DIR/<case>.json."),
    ] = None,
    update: Annotated[bool, typer.Option("--update", help="With --snapshots: rewrite the snapshots.")] = False,
) -> None:
    """Run every curated case's expectations; exit 1 if any fails (or a snapshot differs)."""
    import json

    from ddx.api import evaluator_for
    from ddx.regress import (
        case_paths,
        junit_xml,
        rule_coverage,
        run_regression,
        run_summary,
        snapshot_changes,
        write_snapshots,
    )
    from ddx.render.regress import changes_table, coverage_table, results_table, snapshot_changes_view

    if update and snapshots is None:
        _fail("--update needs --snapshots DIR")
    paths = case_paths(target)
    if not paths:
        _fail(f"{target}: no case files (*.yaml, *.yml, *.json) found")
    evaluator = evaluator_for(rules)
    run = run_regression(paths, evaluator)
    cover = rule_coverage(run, list(evaluator.pack.firing_ids))
    changes, skipped = (None, []) if against is None else _changes_against(against, rules, paths, run)
    stale: list[str] = []
    snapshot_diffs: list[Any] = []
    if snapshots is not None and update:
        stale = write_snapshots(run, snapshots)
    elif snapshots is not None:
        snapshot_diffs = snapshot_changes(run, snapshots)
        stale = [change.case_id for change in snapshot_diffs]
    if junit is not None:
        _write(junit, junit_xml(run))
    failed = len(run.failed) + (0 if update else len(stale))
    if as_json:
        summary = run_summary(run, cover, changes, skipped)
        summary["stale_snapshots"] = [] if update else stale
        summary["snapshot_changes"] = [
            {"case_id": c.case_id, "kinds": list(c.kinds), "diff": c.diff} for c in snapshot_diffs
        ]
        typer.echo(json.dumps(summary, indent=2))
    else:
        console = _console()
        if changes is not None:  # what moved first: it is what the author changed the rules for
            short = {d: info.short_label for d, info in evaluator.pack.diagnoses.items()}
            console.print(changes_table(changes, against or "", short, skipped))
        console.print(results_table(run, console.width))
        if coverage:
            console.print(coverage_table(cover, console.width))
        uncovered = [rule_id for rule_id, cases in cover.items() if not cases]
        console.print(
            f"Rules exercised by curated cases: {len(cover) - len(uncovered)} of {len(cover)}"
            + (f"; not exercised: {', '.join(uncovered)}" if uncovered else "")
        )
        if snapshots is not None and stale and update:
            console.print(f"Snapshots updated: {', '.join(stale)}")
        if snapshot_diffs:
            console.print(snapshot_changes_view(snapshot_diffs, str(snapshots)), soft_wrap=True)
        console.print(f"{len(run.results) - len(run.failed)} passed, {len(run.failed)} failed")
    if failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
def validate(
    target: Annotated[
        Path, typer.Argument(help="A folder of validation cases (case files with a reference block).")
    ] = Path("validation"),
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="Output format: text, markdown or json.")
    ] = "text",
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw the reliability diagram and confusion matrix here (needs ddx[plot])."),
    ] = None,
    rules: RulesOption = None,
) -> None:
    """Measure the ranking on real published cases: accuracy, log loss, Brier, calibration, malignancy safety.

    Reports only; the exit code is 0 whatever the figures (2 for bad input).
    """
    import json

    from ddx.api import evaluator_for
    from ddx.render.validate import plot_validation, require_matplotlib, validation_markdown, validation_renderables
    from ddx.validate import load_validation_cases, summary, validate

    if output_format not in ("text", "markdown", "json"):
        _fail(f"--format: got {output_format!r}; expected one of text, markdown, json")
    if plot is not None:
        require_matplotlib()  # before the run, so a missing extra costs nothing
    evaluator = evaluator_for(rules)
    result = summary(validate(load_validation_cases(target, evaluator.pack), evaluator))
    if output_format == "json":
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    elif output_format == "markdown":
        typer.echo(validation_markdown(result))
    else:
        console = _console()
        for part in validation_renderables(result):
            console.print(part)
    if plot is not None:
        plot_validation(result, plot)
        typer.echo(f"Plot written to {plot}", err=True)


def _changes_against(against: str, rules: Path | None, paths: list[Path], run: Any) -> tuple[Any, Any]:
    """What moved between the rules of ``against`` (a folder or a git ref of the current repository) and now,
    and the cases only one of the two could assess."""
    import tempfile

    from ddx.evaluate import Evaluator
    from ddx.regress import compare_runs, not_compared, rules_at, run_regression
    from ddx.rulepack import default_rules_dir, load_rule_pack

    with tempfile.TemporaryDirectory(prefix="ddx-against-") as workdir:
        old_rules = rules_at(against, rules or default_rules_dir(), Path(workdir))
        old_evaluator = Evaluator(load_rule_pack(old_rules))
        try:
            before = run_regression(paths, old_evaluator)
            return compare_runs(before, run), not_compared(before, run)
        finally:
            old_evaluator.close()


rules_app = typer.Typer(help="Inspect, document and lint the rule pack.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def rules_list(rules: RulesOption = None) -> None:
    """The pack as a table: id, effects, condition, file:line."""

    from ddx.render.rules import rules_table
    from ddx.rulepack import load_rule_pack

    console = _console()
    console.print(rules_table(load_rule_pack(rules), console.width))


@rules_app.command("show")
def rules_show(
    rule_id: Annotated[str, typer.Argument(help="Rule id (see ddx rules list).")],
    rules: RulesOption = None,
    cases: Annotated[Path, typer.Option("--cases", help="Curated cases to look for firings in.")] = Path("cases"),
) -> None:
    """One rule: what it does, why, its examples, the curated cases it fires on, its references."""
    from rich.markdown import Markdown

    from ddx.api import evaluator_for
    from ddx.display import printable
    from ddx.errors import shown
    from ddx.findings import suggest
    from ddx.regress import case_paths, cases_firing
    from ddx.render.rules import rule_markdown

    evaluator = evaluator_for(rules)
    pack = evaluator.pack
    if rule_id not in pack.by_id:
        _fail(f"no rule {shown(rule_id)}{suggest(rule_id[:100], pack.by_id)}; see 'ddx rules list'")
    fired_on = None
    if cases.exists():
        fired_on = cases_firing(case_paths(cases), evaluator, rule_id)
    text = rule_markdown(pack, pack.by_id[rule_id], fired_on, explain_status=True)
    console = _console()
    if console.is_terminal:
        console.print(Markdown(text))
    else:
        typer.echo(printable(text))


@rules_app.command("findings")
def rules_findings(
    names: Annotated[list[str] | None, typer.Argument(help="Only these findings (default: all).")] = None,
    rules: RulesOption = None,
) -> None:
    """The finding vocabulary: each finding's type, range, values and meanings, section, applies_when, readers."""
    from ddx.api import pack_for
    from ddx.findings import suggest
    from ddx.render.rules import vocabulary_markdown

    pack = pack_for(rules)
    for name in names or []:
        if name not in pack.specs:
            _fail(f"no finding '{name}'{suggest(name, pack.specs)}; see 'ddx rules findings'")
    text = vocabulary_markdown(pack, names)
    console = _console()
    if console.is_terminal:
        from rich.markdown import Markdown

        console.print(Markdown(text))
    else:
        typer.echo(text, nl=False)


@rules_app.command("lint")
def rules_lint(rules: RulesOption = None) -> None:
    """Check the pack; print file:line for each problem and exit 1 if there is any."""
    from ddx.lint import lint_rules

    pack, problems = lint_rules(rules)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(f"{len(problems)} problem(s)", err=True)
        raise typer.Exit(EXIT_CHECK_FAILED)
    assert pack is not None
    typer.echo(f"{len(pack.rules)} rules, {len(pack.specs)} findings, {len(pack.sources)} sources: no problems")


@rules_app.command("docs")
def rules_docs(rules: RulesOption = None) -> None:
    """Print docs/rules.md, generated from the rule files."""
    from ddx.render.rules import pack_markdown
    from ddx.rulepack import load_rule_pack

    typer.echo(pack_markdown(load_rule_pack(rules)), nl=False)


quiz_app = typer.Typer(
    help="Teaching quizzes: rank, justify and compare your reasoning with the engine's, point by point.",
    invoke_without_command=True,
)
app.add_typer(quiz_app, name="quiz")
DbOption = Annotated[Path | None, typer.Option("--db", help="Quiz database (default: in your user data directory).")]
CasesOption = Annotated[Path, typer.Option("--cases", help="Curated cases folder.")]


def _default_cases() -> Path:
    local = Path("cases")
    if local.is_dir():
        return local
    from ddx.rulepack import default_rules_dir

    return default_rules_dir().parent / "cases"


def _case_by_id(cases: Path, case_id: str, pack: Any, *, cited_in: Any = None) -> Any:
    """The curated case with this id; ``cited_in`` (a loaded answers file) lets the error name its line."""
    from ddx.case import discover_case_files, load_case
    from ddx.errors import DdxInputError, shown
    from ddx.findings import suggest

    paths = {path.stem: path for path in discover_case_files(cases)} if cases.is_dir() else {}
    if case_id not in paths:
        message = f"no case {shown(case_id)} in {cases}{suggest(case_id[:100], paths)}"
        if cited_in is not None:
            raise DdxInputError(message, source=cited_in.source, line=cited_in.line_of(("case",)), field="case")
        _fail(message)
    return load_case(paths[case_id], pack)


@quiz_app.callback(invoke_without_command=True)
def quiz(
    context: typer.Context,
    case_id: Annotated[str | None, typer.Option("--case", help="Quiz on this curated case.")] = None,
    pick_random: Annotated[bool, typer.Option("--random", help="Quiz on a random curated case.")] = False,
    case_set: Annotated[Path | None, typer.Option("--set", help="A YAML list of case ids to draw from.")] = None,
    student: Annotated[str | None, typer.Option("--student", help="Who is answering.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted quiz.")] = False,
    db: DbOption = None,
    cases: CasesOption = Path("cases"),
    rules: RulesOption = None,
) -> None:
    """Take a quiz (the default when no subcommand is given)."""
    if context.invoked_subcommand is not None:
        return
    import random

    from ddx.api import evaluator_for
    from ddx.quiz.session import QuizSession, engine_snapshot, run_quiz
    from ddx.quiz.store import QuizStore, default_db_path
    from ddx.render.quiz import grade_renderables
    from ddx.yamlsource import check_stdin

    check_stdin()  # first: a file opened later could take a closed standard input's descriptor
    cases = cases if cases.is_dir() else _default_cases()
    store = QuizStore(db or default_db_path())
    evaluator = evaluator_for(rules)
    interactive = _stdin_is_terminal()
    read_line = _line_reader(interactive)
    dialogue = _console(stderr=_dialogue_on_stderr(interactive))
    if resume:
        unfinished = store.unfinished(student)
        if not unfinished:
            _fail(f"no unfinished quiz{' for ' + student if student else ''} in {store.path}")
        attempt = unfinished[-1]
        session = QuizSession(
            _case_by_id(cases, attempt.case_id, evaluator.pack), evaluator, attempt.student, attempt.answers
        )
        attempt_id = attempt.id
    else:
        if case_set is not None:
            case_id = random.choice(_case_set(case_set))
        elif pick_random or case_id is None:
            from ddx.case import discover_case_files

            case_id = random.choice([p.stem for p in discover_case_files(cases)])
        case = _case_by_id(cases, case_id, evaluator.pack)
        name = student or read_line("Your name: ").strip()
        if not name:
            _fail("--student: a name is needed to keep your attempts")
        session = QuizSession(case, evaluator, name)
        pack = evaluator.pack
        stamp = {"name": pack.info.name, "version": pack.info.version, "digest": pack.digest}
        attempt_id = store.start(name, case.id, stamp, engine_snapshot(case, evaluator, session.items))
    try:
        result = run_quiz(session, store, attempt_id, read_line, dialogue.print)
    except KeyboardInterrupt:
        typer.echo(
            f"\nStopped: your answers are kept; continue with: ddx quiz --resume --student {session.student}", err=True
        )
        raise typer.Exit(130) from None
    if result is None:
        typer.echo(
            f"Stopped: your answers are kept; continue with: ddx quiz --resume --student {session.student}", err=True
        )
        raise typer.Exit(EXIT_OK)
    console = _console()
    for part in grade_renderables(result, session.labels):
        console.print(part)


@quiz_app.command("grade")
def quiz_grade(
    answers_file: Annotated[Path, typer.Argument(help="An answers file (see examples/quiz-answers-reference.yaml).")],
    output_format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    cases: CasesOption = Path("cases"),
    save: Annotated[bool, typer.Option("--save", help="Also keep it as an attempt in the database.")] = False,
    db: DbOption = None,
    rules: RulesOption = None,
) -> None:
    """Grade an answers file without the interactive quiz; the same breakdown as an interactive attempt."""
    from pydantic import ValidationError

    from ddx.api import evaluator_for
    from ddx.case import check_limits, validation_error_to_input_error
    from ddx.errors import DdxInputError
    from ddx.quiz.grading import grade
    from ddx.quiz.items import items_for_case
    from ddx.quiz.model import Answers
    from ddx.quiz.session import case_diagnoses, engine_snapshot
    from ddx.quiz.store import QuizStore, default_db_path
    from ddx.render.quiz import grade_renderables
    from ddx.yamlsource import load_document

    if output_format not in ("text", "json"):
        _fail(f"--format: got {output_format!r}; expected text or json")
    document = load_document(answers_file)
    if not isinstance(document.data, dict):
        _fail(f"{answers_file}:1: expected a mapping with student, case, ranking, ...")
    check_limits(document.data, document)
    evaluator = evaluator_for(rules)
    named = document.data.get("case")
    if not isinstance(named, str) or not named:
        raise DdxInputError("is required: the curated case's id", source=answers_file, line=1, field="case")
    case = _case_by_id(cases if cases.is_dir() else _default_cases(), named, evaluator.pack, cited_in=document)
    ranked = case_diagnoses(case, evaluator)
    try:
        answers = Answers.model_validate(document.data, context={"pack": evaluator.pack, "diagnoses": ranked})
    except ValidationError as error:
        raise validation_error_to_input_error(error, document, model_name="answers") from None
    try:
        result = grade(answers, case, evaluator)
    except DdxInputError as error:  # name the answers file and the line of the offending answer
        location = tuple(error.field.split(".")) if error.field else ()
        raise DdxInputError(
            error.message, source=answers_file, line=document.line_of(location), field=error.field
        ) from None
    if save:
        store = QuizStore(db or default_db_path())
        pack = evaluator.pack
        stamp = {"name": pack.info.name, "version": pack.info.version, "digest": pack.digest}
        store.save_graded(
            student=answers.student,
            case_id=case.id,
            rule_pack=stamp,
            engine=engine_snapshot(case, evaluator, items_for_case(case, pack)),
            question="answers file",
            answer=str(answers_file),
            answers=answers.model_dump(mode="json"),
            grade=result,
        )
    if output_format == "json":
        typer.echo(result.model_dump_json(indent=2))
        return
    labels = {d: info.label for d, info in evaluator.pack.diagnoses.items()}
    console = _console()
    for part in grade_renderables(result, labels):
        console.print(part)


@quiz_app.command("history")
def quiz_history(
    student: Annotated[str | None, typer.Option("--student", help="Only this student's attempts.")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the attempts as CSV here.")] = None,
    db: DbOption = None,
) -> None:
    """Attempts, oldest first, with their scores."""
    from ddx.quiz.report import attempts_csv
    from ddx.quiz.store import QuizStore, default_db_path
    from ddx.render.quiz import history_table

    store = QuizStore(db or default_db_path())
    attempts = store.attempts(student)
    if csv_file is not None:
        _write(csv_file, attempts_csv(attempts))
    console = _console()
    console.print(
        history_table(attempts, f"Quiz attempts{' of ' + student if student else ''} ({store.path})", console.width)
    )


@quiz_app.command("report")
def quiz_report(
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write these summaries as CSV here (a 'table' column each).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Progress per student and per case, and the most common misconceptions by rule."""
    from rich.table import Table

    from ddx.quiz.report import progress, summary_csv
    from ddx.quiz.store import QuizStore, default_db_path

    store = QuizStore(db or default_db_path())
    attempts = store.attempts()
    if csv_file is not None:
        _write(csv_file, summary_csv(attempts, store.misconception_counts()))
    console = _console()
    for key, title in (("student", "Per student"), ("case_id", "Per case")):
        table = Table(title=title, title_justify="left")
        for column in (title.split()[-1].capitalize(), "Attempts", "Mean", "First", "Last", "Change", "Scores"):
            table.add_column(column)
        for row in progress(attempts, key):
            table.add_row(
                row.group,
                str(row.attempts),
                f"{row.mean_score:.0f}",
                f"{row.first_score:.0f}",
                f"{row.last_score:.0f}",
                f"{row.change:+.0f}",
                " → ".join(f"{s:.0f}" for s in row.scores),
            )
        console.print(table)
    table = Table(title="Most common misconceptions", title_justify="left")
    for column in ("Rule", "Finding", "Times"):
        table.add_column(column)
    for rule_id, finding, count in store.misconception_counts()[:15]:
        table.add_row(rule_id, finding, str(count))
    console.print(table)


@quiz_app.command("export")
def quiz_export(
    export_format: Annotated[str, typer.Option("--format", "-f", help="moodle-xml or gift.")] = "moodle-xml",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of standard output.")
    ] = None,
    cases: CasesOption = Path("cases"),
    case_ids: Annotated[
        list[str] | None, typer.Option("--case", help="Only this curated case (repeatable; default: all).")
    ] = None,
    case_set: Annotated[Path | None, typer.Option("--set", help="Only the case ids in this YAML list.")] = None,
    rules: RulesOption = None,
) -> None:
    """Write curated cases' quiz items for an LMS (Moodle XML or GIFT): only questions with a determinate answer."""
    from ddx.api import evaluator_for
    from ddx.case import discover_case_files, load_case
    from ddx.quiz.export import gift, moodle_xml, questions_for

    if export_format not in ("moodle-xml", "gift"):
        _fail(f"--format: got {export_format!r}; expected moodle-xml or gift")
    evaluator = evaluator_for(rules)
    folder = cases if cases.is_dir() else _default_cases()
    chosen = list(case_ids or [])
    if case_set is not None:
        chosen += _case_set(case_set)
    selected = [_case_by_id(folder, case_id, evaluator.pack) for case_id in chosen] or [
        load_case(path, evaluator.pack) for path in discover_case_files(folder)
    ]
    questions = [q for case in selected for q in questions_for(case, evaluator)]
    text = moodle_xml(questions) if export_format == "moodle-xml" else gift(questions)
    if output is None:
        typer.echo(text, nl=False)
    else:
        _write(output, text)
    typer.echo(f"{len(questions)} questions from {len(selected)} cases", err=True)


def _case_set(path: Path) -> list[str]:
    from ddx.yamlsource import load_document

    listed = load_document(path).data
    if not isinstance(listed, list) or not listed or not all(isinstance(x, str) for x in listed):
        _fail(f"{path}: expected a YAML list of case ids")
    return list(listed)


def _app_for(args: list[str]) -> typer.Typer:
    """The app that runs ``ddx ARGS``: for a known command, one that holds only it (and the root options).

    Typer reads every command's signature and builds its options before it parses anything (about 15 ms
    for ddx's commands); a run needs only its own. Help, no command or a misspelt one get the whole app.
    """
    first = args[0] if args else ""
    commands = [
        info
        for info in app.registered_commands
        if info.callback is not None and (info.name or info.callback.__name__.replace("_", "-")) == first
    ]
    groups = [info for info in app.registered_groups if info.name == first]
    if not commands and not groups:
        return app
    single = typer.Typer(**_APP_SETTINGS)
    single.registered_callback = app.registered_callback
    single.registered_commands = commands
    single.registered_groups = groups
    return single


def main() -> None:
    """Console-script entry point: one-line errors, never a traceback."""
    from ddx.errors import DdxInputError

    try:
        code = _app_for(sys.argv[1:])(standalone_mode=False, prog_name="ddx")
    except typer.Exit as done:
        code = done.exit_code
    except DdxInputError as error:
        from ddx.display import one_line

        typer.echo(f"ddx: error: {one_line(str(error))}", err=True)
        code = EXIT_BAD_INPUT
    except typer.Abort:
        typer.echo("ddx: interrupted", err=True)
        code = 130
    except typer.TyperException as error:  # usage errors: unknown option, missing argument, bad value
        if type(error).__name__ == "NoArgsIsHelpError":  # bare 'ddx': show help, as --help would
            typer.echo(error.format_message())
            sys.exit(EXIT_OK)
        message = " ".join(error.format_message().split())
        typer.echo(f"ddx: error: {message} (see 'ddx --help')", err=True)
        code = EXIT_BAD_INPUT
    except KeyboardInterrupt:
        typer.echo("ddx: interrupted", err=True)
        code = 130
    except BrokenPipeError:
        # The reader stopped early (`ddx ... | head`): not an error. Standard output is pointed at
        # /dev/null so the interpreter's last flush does not fail again (the recipe in the signal docs).
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    except OSError as error:  # the system refused: a full disk, an unreadable file, a closed stream
        code = _io_failure(error)
    except Exception as error:  # a bug in ddx: still one line, and the traceback only on request
        if os.environ.get("DDX_DEBUG"):
            raise
        typer.echo(
            f"ddx: internal error: {type(error).__name__}: {' '.join(str(error).split())[:300]} "
            "(a bug in ddx, not in your input; set DDX_DEBUG=1 for the traceback)",
            err=True,
        )
        code = EXIT_INTERNAL_ERROR
    try:  # what is still buffered: a full disk must be reported here, not by the interpreter at exit
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as error:
        code = _io_failure(error)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _io_failure(error: OSError) -> int:
    """One line for an I/O failure the system reported; standard output is then pointed at /dev/null so
    the interpreter's last flush cannot fail again."""
    import errno

    if error.errno == errno.EPIPE:
        code = EXIT_OK  # the reader stopped early (`ddx ... | head`): not an error
    else:
        where = f"{error.filename}: " if error.filename else ""
        reason = error.strerror or type(error).__name__
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"ddx: error: {where}cannot complete the input or output ({reason})\n")
            sys.stderr.flush()
        code = EXIT_BAD_INPUT
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


if __name__ == "__main__":
    main()
