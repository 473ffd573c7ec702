"""The ``ddx`` command: parse arguments, call the library, choose a renderer, map errors to exit codes.

Exit codes: 0 success; 1 a check failed (regressions); 2 bad input (file, YAML, validation, arguments);
3 an internal error (a bug in ddx, reported in one line; ``DDX_DEBUG=1`` shows the traceback).
Every error is one line on standard error, ``ddx: error: <file>:<line>: <field>: <what was expected>``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    name="ddx",
    help="Rule-based differential diagnosis of ossified lesions at the ischial tuberosity "
    "(avulsion, myositis ossificans, sarcoma). Decision support for clinicians, not a diagnosis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL_ERROR = 0, 1, 2, 3

RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Rules folder (default: the shipped pack).", file_okay=False),
]


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"ddx: error: {message}", err=True)
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
    case_file: Annotated[Path, typer.Argument(help="Case file (YAML or JSON); '-' reads standard input.")],
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="Output format: text, markdown or json.")
    ] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    rules: RulesOption = None,
) -> None:
    """Rank the differential for one case and explain every choice."""
    from ddx.api import assess as assess_case
    from ddx.api import evaluator_for
    from ddx.case import case_from_document, load_case
    from ddx.render import FORMATS, render
    from ddx.yamlsource import parse_document

    if output_format not in FORMATS:
        _fail(f"--format: got {output_format!r}; expected one of {', '.join(FORMATS)}")
    if str(case_file) == "-":
        case = case_from_document(parse_document(sys.stdin.buffer.read(), source="<stdin>"))
    else:
        case = load_case(case_file)
    report = assess_case(case, evaluator_for(rules))
    if output is not None:
        text = render(report, output_format, color=False)
        _write(output, text)
        return
    if output_format == "text":
        from rich.console import Console

        from ddx.render.text import report_renderables

        console = Console(highlight=False)
        for part in report_renderables(report):
            console.print(part)
        return
    typer.echo(render(report, output_format))


def _write(path: Path, text: str) -> None:
    from ddx.errors import DdxInputError

    try:
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as error:
        raise DdxInputError(f"cannot write ({error.strerror})", source=path) from None


@app.command()
def schema() -> None:
    """Print the JSON Schema of a case file (for editors and validators)."""
    import json

    from ddx.case import Case

    document = Case.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "ddx case file"
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


@app.command()
def regress(
    target: Annotated[Path, typer.Argument(help="A case file or a folder of cases.")] = Path("cases"),
    rules: RulesOption = None,
) -> None:
    """Run every curated case's expectations; exit 1 if any fails."""
    from rich.console import Console
    from rich.table import Table

    from ddx.api import evaluator_for
    from ddx.regress import case_paths, run_regression

    paths = case_paths(target)
    if not paths:
        _fail(f"{target}: no case files (*.yaml, *.yml, *.json) found")
    run = run_regression(paths, evaluator_for(rules))
    table = Table(title=f"Regression: {len(run.results)} cases", title_justify="left")
    table.add_column("Result", no_wrap=True)
    table.add_column("Case")
    table.add_column("Top", no_wrap=True)
    table.add_column("Details")
    for result in run.results:
        if result.error is not None:
            status, details = "[red]ERROR[/red]", result.error
        elif not result.checked:
            status, details = "[dim]no expect[/dim]", ""
        elif result.failures:
            status, details = "[red]FAIL[/red]", "\n".join(result.failures)
        else:
            status, details = "[green]pass[/green]", ""
        top = (
            ""
            if result.report is None
            else (f"{result.report.top.diagnosis} {result.report.top.probability:.0%}")
        )
        table.add_row(status, result.case_id, top, details)
    console = Console(highlight=False)
    console.print(table)
    failed = len(run.failed)
    console.print(f"{len(run.results) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def main() -> None:
    """Console-script entry point: one-line errors, never a traceback."""
    from ddx.errors import DdxInputError

    try:
        code = app(standalone_mode=False)
    except typer.Exit as done:
        code = done.exit_code
    except DdxInputError as error:
        typer.echo(f"ddx: error: {error}", err=True)
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
        code = EXIT_OK
    except Exception as error:  # a bug in ddx: still one line, and the traceback only on request
        if os.environ.get("DDX_DEBUG"):
            raise
        typer.echo(
            f"ddx: internal error: {type(error).__name__}: {' '.join(str(error).split())[:300]} "
            "(a bug in ddx, not in your input; set DDX_DEBUG=1 for the traceback)",
            err=True,
        )
        code = EXIT_INTERNAL_ERROR
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
