"""``kubeproof audit``: the rules and reports of ``scan``, run on a live cluster, read-only
(unless ``--write-reports``).

Objects come from ``sources/cluster.py`` (list calls only) and go through the
same engine as files do: object rules per object, set rules over the whole
cluster, then the filters. Findings name the object instead of a file:
``<context>/<namespace or ->/<Kind>/<name>``, line 1. Every kind that could
not be read (403, 404, 500, timeout, unreachable server, rejected
credentials) is an input error for ``cluster/<context>``: the report says what
the audit did not see, and the exit code is 2.

Differences from ``scan``, because a live cluster is not a manifest:

- KP0401 reports only workloads in ``default`` (a cluster always has the
  ``kubernetes`` Service, the ``default`` ServiceAccount and so on there);
- KP1004 (Secret values committed in a manifest) does not run: every live
  Secret holds its values;
- Secrets are read only with ``--read-secrets`` (the shipped RBAC in
  ``deploy/audit-rbac.yaml`` does not grant it); without it KP0302/KP0303
  cannot judge and the report says so in a warning;
- with ``--namespace``, namespaced kinds are listed in that namespace only,
  plus the Namespace itself and the ClusterRoleBindings (which may grant its
  ServiceAccounts); findings outside the namespace are left out.

With ``--events``, after the report, one event per finding goes to the audit
sink of the config's ``webhook.audit`` (the webhook's sink, ``audit_events.py``);
a sink that fails costs one warning line, never the exit code.

With ``--write-reports``, after the report, the PolicyReports of ``--format
policyreport`` are applied to the cluster (``reports/cluster_reports.py``: server-side
apply, stale kubeproof reports deleted); a missing CRD, a 403 or a failed write is one
error line and exit 2, the report itself already printed.

Exit codes as ``scan``: 0 nothing at or above ``--fail-on``, 1 findings at or
above it, 2 usage error, bad config or incomplete coverage.
"""

from __future__ import annotations

import sys
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Any

import click

from kubeproof.cli.commands.audit_events import send_events
from kubeproof.cli.common import (
    MAX_TIMEOUT_S,
    FiniteFloatRange,
    _split,
    _write_reports,
    check_outputs,
    config_or_exit,
    custom_rules_or_exit,
    echo,
    fail,
    group_by_or_exit,
    level_and_threshold,
    print_problems,
    report_options,
    vuln_inputs,
)
from kubeproof.cli.image_options import registry_options, registry_settings_or_exit
from kubeproof.core.catalogue import codes
from kubeproof.core.config import Config, ConfigError
from kubeproof.core.engine import Engine
from kubeproof.core.result import ScanResult, exit_code
from kubeproof.core.run import Run, RunSettings, SelectionError, build_run
from kubeproof.images.check import CheckSettings
from kubeproof.images.vulnfacts import VulnInputs
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION, NEWEST_KNOWN, parse_kube_version
from kubeproof.k8s.workloads import WORKLOAD_KINDS
from kubeproof.model import Finding, InputError, Needs, Rule, RunsIn
from kubeproof.policies.in_cluster import POLICY_SPECS, ReadStopped, read_policies
from kubeproof.reports import cluster_reports
from kubeproof.sources import cluster
from kubeproof.sources.cluster import ClusterError
from kubeproof.util.gcpause import gc_paused
from kubeproof.webhook.policy import AuditSettings, load_policy


@dataclass(slots=True)
class AuditOptions:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    kube_version: tuple[int, int] | None = None  # None: the server's
    pss_level: str = "restricted"
    read_secrets: bool = False
    max_requests: int = 4
    request_timeout: float = 30.0
    page_size: int = 500
    vulns: VulnInputs | None = None  # --vuln-report / --scan-images
    # --check-images: the registry rules with anonymous pulls and the user's own
    # credentials (Secret values never reach the index in an audit, so KP0304,
    # which needs a pull secret's credentials, cannot fire)
    check_images: CheckSettings | None = None
    # the run's own rules besides the catalogue's (the config's custom rules, policies)
    extra_rules: tuple[Rule, ...] = ()


def run_audit(opts: AuditOptions, config: Config | None = None) -> ScanResult:
    """Audit the cluster; raises ``ClusterError`` (no credentials) and
    ``SelectionError`` (unknown rule), reports everything else in the result."""
    config = config or Config()

    def build(extra: Sequence[Rule], lookup: Any = None) -> Run:
        return build_run(RunSettings(config, select=opts.select, ignore=opts.ignore,
                                     pss_level=opts.pss_level, vulns=opts.vulns,
                                     check_images=opts.check_images,
                                     extra_rules=extra, policy_lookup=lookup))

    # the Kubernetes version is the server's, known once connected (below); a
    # selection is checked before connecting, unless it names a policy (vap/...),
    # which only the cluster's policies can answer
    try:
        run: Run | None = build(opts.extra_rules)
    except SelectionError:
        if not any("/" in token for token in (*opts.select, *opts.ignore)):
            raise
        run = None
    conn = cluster.connect(opts.kubeconfig, opts.context, timeout=opts.request_timeout,
                           max_requests=opts.max_requests)
    errors: list[InputError] = []
    warnings: list[InputError] = []
    version = opts.kube_version
    reachable = True
    try:
        served = cluster.server_version(conn)
    except cluster.RequestFailed as exc:
        served = None
        if exc.fatal or exc.timeout:  # nothing else will answer either
            reachable = False
            errors.append(InputError(conn.where, None, str(exc)))
        elif version is None:
            warnings.append(InputError(conn.where, None, f"cannot read /version ({exc}); "
                                       f"checking for Kubernetes {_dotted(DEFAULT_KUBE_VERSION)}"))
    if version is None:
        version = min(served, NEWEST_KNOWN) if served and served[0] == 1 \
            else DEFAULT_KUBE_VERSION
    specs = cluster.AUDIT_KINDS + ((cluster.SECRETS,) if opts.read_secrets else ())
    if reachable:
        # the cluster's own admission policies, judged against what already runs
        try:
            policies = read_policies(conn, version, namespace=opts.namespace,
                                     max_requests=opts.max_requests, page_size=opts.page_size)
        except ReadStopped as stop:  # nothing else will answer either
            reachable = False
            unread = ", ".join(s.resource for s in (*POLICY_SPECS, *specs))
            errors += [stop.error, InputError(conn.where, None,
                                              f"audit incomplete, not read: {unread}")]
        else:
            errors.extend(policies.errors)
            warnings.extend(policies.warnings)
            if policies.policies or run is None:
                run = build([*opts.extra_rules, *policies.rules(config)], policies.lookup)
    if run is None:
        run = build(opts.extra_rules)
    run = run.with_kube_version(version)
    rules = [r for r in run.rules if RunsIn.CLUSTER in r.runs_in]
    engine = Engine(run.ctx, rules)
    result = engine.result
    result.errors.extend(errors)
    reader = cluster.ClusterReader(conn, max_requests=opts.max_requests,
                                   page_size=opts.page_size)
    if reachable:
        with gc_paused():
            for event in reader.read(specs, opts.namespace):
                if isinstance(event, InputError):
                    result.errors.append(event)
                else:
                    engine.add_file(event.loaded, event.source_input)
            engine.run_set_rules()
        if opts.namespace and "namespaces" in reader.summary.listed \
                and not result.kinds.get("Namespace"):
            result.errors.append(InputError(conn.where, None,
                                            f"namespace {opts.namespace!r} does not exist"))
    if reachable and not opts.read_secrets and any(Needs.SECRETS in r.needs for r in rules):
        unread = "/".join(sorted(codes(needs=Needs.SECRETS)))
        warnings.append(InputError(conn.where, None, f"Secrets not read, so {unread} "
                                   "(pull secrets) were not checked: use --read-secrets "
                                   "with list access to secrets"))
    custom = run.ctx.pod_templates
    result.findings = [f for f in result.findings if _keep(f, opts.namespace, custom)]
    if opts.namespace:
        result.checked = [c for c in result.checked if c.namespace == opts.namespace
                          or (c.kind == "Namespace" and c.name == opts.namespace)]
    result = engine.finish(opts.pss_level)
    # the kinds are listed concurrently, so objects arrive in no fixed order: the
    # report lists them in one (namespace, kind, name)
    result.checked.sort(key=lambda c: (c.namespace or "", c.kind, c.name, c.api_version))
    result.warnings.extend(warnings)
    result.files = len(reader.summary.listed)  # in an audit: the kinds read completely
    return run.add_facts(result)


def _dotted(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _keep(f: Finding, namespace: str | None, custom_kinds: Container[str]) -> bool:
    if f.rule.code == "KP0401" and f.kind not in WORKLOAD_KINDS \
            and f.kind not in custom_kinds:
        return False
    if namespace:
        return f.namespace == namespace or (f.kind == "Namespace" and f.name == namespace)
    return True


@click.command()
@click.option("--kubeconfig", type=click.Path(dir_okay=False),
              help="Kubeconfig file [default: $KUBECONFIG, ~/.kube/config, else the "
                   "in-cluster service account].")
@click.option("--context", help="Kubeconfig context [default: its current context].")
@click.option("--namespace", "-n", help="Audit only this namespace.")
@report_options
@click.option("--kube-version", default=None,
              help="Kubernetes version X.Y to check for [default: the server's].")
@click.option("--read-secrets", is_flag=True,
              help="Also list Secrets (needs list on secrets) for the pull-secret rules; "
                   "their values are dropped on arrival.")
@click.option("--max-requests", type=click.IntRange(1, 64), default=4, show_default=True,
              help="API requests in flight at most.")
@click.option("--request-timeout", type=FiniteFloatRange(0.1, MAX_TIMEOUT_S), default=30.0,
              show_default=True, help="Seconds to wait for each API answer.")
@click.option("--page-size", type=click.IntRange(1, 10000), default=500, show_default=True,
              help="Objects per list call (limit).")
@click.option("--no-color", is_flag=True, help="Plain text output.")
@click.option("--quiet", "-q", is_flag=True,
              help="Text report: the 'fix these first' summary and the counts, no findings.")
@click.option("--check-images", is_flag=True,
              help="Ask the registries of the images the cluster runs: KP0203, KP0204 and the "
                   "registry halves of KP0103 and KP0301 (anonymous pulls and your own "
                   "credentials; pull-secret values are never read).")
@click.option("--events", is_flag=True,
              help="Also send one event per finding (kind, namespace, name, code, severity, "
                   "message; never the object) to the audit sink of the config's "
                   "webhook.audit (stdout, file or Splunk HEC, as the webhook's). With the "
                   "stdout sink the report needs -o FILE.")
@click.option("--write-reports", is_flag=True,
              help="After the report, write it to the cluster as wgpolicyk8s.io/v1alpha2 "
                   "PolicyReports (kubeproof-<namespace>) and a ClusterPolicyReport "
                   "(kubeproof-cluster), by server-side apply (field manager kubeproof); "
                   "kubeproof's earlier reports with no findings left are deleted. Needs the "
                   "PolicyReport CRDs and list, create, patch and delete on policyreports and "
                   "clusterpolicyreports. With --namespace: that namespace's report only. "
                   "Without this flag the audit writes nothing.")
@registry_options
def audit(kubeconfig: str | None, context: str | None, namespace: str | None,
          formats: tuple[str, ...], outputs: tuple[str, ...], fail_on: str | None,
          select: tuple[str, ...], ignore: tuple[str, ...], config_path: str | None,
          no_config: bool, kube_version: str | None, pss_level: str | None,
          read_secrets: bool, max_requests: int, request_timeout: float, page_size: int,
          no_color: bool, quiet: bool, vuln_reports: tuple[str, ...], scan_images: bool,
          scan_timeout: float, group_by: str | None, show_all: bool, check_images: bool,
          platform: str, registry_ca: str | None,
          insecure_registries: tuple[str, ...], registry_auth: tuple[str, ...],
          image_cache: str | None, events: bool, write_reports: bool) -> None:
    """Audit a live cluster, read-only (list calls only), with the rules of scan.

    Read-only unless --write-reports: then the findings are also written to the
    cluster as PolicyReports (server-side apply), after the report.

    Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it;
    2 usage error, bad config, an unreachable cluster or rejected credentials
    (error printed, no report), kinds that could not be listed (the report
    says what the audit did not see), or PolicyReports that could not be written
    (no CRD, no permission: one line, after the report).
    """
    check_outputs(formats, outputs)
    config = config_or_exit(config_path, no_config)
    grouping = group_by_or_exit(config, group_by)
    settings: dict[str, Any] = config.scan
    try:
        version = parse_kube_version(kube_version) if kube_version else None
    except ValueError as exc:
        fail(str(exc))
    level, threshold = level_and_threshold(config, pss_level, fail_on)
    sink = _sink_or_exit(config, formats, outputs) if events else None
    opts = AuditOptions(
        kubeconfig=kubeconfig, context=context, namespace=namespace,
        select=tuple(_split(select) or settings.get("select", [])),
        ignore=tuple(_split(ignore) + list(settings.get("ignore", []))),
        kube_version=version, pss_level=level, read_secrets=read_secrets,
        max_requests=max_requests, request_timeout=request_timeout, page_size=page_size,
        vulns=vuln_inputs(vuln_reports, scan_images, scan_timeout),
        check_images=registry_settings_or_exit(check_images, platform, registry_ca,
                                               insecure_registries, registry_auth,
                                               image_cache),
        extra_rules=tuple(custom_rules_or_exit(config, version)))
    try:
        result = run_audit(opts, config)
    except (SelectionError, ClusterError) as exc:
        fail(str(exc))
    print_problems(result)
    if result.errors and not result.objects:
        sys.exit(2)  # nothing could be read (unreachable, refused): no report, the error says it
    _write_reports(result, formats or ("text",), outputs, color=not no_color, quiet=quiet,
                   group_by=grouping, show_all=show_all)
    if sink is not None:
        warning = send_events(result.findings, sink)
        if warning:
            echo(f"kubeproof: warning: {warning}", err=True)
    if write_reports and not _written_to_cluster(opts, result):
        sys.exit(2)
    sys.exit(exit_code(result, threshold))


def _written_to_cluster(opts: AuditOptions, result: ScanResult) -> bool:
    """--write-reports: apply the PolicyReports; one line on stderr for what was
    done and one per problem. Whether every report was written."""
    try:
        conn = cluster.connect(opts.kubeconfig, opts.context, timeout=opts.request_timeout,
                               max_requests=opts.max_requests)
        written = cluster_reports.write_reports(conn, result, namespace=opts.namespace,
                                                max_requests=opts.max_requests)
    except (ClusterError, cluster_reports.WriteFailed) as exc:
        echo(f"kubeproof: error: {exc}", err=True)
        return False
    for warning in written.warnings:
        echo(f"kubeproof: warning: {warning}", err=True)
    for problem in written.problems:
        echo(f"kubeproof: error: {problem}", err=True)
    line = f"kubeproof: PolicyReports written to {conn.where}: {len(written.applied)} " \
           f"applied, {len(written.deleted)} stale deleted"
    if written.kept_stale:
        why = "some reports were not written" if written.problems else "the audit was incomplete"
        line += f", {len(written.kept_stale)} stale kept ({why})"
    echo(line, err=True)
    return not written.problems


def _sink_or_exit(config: Config, formats: tuple[str, ...],
                  outputs: tuple[str, ...]) -> AuditSettings:
    """The sink of ``webhook.audit`` for --events; ends the command (exit 2) when the
    config's section is bad, or when events and a report would share stdout."""
    try:
        settings = load_policy(config).audit
    except ConfigError as exc:
        fail(str(exc))
    to_stdout = any(i >= len(outputs) or outputs[i] == "-"
                    for i in range(max(len(formats), 1)))
    if settings.sink == "stdout" and to_stdout:
        fail("--events with the stdout sink (webhook.audit.sink) would mix the events "
             "with the report: write the report to a file with -o FILE, or configure "
             "a file or hec sink")
    return settings
