"""Command line: ``kubeproof scan``, ``rules``, ``config init``, ``--version``.

Imports of everything but click are deferred into the commands: a scan of one
small file must start, run and exit in well under 0.3 s.

Exit codes: 0 nothing at or above ``--fail-on``; 1 findings at or above it;
2 usage error, bad config, or any input that could not be read or parsed.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from io import StringIO
from typing import Any, ClassVar

import click
from click.utils import make_default_short_help

from kubeproof import __version__

# the helpers the commands share live in cli.common; re-exported for the callers of
# this module
from kubeproof.cli.common import FORMATS as FORMATS
from kubeproof.cli.common import GROUP_BY as GROUP_BY
from kubeproof.cli.common import MAX_FILE_SIZE_MIB as MAX_FILE_SIZE_MIB
from kubeproof.cli.common import MAX_JOBS as MAX_JOBS
from kubeproof.cli.common import MAX_TIMEOUT_S as MAX_TIMEOUT_S
from kubeproof.cli.common import REPORT_OPTIONS as REPORT_OPTIONS
from kubeproof.cli.common import SEVERITIES as SEVERITIES
from kubeproof.cli.common import TEXT_OPTIONS as TEXT_OPTIONS
from kubeproof.cli.common import VULN_OPTIONS as VULN_OPTIONS
from kubeproof.cli.common import FiniteFloatRange as FiniteFloatRange
from kubeproof.cli.common import _split as _split
from kubeproof.cli.common import _write_reports as _write_reports
from kubeproof.cli.common import check_outputs as check_outputs
from kubeproof.cli.common import config_options as config_options
from kubeproof.cli.common import config_or_exit as config_or_exit
from kubeproof.cli.common import custom_rules_or_exit as custom_rules_or_exit
from kubeproof.cli.common import echo as echo
from kubeproof.cli.common import fail as fail
from kubeproof.cli.common import fail_threshold as fail_threshold
from kubeproof.cli.common import group_by_or_exit as group_by_or_exit
from kubeproof.cli.common import level_and_threshold as level_and_threshold
from kubeproof.cli.common import namespace_or_exit as namespace_or_exit
from kubeproof.cli.common import print_problems as print_problems
from kubeproof.cli.common import report_options as report_options
from kubeproof.cli.common import require_paths as require_paths
from kubeproof.cli.common import text_options as text_options
from kubeproof.cli.common import vuln_inputs as vuln_inputs
from kubeproof.cli.image_options import registry_options, registry_settings_or_exit


class _LazyGroup(click.Group):
    """Loads the modules of the commands other than scan only when they run,
    so that ``kubeproof scan`` starts fast (click's documented lazy pattern).

    start-up: the command modules cost ~90 ms of imports together; ``--help``
    lists them from the one-line summaries written here (checked against the
    commands by tests/test_help.py), so it loads none of them, and each module
    imports what its command needs at its top."""

    # name -> (module:attribute, the command's one-line summary)
    LAZY: ClassVar[dict[str, tuple[str, str]]] = {
        "audit": ("kubeproof.cli.commands.audit:audit",
                  "Audit a live cluster, read-only (list calls only), with the rules of scan."),
        "fix": ("kubeproof.cli.commands.fix:fix",
                "Fix manifests in place: files and folders of plain YAML."),
        "images": ("kubeproof.cli.commands.images:images",
                   "List every container image of the manifests and where it is used."),
        "netpol": ("kubeproof.cli.commands.netpol:netpol",
                   "Analyse NetworkPolicies across a set of manifests."),
        "rbac": ("kubeproof.cli.commands.rbac:rbac",
                 "Analyse the RBAC of manifests: who can do what, who holds risky powers."),
        "report": ("kubeproof.cli.commands.report:report",
                   "Render JSON reports of scan or audit (merged when several) in any format."),
        "test": ("kubeproof.cli.commands.test:test",
                 "Run policy tests: kyverno-test.yaml and kubeproof-test.yaml files under "
                 "PATHS."),
        "webhook": ("kubeproof.cli.commands.webhook:webhook",
                    "Admission webhook: validate and fix objects as the API server admits "
                    "them."),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.LAZY.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)

        module, attr = target[0].split(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their summaries, as click lists them, without loading
        the lazy ones."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.LAZY:
                rows.append((name, make_default_short_help(self.LAZY[name][1], limit)))
                continue
            cmd = super().get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="kubeproof")
def cli() -> None:
    """Check, enforce and report the Kubernetes production best practices.

    Exit codes: 0 success, nothing at or above --fail-on; 1 findings at or above
    it (what 1 means for each command is in its --help); 2 usage error, bad
    config, or input that could not be read.
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@report_options
@click.option("--kube-version", default=None, help="Target Kubernetes version X.Y.")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False),
              help="Report and fail only on findings not in this baseline.")
@click.option("--write-baseline", type=click.Path(dir_okay=False),
              help="Record the current findings as the baseline and exit 0.")
@click.option("--helm-values", multiple=True, type=click.Path(dir_okay=False),
              help="Values file for Helm charts (repeatable).")
@click.option("--helm-set", multiple=True, help="KEY=VALUE for Helm charts (repeatable).")
@click.option("--max-file-size", type=click.IntRange(1, MAX_FILE_SIZE_MIB), default=None,
              help="Refuse files larger than this many MiB [default: 16].")
@click.option("--jobs", "-j", type=click.IntRange(0, MAX_JOBS), default=0,
              help="Worker processes [default: 0 = auto: one per usable core when the input "
                   "has at least 16 files, 8 MiB and 256 KiB per file on average and the "
                   "load average leaves a core idle, else one process].")
@click.option("--no-color", is_flag=True, help="Plain text output.")
@click.option("--quiet", "-q", is_flag=True,
              help="Text report: the 'fix these first' summary and the counts, no findings.")
@click.option("--namespace", "-n", default=None,
              help="Namespace of objects without one, as kubectl apply -n gives them "
                   "[default: config scan.namespace, else an unknown namespace of their own].")
@click.option("--check-images", is_flag=True,
              help="Ask the image registries: run KP0203, KP0204, KP0304 and the registry "
                   "halves of KP0103 and KP0301.")
@click.option("--policy", "policy_paths", multiple=True, metavar="PATH",
              help="Judge with the ValidatingAdmissionPolicies (and bindings, params), Kyverno "
                   "ValidatingPolicies and ClusterPolicies of these files or folders too, "
                   "besides those in the scanned files (repeatable; docs/policies.md).")
@registry_options
def scan(paths: tuple[str, ...], formats: tuple[str, ...], outputs: tuple[str, ...],
         fail_on: str | None, select: tuple[str, ...], ignore: tuple[str, ...],
         config_path: str | None, no_config: bool, kube_version: str | None,
         pss_level: str | None, baseline_path: str | None, write_baseline: str | None,
         helm_values: tuple[str, ...], helm_set: tuple[str, ...], max_file_size: int | None,
         jobs: int, no_color: bool, quiet: bool, namespace: str | None,
         vuln_reports: tuple[str, ...],
         scan_images: bool, scan_timeout: float, group_by: str | None, show_all: bool,
         check_images: bool, platform: str,
         registry_ca: str | None, insecure_registries: tuple[str, ...],
         registry_auth: tuple[str, ...], image_cache: str | None,
         policy_paths: tuple[str, ...]) -> None:
    """Scan manifests: files, folders, Kustomize folders, Helm charts, or - for stdin.

    Set rules (one object against others) judge each application apart: each
    folder argument, the files given from one folder, stdin, or each folder
    that config scan.applications (glob patterns, e.g. ["apps/*"]) matches.

    Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it;
    2 usage error, bad config, a path that does not exist, empty stdin, or an
    input that could not be read or parsed (the other inputs are still scanned).
    """
    # start-up: the engine and its stages cost ~75 ms to import (-X importtime,
    # kubeproof.api), which --help and the other commands skip
    from kubeproof.core.filters import read_baseline
    from kubeproof.core.filters import write_baseline as save_baseline
    from kubeproof.core.result import exit_code
    from kubeproof.core.run import SelectionError
    from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION, parse_kube_version
    from kubeproof.sources.files import DEFAULT_MAX_FILE_BYTES, LoadOptions

    check_outputs(formats, outputs)
    require_paths(paths)
    config = config_or_exit(config_path, no_config)
    settings: dict[str, Any] = config.scan
    grouping = group_by_or_exit(config, group_by)
    try:
        version = parse_kube_version(kube_version or str(settings.get("kubeVersion", ""))) \
            if (kube_version or settings.get("kubeVersion")) else DEFAULT_KUBE_VERSION
    except ValueError as exc:
        fail(str(exc))
    level, threshold = level_and_threshold(config, pss_level, fail_on)
    baseline = None
    if baseline_path:
        try:
            baseline = read_baseline(baseline_path)
        except ValueError as exc:
            fail(str(exc))
    max_mib = max_file_size or settings.get("maxFileSizeMiB")
    opts = LoadOptions(
        max_file_bytes=max_mib * 1048576 if max_mib else DEFAULT_MAX_FILE_BYTES,
        helm_values=helm_values, helm_set=helm_set, namespace=namespace_or_exit(namespace))
    vulns = vuln_inputs(vuln_reports, scan_images, scan_timeout)
    checks = registry_settings_or_exit(check_images, platform, registry_ca,
                                       insecure_registries, registry_auth, image_cache)
    extra = custom_rules_or_exit(config, version)
    try:
        result = _run_scan(list(paths), config, _split(select) or settings.get("select", []),
                           _split(ignore) + list(settings.get("ignore", [])), version, level,
                           opts, baseline, quiet, jobs, vulns, checks, extra,
                           list(policy_paths))
    except SelectionError as exc:
        fail(str(exc))
    print_problems(result)
    if write_baseline:
        save_baseline(write_baseline, result.findings)
        echo(f"wrote {len(result.findings)} findings to baseline {write_baseline}", err=True)
        sys.exit(2 if result.errors else 0)
    _write_reports(result, formats or ("text",), outputs, color=not no_color, quiet=quiet,
                   group_by=grouping, show_all=show_all)
    sys.exit(exit_code(result, threshold))


class _ProgressBar:
    """A rich progress bar on stderr, shown only for scans of many files."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.task: Any = None

    def begin(self, total: int) -> None:
        if total >= 50:
            # start-up: rich's console and progress bar cost ~80 ms of imports (-X importtime,
            # loaded machine); only a scan on a terminal shows the bar, and kubeproof --version
            # loads this module
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task("scanning", total=total)
            self.bar.start()

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _run_scan(paths: list[str], config: Any, select: list[str], ignore: list[str],
              version: tuple[int, int], level: str, opts: Any, baseline: set[str] | None,
              quiet: bool, jobs: int, vulns: Any, checks: Any, extra: list[Any],
              policy_paths: list[str]) -> Any:
    # start-up: the scan API and the engine cost ~100 ms of imports; kubeproof --version and
    # --help load this module
    from kubeproof.api import scan as api_scan

    bar = _ProgressBar() if sys.stderr.isatty() and not quiet else None
    try:
        return api_scan(paths, config=config, select=select, ignore=ignore,
                        kube_version=version, pss_level=level, options=opts,
                        baseline=baseline, progress=bar, jobs=jobs, vulns=vulns,
                        check_images=checks, extra_rules=extra, policy_paths=policy_paths)
    finally:
        if bar is not None:
            bar.stop()


@cli.command()
@click.argument("rule", required=False)
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="text (a table, or one rule explained) or json [default: text].")
@config_options("its custom rules (customRules), listed after the built-in rules")
def rules(rule: str | None, fmt: str, config_path: str | None, no_config: bool) -> None:
    """List the rules, or explain one (code or name).

    The FIX column says whether `kubeproof fix` can fix a rule's findings:
    safe (applied by default), unsafe (only with --unsafe-fixes) or - (no fixer).

    Exit codes: 0 listed; 2 unknown rule, or a config that cannot be used.
    """
    # start-up: the rule catalogue and model cost ~50 ms of imports; kubeproof --version loads
    # this module
    from kubeproof.core.catalogue import load_rules, lookup, unknown_rule_message
    from kubeproof.model import PRACTICES

    custom = custom_rules_or_exit(config_or_exit(config_path, no_config))
    chosen = [*load_rules().values(), *custom]
    if rule:
        chosen = lookup(rule) or [r for r in custom if rule.strip() in (r.code, r.name)]
        if not chosen:
            fail(unknown_rule_message(rule))
    if fmt == "json":
        click.echo(json.dumps([
            {"code": r.code, "name": r.name, "practice": r.practice,
             "practiceName": PRACTICES[r.practice], "severity": r.severity.label,
             "scope": r.scope, "summary": r.summary, "what": r.what, "why": r.why,
             "how": r.how, "example": r.example, "fixable": r.fixable,
             "fixSafety": r.fix_safety, "fixSafetyReason": r.fix_safety_reason or None,
             "source": r.source or None}
            for r in chosen], indent=2))
        return
    if rule and len(chosen) == 1:
        r = chosen[0]
        echo(f"{r.code} {r.name} ({r.severity.label}, practice {r.practice}: "
             f"{PRACTICES[r.practice]}, scope {r.scope})")
        click.echo()
        echo(r.summary)
        click.echo()
        if r.fix_safety is not None:
            click.echo(f"Fix: {r.fix_safety} ({r.fix_safety_reason})\n")
        else:
            click.echo("Fix: none (kubeproof fix has no fixer for this rule)\n")
        if r.source:
            echo(f"Defined in: {r.source}")
            click.echo()
        for title, body in (("What", r.what), ("Why", r.why), ("How", r.how),
                            ("Example", r.example)):
            if body:  # a custom rule's texts are the config's: each line escaped
                click.echo(f"{title}:")
                for line in body.splitlines():
                    echo(line)
                click.echo()
        return
    width = max(len(r.name) for r in chosen)
    code_width = max(6, *(len(r.code) for r in chosen))
    echo(f"{'CODE':<{code_width}}  {'NAME':<{width}}  {'P':>2}  {'SEVERITY':<8}  "
         f"{'SCOPE':<8}  {'FIX':<6}  SUMMARY")
    for r in chosen:
        echo(f"{r.code:<{code_width}}  {r.name:<{width}}  {r.practice:>2}  "
             f"{r.severity.label:<8}  {r.scope:<8}  {r.fix_safety or '-':<6}  {r.summary}")


@cli.group()
def config() -> None:
    """Work with .kubeproof.yaml.

    Exit codes: 0 done; 2 usage error or the file could not be written.
    """


@config.command("init")
@click.option("--path", default=".kubeproof.yaml", type=click.Path(dir_okay=False),
              show_default=True, help="Where to write the config.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def config_init(path: str, force: bool) -> None:
    """Write a commented starter config.

    Exit codes: 0 written; 2 the file exists (without --force) or cannot be written.
    """
    # start-up: the config module costs ~35 ms of imports; kubeproof --version loads this module
    from kubeproof.core.config import STARTER

    if os.path.exists(path) and not force:
        fail(f"{path} exists (use --force to overwrite)")
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(STARTER)
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror or exc}")
    echo(f"wrote {path}")


def _show_escaped(exc: click.ClickException) -> None:
    """click's usage error, each line escaped: it quotes the arguments given."""
    buf = StringIO()
    exc.show(file=buf)
    for line in buf.getvalue().splitlines():
        echo(line, err=True)


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("kubeproof: aborted", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        _show_escaped(exc)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # never a traceback for the user
        echo(f"kubeproof: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)

