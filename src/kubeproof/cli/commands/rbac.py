"""``kubeproof rbac who-can`` and ``kubeproof rbac risky``: RBAC questions over manifests.

Both load their paths as ``scan`` does and evaluate the Roles, ClusterRoles and
bindings found there as the Kubernetes RBAC authorizer would
(:mod:`kubeproof.analysis.rbac`). Exit codes: 0 answered; 2 usage error or
some input could not be read or parsed (the answer covers the rest).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import click

from kubeproof.analysis.rbac import (
    Grant,
    Power,
    PowerChecks,
    RbacSet,
    load_rbac,
    make_request,
    risky,
    who_can,
)
from kubeproof.cli.common import (
    config_options,
    config_or_exit,
    fail,
    namespace_or_exit,
    print_problems,
    require_paths,
)
from kubeproof.core.applications import application_patterns, with_config_namespace
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION, parse_kube_version
from kubeproof.rules.p07_rbac.bindings import rbac_cluster_admin_binding
from kubeproof.rules.p07_rbac.roles import (
    rbac_escalation_verbs,
    rbac_secrets_read,
    rbac_workload_create,
)
from kubeproof.sources.files import LoadOptions
from kubeproof.util.terminal import safe

SA_LEGEND = ("A ServiceAccount <ns>/<name> also authenticates as User "
             "system:serviceaccount:<ns>:<name>, member of the groups system:serviceaccounts, "
             "system:serviceaccounts:<ns> and system:authenticated.")


@click.group()
def rbac() -> None:
    """Analyse the RBAC of manifests: who can do what, who holds risky powers.

    Exit codes: 0 answered; 2 usage error, a path that does not exist, or an
    input that could not be read.
    """


@rbac.command("who-can")
@click.argument("verb")
@click.argument("resource")
@click.argument("paths", nargs=-1, required=True)
@click.option("--namespace", "-n", default=None,
              help="Namespace of the request [default: any namespace, or cluster-wide].")
@click.option("--subresource", default=None, help="Subresource, e.g. log or exec.")
@click.option("--api-group", default=None,
              help='API group [default: the built-in group of RESOURCE, else "" (core)].')
@click.option("--name", default=None, help="Object name (rules with resourceNames).")
@click.option("--kube-version", default=None,
              help="Target Kubernetes version X.Y (whose built-in ClusterRoles apply).")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="Output format [default: text].")
@config_options("scan.applications")
def who_can_command(verb: str, resource: str, paths: tuple[str, ...], namespace: str | None,
                    subresource: str | None, api_group: str | None, name: str | None,
                    kube_version: str | None, fmt: str, config_path: str | None,
                    no_config: bool) -> None:
    """Which subjects can VERB RESOURCE, through which binding, role and rule.

    RESOURCE may include a subresource (pods/exec) and an API group
    (deployments.apps). PATHS are what scan takes: files, folders,
    Kustomize folders, Helm charts, or - for stdin. A ClusterRole the paths
    do not define may be a built-in one (admin, edit, view, cluster-admin,
    system:*) of --kube-version; rows that rely on one say so.

    Exit codes: 0 answered; 2 usage error, a path that does not exist (error
    printed, no answer), or an input that could not be read (the answer covers
    the rest).
    """
    try:
        version = _kube_version(kube_version)
        req = make_request(verb, resource, subresource=subresource, group=api_group,
                           namespace=namespace, name=name)
    except ValueError as exc:
        fail(str(exc))
    require_paths(paths)
    config = config_or_exit(config_path, no_config)
    rbac_set = load_rbac(paths, patterns=application_patterns(config), kube_version=version)
    _report_input(rbac_set)
    grants = who_can(rbac_set, req)
    if fmt == "json":
        click.echo(json.dumps({"request": req.to_dict(),
                               "grants": [g.to_dict() for g in grants],
                               "warnings": [w.to_dict() for w in rbac_set.warnings]},
                              indent=2))
    else:
        click.echo(_who_can_text(req.text(), grants))
    sys.exit(2 if rbac_set.errors else 0)


def _who_can_text(request: str, grants: Sequence[Grant]) -> str:
    if not grants:
        return safe(f"No subject in the scanned set can {request}.")
    rows = [[g.subject.kind, g.subject.name, g.subject.namespace or "-", g.binding.text(),
             g.role_text(), g.rule_text(), g.binding.scope(), _grant_note(g)] for g in grants]
    header = ["KIND", "NAME", "NAMESPACE", "BINDING", "ROLE", "RULE", "SCOPE", "NOTE"]
    lines = [safe(f"Who can {request}:"), "", _table(header, rows)]
    if any(g.names for g in grants):
        lines += ["", "Rows with \"only names\" grant the request only for those object names "
                      "(ask with --name NAME)."]
    if any(g.subject.kind == "ServiceAccount" for g in grants):
        lines += ["", SA_LEGEND]
    return "\n".join(lines)


def _grant_note(g: Grant) -> str:
    notes = list(g.notes)
    if g.via:
        notes.insert(0, f"via {g.via}")
    if g.names:
        notes.insert(0, "only names: " + ", ".join(g.names))
    return "; ".join(notes)


def _kube_version(text: str | None) -> tuple[int, int]:
    return parse_kube_version(text) if text else DEFAULT_KUBE_VERSION


@rbac.command("risky")
@click.argument("paths", nargs=-1, required=True)
@click.option("--kube-version", default=None, help="Target Kubernetes version X.Y.")
@click.option("--namespace", "-n", default=None,
              help="Namespace of objects without one, as for scan [default: an unknown "
                   "namespace of their own].")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="Output format [default: text].")
@config_options("scan.applications, scan.namespace")
def risky_command(paths: tuple[str, ...], kube_version: str | None, namespace: str | None,
                  fmt: str, config_path: str | None, no_config: bool) -> None:
    """Every subject holding a KP0702–KP0705 power, with the path that grants it.

    cluster-admin or system:masters (KP0702), reading secrets (KP0703),
    escalation (KP0704: escalate/bind/impersonate, pods/exec and attach,
    nodes/proxy, serviceaccounts/token, approving certificates, writing
    admission webhooks, services/status) and creating or changing workloads
    (KP0705). Built-in ClusterRoles of --kube-version count as what they
    grant; rows that rely on one say so. A role defined twice in one
    application is warned about; each folder argument is an application of
    its own (see scan --help).

    Exit codes: 0 answered; 2 usage error, a path that does not exist (error
    printed, no answer), or an input that could not be read (the answer covers
    the rest).
    """
    try:
        version = _kube_version(kube_version)
    except ValueError as exc:
        fail(str(exc))
    require_paths(paths)
    config = config_or_exit(config_path, no_config)
    opts = with_config_namespace(LoadOptions(namespace=namespace_or_exit(namespace)), config)
    rbac_set = load_rbac(paths, opts, application_patterns(config), kube_version=version)
    _report_input(rbac_set)
    checks = {"KP0702": rbac_cluster_admin_binding, "KP0703": rbac_secrets_read,
              "KP0704": rbac_escalation_verbs, "KP0705": rbac_workload_create}
    powers = risky(rbac_set, version, PowerChecks.by_code(checks.__getitem__))
    if fmt == "json":
        click.echo(json.dumps({"powers": [p.to_dict() for p in powers],
                               "warnings": [w.to_dict() for w in rbac_set.warnings]},
                              indent=2))
    else:
        click.echo(_risky_text(powers))
    sys.exit(2 if rbac_set.errors else 0)


def _risky_text(powers: Sequence[Power]) -> str:
    if not powers:
        return "No subject in the scanned set holds a risky power (KP0702-KP0705)."
    rows = [[p.subject.text(), p.code, p.text, p.binding.scope(), p.path_text(),
             "; ".join(([f"via {p.via}"] if p.via else []) + list(p.notes))] for p in powers]
    header = ["SUBJECT", "RULE", "POWER", "SCOPE", "GRANTED BY", "NOTE"]
    count = len({p.subject for p in powers})
    lines = [_table(header, rows), "",
             f"{count} subject{'s' if count != 1 else ''} with risky powers."]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns; a last column empty in every row is dropped."""
    if all(not r[-1] for r in rows):
        header, rows = header[:-1], [r[:-1] for r in rows]
    cells = [[safe(c) for c in r] for r in [header, *rows]]  # names come from manifests
    widths = [max(len(c) for c in col) for col in zip(*cells, strict=True)]
    out = []
    for r in cells:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(out)


def _report_input(rbac_set: RbacSet) -> None:
    print_problems(rbac_set)
