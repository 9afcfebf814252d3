"""What every command of the CLI shares: the error exit, report and config options,
thresholds and writing the reports.

The commands import these from here, not from :mod:`kubeproof.cli.main` (which
loads the commands), so that no command module and the group import each other.
This module is imported by ``kubeproof --version``: what it needs of the rest of
the package it imports inside the function that needs it, each with its cost.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from typing import Any, NoReturn

import click

from kubeproof import reports
from kubeproof.util.terminal import safe


def echo(line: object, err: bool = False) -> None:
    """Print one line of data-bearing text, escaped (``click.echo`` otherwise)."""
    click.echo(safe(line), err=err)


FORMATS = ("text", "json", "sarif", "junit", "html", "codequality", "policyreport")
SEVERITIES = ("critical", "high", "medium", "low", "info", "none")
GROUP_BY = ("rule", "file")  # as reports.text.GROUP_BY (not imported: scan starts fast)


def _split(values: tuple[str, ...]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def fail(message: str) -> NoReturn:
    """End a command with one error line and exit code 2 (every command uses it)."""
    echo(f"kubeproof: error: {message}", err=True)
    sys.exit(2)


def check_outputs(formats: tuple[str, ...], outputs: tuple[str, ...]) -> None:
    """At most one report on stdout: every --format but one needs its --output."""
    if len(outputs) > max(len(formats), 1):
        fail("more --output files than --format options")
    to_stdout = sum(1 for i in range(max(len(formats), 1))
                    if i >= len(outputs) or outputs[i] == "-")
    if to_stdout > 1:
        fail("several --format options would write to stdout: give each but one an --output "
             "file (-f json -o report.json -f sarif -o report.sarif)")


def require_paths(paths: tuple[str, ...] | list[str]) -> None:
    """End the command (exit 2, no report) when a path given does not exist."""
    for p in paths:
        if p != "-" and not os.path.lexists(p):
            fail(f"{p}: no such file or directory")


class FiniteFloatRange(click.FloatRange):
    """A bounded float option that also refuses ``nan`` and infinities: ``nan``
    passes every comparison, so click's own range check lets it through."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


# Upper bounds of numeric options: beyond them a value is a typo, and would
# overflow (a file size in bytes), sleep for ages or start a process per unit.
MAX_FILE_SIZE_MIB = 4096
MAX_JOBS = 256
MAX_TIMEOUT_S = 86_400.0


REPORT_OPTIONS = (
    click.option("--format", "-f", "formats", multiple=True, type=click.Choice(FORMATS),
                 help="Report format; repeat for several (pair each with --output)."),
    click.option("--output", "-o", "outputs", multiple=True, type=click.Path(dir_okay=False),
                 help="File for the report of the --format in the same position."),
    click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
                 help="Lowest severity that makes the exit code 1 [default: high]."),
    click.option("--select", multiple=True, help="Only these rules (codes, names, prefixes)."),
    click.option("--ignore", multiple=True, help="Skip these rules (codes, names, prefixes)."),
    click.option("--config", "config_path", type=click.Path(dir_okay=False),
                 help="Config file [default: .kubeproof.yaml found upward]."),
    click.option("--no-config", is_flag=True, help="Ignore any .kubeproof.yaml."),
    click.option("--pss-level", type=click.Choice(["baseline", "restricted"]), default=None,
                 help="Pod Security level to check [default: restricted]."),
)


VULN_OPTIONS = (
    click.option("--vuln-report", "vuln_reports", multiple=True, metavar="FILE",
                 help="Trivy (trivy image -f json) or Grype (grype -o json) report of an "
                      "image; repeatable. Turns on the KP11 rules."),
    click.option("--scan-images", is_flag=True,
                 help="Run trivy on PATH for every image no --vuln-report covers."),
    click.option("--scan-timeout", type=FiniteFloatRange(1, MAX_TIMEOUT_S), default=300.0,
                 show_default=True, help="Seconds each trivy run may take."),
)


TEXT_OPTIONS = (
    click.option("--group-by", type=click.Choice(GROUP_BY), default=None,
                 help="Text report: group the findings by rule or by file [default: rule, "
                      "or scan.groupBy in the config]."),
    click.option("--all", "show_all", is_flag=True,
                 help="Text report: show every finding (long groups are folded otherwise)."),
)


def text_options(fn: Any) -> Any:
    """The text report's options (scan, audit, report)."""
    for option in reversed(TEXT_OPTIONS):
        fn = option(fn)
    return fn


def report_options(fn: Any) -> Any:
    """The options every command that runs the rules shares (scan, audit)."""
    for option in reversed(REPORT_OPTIONS + VULN_OPTIONS + TEXT_OPTIONS):
        fn = option(fn)
    return fn


def group_by_or_exit(config: Any, group_by: str | None) -> str:
    """``--group-by`` over ``scan.groupBy`` in the config over ``rule``."""
    chosen = group_by or config.scan.get("groupBy", "rule")
    if chosen not in GROUP_BY:
        fail(f"{config.path}: scan.groupBy must be {' or '.join(GROUP_BY)}")
    return str(chosen)


def vuln_inputs(reports: tuple[str, ...], scan_images: bool, timeout: float) -> Any:
    """The prepare step for the KP11 rules, or None without reports (nothing imported)."""
    if not reports and not scan_images:
        return None
    # start-up: the vulnerability facts cost ~35 ms of imports (-X importtime); a scan
    # without --vuln-report or --scan-images never needs them
    from kubeproof.images.vulnfacts import VulnInputs

    return VulnInputs(list(reports), scan_images, timeout)


def namespace_or_exit(namespace: str | None) -> str | None:
    """``--namespace`` checked as the API server would (an invalid one ends the command)."""
    # start-up: the config module costs ~35 ms of imports (with YAML and the rule
    # catalogue); every command module loads this one, `kubeproof --help` all of them
    from kubeproof.core.config import namespace_problem

    problem = namespace_problem(namespace) if namespace is not None else None
    if problem:
        fail(f"--namespace: {problem}")
    return namespace


def config_options(reads: str = "") -> Any:
    """``--config FILE`` and ``--no-config`` for a command that reads ``reads`` (all
    of it when empty) from the config, passed on as ``config_path`` and
    ``no_config`` (see :func:`config_or_exit`)."""
    def add(fn: Any) -> Any:
        fn = click.option("--no-config", is_flag=True, help="Ignore any .kubeproof.yaml.")(fn)
        return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                            help="Config file [default: .kubeproof.yaml found upward]"
                                 + (f": {reads}." if reads else "."))(fn)
    return add


def config_or_exit(config_path: str | None, no_config: bool) -> Any:
    """The ``--config`` file, the ``.kubeproof.yaml`` found upward, or (``--no-config``)
    the defaults; a config that cannot be used ends the command (exit code 2)."""
    # start-up: the config module: see namespace_or_exit
    from kubeproof.core.config import ConfigError, find_config, load_config

    try:
        return load_config(None if no_config else (config_path or find_config()))
    except ConfigError as exc:
        fail(str(exc))


def custom_rules_or_exit(config: Any, kube_version: tuple[int, int] | None = None) -> list[Any]:
    """The config's custom rules as rules of a run (``RunSettings.extra_rules``);
    ends the command (exit code 2) with one line per rule that does not compile."""
    if not config.custom_rules:
        return []
    # start-up: CEL (cel-expr-python and the Kubernetes libraries) costs ~30 ms of
    # imports (perf_counter, best of 3); only a config with custom rules needs it
    from kubeproof.policies.custom import custom_rules

    rules, errors = custom_rules(config, kube_version)
    for error in errors[:-1]:
        echo(f"kubeproof: error: {error}", err=True)
    if errors:
        fail(str(errors[-1]))
    return rules


def fail_threshold(fail_on: str) -> int:
    """``--fail-on`` as the lowest severity that makes the exit code 1 (``none``:
    one above critical, so nothing does)."""
    # start-up: model costs ~19 ms of imports; `kubeproof --version` and --help never need it
    from kubeproof.model import Severity

    return Severity.CRITICAL + 1 if fail_on == "none" else Severity.parse(fail_on)


def level_and_threshold(config: Any, pss_level: str | None, fail_on: str | None
                        ) -> tuple[str, int]:
    """The Pod Security level and the fail threshold: flags over ``scan:`` in the
    config over the defaults (restricted, high); a bad level ends the command."""
    level = pss_level or config.scan.get("pssLevel", "restricted")
    if level not in ("baseline", "restricted"):
        fail(f"{config.path}: scan.pssLevel must be baseline or restricted")
    return level, fail_threshold(fail_on or config.scan.get("failOn", "high"))


def print_problems(result: Any) -> None:
    """Input errors and warnings on stderr, one line each."""
    for err in result.errors:
        echo(err, err=True)
    for warn in result.warnings:
        where = f"{warn.file}:{warn.line}" if warn.line else warn.file
        echo(f"{where}: warning: {warn.message}", err=True)


def _write_reports(result: Any, formats: tuple[str, ...], outputs: tuple[str, ...], *,
                   color: bool, quiet: bool, group_by: str = "rule",
                   show_all: bool = False) -> None:
    opts = {"quiet": quiet, "group_by": group_by, "show_all": show_all}
    for i, fmt in enumerate(formats):
        target = outputs[i] if i < len(outputs) else None
        if target is None or target == "-":
            tty = sys.stdout.isatty()
            width = max(60, shutil.get_terminal_size().columns) if tty else 100
            sys.stdout.flush()
            reports.write(fmt, result, sys.stdout.buffer, color=color and tty, width=width,
                          **opts)
            sys.stdout.buffer.flush()
            continue
        try:
            with open(target, "wb") as fh:
                reports.write(fmt, result, fh, color=False, **opts)
        except OSError as exc:
            fail(f"{target}: cannot write report: {exc.strerror or exc}")
