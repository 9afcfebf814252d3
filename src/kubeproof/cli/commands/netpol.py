"""``kubeproof netpol reach``: who may open connections to whom under a set's
NetworkPolicies.

By default it prints the exposed paths that matter
(:mod:`kubeproof.analysis.reach_paths`): the workloads addresses outside the
cluster may connect to, and the workloads that may connect to each sensitive
workload, grouped ("every workload of namespace X", "every workload") with
the ports and the policies (or lack of isolation) that let traffic pass.
``--matrix``, ``--from`` or ``--to`` print the matrix instead: rows are
sources, columns destinations; each cell says whether the source's pods may
open connections to the destination's pods (on ``--port``, or on some port),
and why. A matrix holds at most :data:`MAX_CELLS` cells.

JSON (``-f json``) of the default answer::

    {"port": "5432/TCP" | null, "workloads": 739,
     "external": [GROUP, ...],           # what external may connect to
     "sensitive": [{"workload": "shop/db", "why": "postgres image",
                    "reachedBy": [GROUP, ...]}, ...],
     "skippedSensitive": 0,              # sensitive workloads left out (too many)
     "notes": ["...", ...]}

    GROUP = {"verdict": "allowed" | "partial", "ports": ["5432/TCP", ...],
             "reason": "egress not isolated; ingress allowed by db rule 0",
             "every": false,             # true: every workload of the set
             "namespaces": ["shop"],     # every workload of these ("": none)
             "but": ["shop/db"],         # except these (of the set or those namespaces)
             "workloads": ["web/front"], # and these
             "count": 4}

and of the matrix::

    {"port": ..., "sources": [LABEL, ...], "destinations": [LABEL, ...],
     "matrix": [["allowed" | "partial" | "denied", ...], ...],
     "cells": [{"from", "to", "verdict", "decisions": [...]}, ...], "notes": [...]}

Workload labels are ``ns/name``, ``ns/Kind/name`` where names collide, with
``(file:line)`` where that is not enough; copies of one manifest alike in
labels and ports are one workload. A ``metadata.namespace`` that is a template
placeholder (``${NAMESPACE:-default}``) is no namespace. Exit code 0, or 2
for a usage error or an input that could not be read.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from kubeproof.analysis.reach import (
    EXTERNAL,
    EXTERNAL_NETWORK,
    UNNAMED,
    Endpoint,
    Network,
    QueryPort,
    Reach,
    parse_network,
    parse_port,
    without_placeholder_namespaces,
)
from kubeproof.analysis.reach_paths import Group, Paths, Target, workload_endpoints
from kubeproof.analysis.reach_paths import paths as exposed_paths
from kubeproof.cli.common import (
    config_options,
    config_or_exit,
    echo,
    fail,
    namespace_or_exit,
    require_paths,
)
from kubeproof.core.applications import application_patterns, with_config_namespace
from kubeproof.core.index import Index, load_index
from kubeproof.sources.files import LoadOptions
from kubeproof.util.terminal import safe

# the most cells a matrix may have (the whole corpus would have 264,710)
MAX_CELLS = 100_000
# the most names a line lists, groups a section shows, ports a path shows
MAX_NAMES = 6
MAX_GROUPS = 8
MAX_PORTS = 3


@click.group()
def netpol() -> None:
    """Analyse NetworkPolicies across a set of manifests.

    Exit codes: 0 answered; 2 usage error, a path that does not exist, or an
    input that could not be read.
    """


@netpol.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--from", "sources", multiple=True, metavar="W",
              help="Source: ns/name or name of a workload, 'external' or a CIDR "
                   "(repeatable); prints the matrix [default: external and every workload].")
@click.option("--to", "destinations", multiple=True, metavar="W",
              help="Destination, as for --from (repeatable); prints the matrix "
                   "[default: every workload].")
@click.option("--matrix", is_flag=True,
              help=f"Print the whole matrix (at most {MAX_CELLS:,} cells) instead of the "
                   f"exposed paths.")
@click.option("--port", default=None, metavar="P[/PROTO]",
              help="Port number or container port name, protocol TCP (default), UDP or "
                   "SCTP [default: every port].")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="Output format [default: text].")
@click.option("--namespace", "-n", default=None,
              help="Namespace of objects without one, as for scan [default: an unknown "
                   "namespace of their own].")
@config_options("sensitive workloads (network.sensitiveLabels), scan.applications, "
                "scan.namespace")
def reach(paths: tuple[str, ...], sources: tuple[str, ...], destinations: tuple[str, ...],
          matrix: bool, port: str | None, namespace: str | None, fmt: str,
          config_path: str | None, no_config: bool) -> None:
    """Which workloads may open connections to which, under the set's NetworkPolicies.

    By default: what addresses outside the cluster may connect to, and what
    may connect to each sensitive workload (labelled per
    network.sensitiveLabels, or running a datastore image).

    Exit codes: 0 answered; 2 usage error, a path that does not exist (error
    printed, no answer), or an input that could not be read (the answer covers
    the rest).
    """
    query = None
    if port is not None:
        try:
            query = parse_port(port)
        except ValueError as exc:
            fail(f"--port: {exc}")
    require_paths(paths)
    config = config_or_exit(config_path, no_config)
    opts = with_config_namespace(LoadOptions(namespace=namespace_or_exit(namespace)), config)
    index, errors = load_index(list(paths), opts, unknown_namespace_per_application=True,
                               patterns=application_patterns(config))
    for err in errors:
        echo(err, err=True)
    index = without_placeholder_namespaces(index)
    network = Network.from_index(index)
    workloads = workload_endpoints(index.workloads)
    if matrix or sources or destinations:
        _print_matrix(network, workloads, sources, destinations, query, fmt)
    else:
        _print_paths(network, index, workloads, config.sensitive_labels, query, fmt)
    sys.exit(2 if errors else 0)


def _print_matrix(network: Network, workloads: list[Endpoint], sources: tuple[str, ...],
                  destinations: tuple[str, ...], query: QueryPort | None, fmt: str) -> None:
    dsts = _endpoints(workloads, _split(destinations), default_external=False)
    srcs = _endpoints(workloads, _split(sources),
                      default_external=not any(d.external for d in dsts))
    if any(s.external and d.external for s in srcs for d in dsts):
        fail("traffic between two external endpoints is not governed by NetworkPolicies: "
             "give a workload on one side")
    if len(srcs) * len(dsts) > MAX_CELLS:
        fail(f"the matrix would have {len(srcs)} x {len(dsts)} = {len(srcs) * len(dsts):,} "
             f"cells, more than {MAX_CELLS:,}: choose sources or destinations with "
             f"--from/--to, or leave out --matrix for the exposed paths")
    cells = [[network.reach(s, d, query) for d in dsts] for s in srcs]
    notes = _notes(network, srcs + dsts)
    if fmt == "json":
        click.echo(json.dumps(_json(srcs, dsts, query, cells, notes), indent=2))
    else:
        click.echo(_text(srcs, dsts, cells, notes))


def _print_paths(network: Network, index: Index, workloads: list[Endpoint],
                 sensitive_labels: list[str], query: QueryPort | None, fmt: str) -> None:

    found = exposed_paths(network, index, workloads, sensitive_labels, query)
    notes = _notes(network, workloads)
    if found.skipped:
        notes.append(f"{found.skipped} sensitive workloads were left out: the set has too "
                     f"many to examine every path to them (give --to)")
    if fmt == "json":
        click.echo(json.dumps(_paths_json(found, query, notes), indent=2))
    else:
        click.echo(_paths_text(found, notes))


def _split(values: tuple[str, ...]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def _endpoints(workloads: list[Endpoint], wanted: list[str], *,
               default_external: bool) -> list[Endpoint]:

    if not wanted:
        out = [Endpoint.of_network(EXTERNAL_NETWORK, EXTERNAL)] if default_external else []
        return out + workloads
    found: list[Endpoint] = []
    for text in wanted:
        found.extend(_resolve(workloads, text))
    return list({e.label: e for e in found}.values())


def _resolve(workloads: list[Endpoint], text: str) -> list[Endpoint]:

    network = parse_network(text)
    if network is not None:
        return [Endpoint.of_network(network, text)]
    exact = [e for e in workloads if e.label == text]
    if exact:
        return exact
    ns, _, name = text.rpartition("/")
    matches = [e for e in workloads if e.workload is not None and e.workload.ref.name == name
               and (not ns or (e.workload.ref.namespace or "") == ns)]
    if not matches:
        where = f" in namespace {ns!r}" if ns else ""
        fail(f"no workload named {name!r}{where} in the scanned set "
             f"(give ns/name, name, 'external' or a CIDR)")
    return matches


def _notes(network: Network, endpoints: list[Endpoint]) -> list[str]:
    """What the analysis could not take into account."""
    out = [f"{record.ref.file}:{record.ref.line}: NetworkPolicy {record.ref.name!r} is "
           f"invalid and never takes effect: {why}" for record, why in network.invalid]
    foreign = sorted({e.namespace for e in endpoints
                      if not e.external and network.is_foreign(e.namespace)})
    for ns in foreign:
        where = f"namespace {ns!r}" if ns != UNNAMED else "objects without a namespace"
        out.append(f"{where}: NetworkPolicies of another engine (Calico, Antrea) are "
                   f"not modelled")
    return out


# ---------------------------------------------------------------- output


def _cell(r: Reach) -> str:
    return r.verdict


def _text(srcs: list[Endpoint], dsts: list[Endpoint], cells: list[list[Reach]],
          notes: list[str]) -> str:
    """The matrix and the decisions; every label escaped (kubeproof.util.terminal)
    before widths are measured, every line escaped again as a whole."""
    corner = "from \\ to"
    src_labels = [safe(s.label) for s in srcs]
    dst_labels = [safe(d.label) for d in dsts]
    first = max([len(corner), *(len(label) for label in src_labels)])
    widths = [max(len(label), len("allowed")) for label in dst_labels]
    lines = ["  ".join([corner.ljust(first),
                        *(label.ljust(w) for label, w in zip(dst_labels, widths, strict=True))
                        ]).rstrip()]
    for label, row in zip(src_labels, cells, strict=True):
        lines.append("  ".join([label.ljust(first),
                                *(_cell(r).ljust(w) for r, w in zip(row, widths, strict=True))
                                ]).rstrip())
    lines.append("")
    for row in cells:
        for r in row:
            lines.append(f"{r.source.label} -> {r.destination.label}: {r.verdict}")
            lines.extend(f"  {d.ports.label}: {d.verdict} ({d.reason()})" for d in r.decisions)
    if notes:
        lines.append("")
        lines.extend(f"note: {n}" for n in notes)
    return "\n".join(safe(line) for line in lines)


def _json(srcs: list[Endpoint], dsts: list[Endpoint], query: QueryPort | None,
          cells: list[list[Reach]], notes: list[str]) -> dict[str, Any]:
    return {
        "port": query.label if query is not None else None,
        "sources": [s.label for s in srcs],
        "destinations": [d.label for d in dsts],
        "matrix": [[r.verdict for r in row] for row in cells],
        "cells": [r.to_dict() for row in cells for r in row],
        "notes": notes,
    }


# ---------------------------------------------------------------- the paths


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _listed(items: list[str], limit: int = MAX_NAMES) -> str:
    """The first ``limit`` items, and how many more."""
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")


def _members(g: Group) -> str:
    """Who a group holds: every workload, every workload of namespaces, names."""
    but = f" but {_listed(list(g.but))}" if g.but else ""
    if g.every:
        return f"every workload ({g.count}){but}"
    parts = ["every workload without a namespace"] if UNNAMED in g.namespaces else []
    named = [ns for ns in g.namespaces if ns != UNNAMED]
    if named:
        parts.append(f"every workload of namespace{'s' if len(named) > 1 else ''} "
                     f"{_listed(named)}")
    if parts:
        parts = [" and ".join(parts) + but]
    if g.workloads:
        parts.append(_listed(list(g.workloads)))
    return "; ".join(parts)


def _passage(g: Group) -> str:
    p = g.passage
    ports = "any port" if p.ports == ("any port",) else _listed(list(p.ports), MAX_PORTS)
    partly = "partly, " if p.verdict != "allowed" else ""
    return f"{partly}{ports} ({p.reason})"


def _groups_text(groups: list[Group], indent: str) -> list[str]:
    lines = [f"{indent}{_members(g)}: {_passage(g)}" for g in groups[:MAX_GROUPS]]
    if len(groups) > MAX_GROUPS:
        rest = sum(g.count for g in groups[MAX_GROUPS:])
        lines.append(f"{indent}... {len(groups) - MAX_GROUPS} more groups "
                     f"({_count(rest, 'workload')})")
    return lines


def _paths_text(found: Paths, notes: list[str]) -> str:
    """The exposed paths, each line escaped (kubeproof.util.terminal) as a whole."""
    reached = sum(g.count for g in found.exposed)
    lines = [f"external may connect to {reached} of {_count(found.workloads, 'workload')}"
             + (":" if reached else ".")]
    lines += _groups_text(found.exposed, "  ")
    lines.append("")
    # sensitive workloads reached alike (but for one another) are shown together
    names = {t.endpoint.label for t in found.targets}
    alike: dict[tuple[object, ...], list[Target]] = {}
    for t in found.targets:
        key = tuple((g.passage, g.every, g.namespaces,
                     tuple(w for w in g.but if w not in names),
                     tuple(w for w in g.workloads if w not in names)) for g in t.sources)
        alike.setdefault(key, []).append(t)
    unreached = [f"{t.endpoint.label} ({t.why})" for t in alike.pop((), [])]
    lines.append(f"{_count(len(found.targets), 'sensitive workload')}"
                 + (", and what may connect to them:" if alike else "."))
    entries = sorted(alike.values(), key=lambda ts: (-len(ts), ts[0].endpoint.label))
    for targets in entries[:MAX_GROUPS]:
        lines.append(f"  {_listed([f'{t.endpoint.label} ({t.why})' for t in targets])}")
        lines += _groups_text(list(targets[0].sources), "    <- ")
    if len(entries) > MAX_GROUPS:
        rest = sum(len(ts) for ts in entries[MAX_GROUPS:])
        lines.append(f"  ... {_count(rest, 'more sensitive workload')}")
    if unreached:
        lines.append(f"  no workload may connect to {_listed(unreached)}")
    if len(notes) > MAX_GROUPS:
        notes = [*notes[:MAX_GROUPS], f"... {_count(len(notes) - MAX_GROUPS, 'more note')}"]
    if any("..." in line or " more" in line for line in lines):
        lines += ["", "(-f json lists every path; --to W shows what reaches W, "
                      "--matrix the whole matrix)"]
    if notes:
        lines.append("")
        lines.extend(f"note: {n}" for n in notes)
    return "\n".join(safe(line) for line in lines)


def _paths_json(found: Paths, query: QueryPort | None, notes: list[str]) -> dict[str, Any]:
    return {
        "port": query.label if query is not None else None,
        "workloads": found.workloads,
        "external": [g.to_dict() for g in found.exposed],
        "sensitive": [{"workload": t.endpoint.label, "why": t.why,
                       "reachedBy": [g.to_dict() for g in t.sources]}
                      for t in found.targets],
        "skippedSensitive": found.skipped,
        "notes": notes,
    }
