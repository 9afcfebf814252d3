"""``kubeproof report FILE.json...``: render saved JSON reports in any format.

Exit codes as for scan: 0, 1 when a finding is at or above ``--fail-on``,
2 when a file is not a readable kubeproof JSON report (the others are
rendered; when none is, the errors are printed once and no report) or the
original run had input errors.
"""

from __future__ import annotations

import sys

import click

from kubeproof.cli.common import (
    FORMATS,
    SEVERITIES,
    _write_reports,
    check_outputs,
    echo,
    fail_threshold,
    print_problems,
    text_options,
)
from kubeproof.core.result import exit_code
from kubeproof.reports.from_json import NoReportError, load_reports


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False,
                                                                     allow_dash=True))
@click.option("--format", "-f", "formats", multiple=True, type=click.Choice(FORMATS),
              help="Report format; repeat for several (pair each with --output) [default: text].")
@click.option("--output", "-o", "outputs", multiple=True, type=click.Path(dir_okay=False),
              help="File for the report of the --format in the same position.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="high", show_default=True,
              help="Lowest severity that makes the exit code 1.")
@click.option("--no-color", is_flag=True, help="No colours in the text report.")
@click.option("--quiet", "-q", is_flag=True,
              help="Text report: the 'fix these first' summary and the counts, no findings.")
@text_options
def report(reports: tuple[str, ...], formats: tuple[str, ...], outputs: tuple[str, ...],
           fail_on: str, no_color: bool, quiet: bool, group_by: str | None,
           show_all: bool) -> None:
    """Render JSON reports of scan or audit (merged when several) in any format.

    Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it;
    2 usage error, a file that is not a readable kubeproof JSON report (the
    others are rendered; none readable: the errors once, no report), or the
    original run had input errors.
    """
    check_outputs(formats, outputs)
    try:
        result = load_reports(list(reports), require_one=True)
    except NoReportError as exc:
        for err in exc.errors:
            echo(err, err=True)
        sys.exit(2)
    print_problems(result)
    _write_reports(result, formats or ("text",), outputs, color=not no_color, quiet=quiet,
                   group_by=group_by or "rule", show_all=show_all)
    sys.exit(exit_code(result, fail_threshold(fail_on)))
