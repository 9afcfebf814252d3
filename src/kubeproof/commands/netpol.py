"""``kubeproof netpol reach``: the NetworkPolicy reachability matrix of a set.

Rows are sources, columns destinations; each cell says whether the source's
pods may open connections to the destination's pods (on ``--port``, or on
some port), and why: the policy rules that allow it, or the policies that
isolate an end and deny it. Exit code 0, or 2 for a usage error or an input
that could not be read.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from kubeproof.cli import fail, namespace_or_exit
from kubeproof.terminal import echo, safe

if TYPE_CHECKING:
    from kubeproof.analysis.netpol import Endpoint, Network, QueryPort, Reach
    from kubeproof.index import Index




@click.group()
def netpol() -> None:
    """Analyse NetworkPolicies across a set of manifests."""


@netpol.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--from", "sources", multiple=True, metavar="W",
              help="Source: ns/name or name of a workload, 'external' or a CIDR "
                   "(repeatable) [default: external and every workload].")
@click.option("--to", "destinations", multiple=True, metavar="W",
              help="Destination, as for --from (repeatable) [default: every workload].")
@click.option("--port", default=None, metavar="P[/PROTO]",
              help="Port number or container port name, protocol TCP (default), UDP or "
                   "SCTP [default: every port].")
@click.option("--namespace", "-n", default=None,
              help="Namespace of objects without one, as for scan [default: an unknown "
                   "namespace of their own].")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text")
def reach(paths: tuple[str, ...], sources: tuple[str, ...], destinations: tuple[str, ...],
          port: str | None, namespace: str | None, fmt: str) -> None:
    """Which workloads may open connections to which, under the set's NetworkPolicies."""
    from kubeproof.analysis.netpol import Network, parse_port
    from kubeproof.index import load_index
    from kubeproof.sources.files import LoadOptions

    query = None
    if port is not None:
        try:
            query = parse_port(port)
        except ValueError as exc:
            fail(f"--port: {exc}")
    index, errors = load_index(list(paths), LoadOptions(namespace=namespace_or_exit(namespace)))
    for err in errors:
        echo(err, err=True)
    network = Network.from_index(index)
    dsts = _endpoints(index, _split(destinations), default_external=False)
    srcs = _endpoints(index, _split(sources),
                      default_external=not any(d.external for d in dsts))
    if any(s.external and d.external for s in srcs for d in dsts):
        fail("traffic between two external endpoints is not governed by NetworkPolicies: "
              "give a workload on one side")
    cells = [[network.reach(s, d, query) for d in dsts] for s in srcs]
    notes = _notes(network, srcs + dsts)
    if fmt == "json":
        click.echo(json.dumps(_json(srcs, dsts, query, cells, notes), indent=2))
    else:
        click.echo(_text(srcs, dsts, cells, notes))
    sys.exit(2 if errors else 0)


def _split(values: tuple[str, ...]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def _endpoints(index: Index, wanted: list[str], *, default_external: bool) -> list[Endpoint]:
    from kubeproof.analysis.netpol import EXTERNAL, EXTERNAL_NETWORK, Endpoint

    labels = _labels(index)
    if not wanted:
        out = [Endpoint.of_network(EXTERNAL_NETWORK, EXTERNAL)] if default_external else []
        return out + sorted((Endpoint.of_workload(w, labels[id(w)]) for w in index.workloads),
                            key=lambda e: e.label)
    found: list[Endpoint] = []
    for text in wanted:
        found.extend(_resolve(index, labels, text))
    return list({e.label: e for e in found}.values())


def _labels(index: Index) -> dict[int, str]:
    """Each workload's label: ns/name, or ns/Kind/name where names collide."""
    from kubeproof.analysis.netpol import workload_label

    plain = [workload_label(w) for w in index.workloads]
    seen: dict[str, int] = {}
    for label in plain:
        seen[label] = seen.get(label, 0) + 1
    out: dict[int, str] = {}
    for w, label in zip(index.workloads, plain, strict=True):
        if seen[label] > 1:
            ns = w.ref.namespace
            label = f"{ns}/{w.ref.kind}/{w.ref.name}" if ns is not None \
                else f"{w.ref.kind}/{w.ref.name}"
        out[id(w)] = label
    return out


def _resolve(index: Index, labels: dict[int, str], text: str) -> list[Endpoint]:
    from kubeproof.analysis.netpol import Endpoint, parse_network

    network = parse_network(text)
    if network is not None:
        return [Endpoint.of_network(network, text)]
    ns, _, name = text.rpartition("/")
    matches = [w for w in index.workloads
               if w.ref.name == name and (not ns or (w.ref.namespace or "") == ns)]
    if not matches:
        where = f" in namespace {ns!r}" if ns else ""
        fail(f"no workload named {name!r}{where} in the scanned set "
              f"(give ns/name, name, 'external' or a CIDR)")
    return [Endpoint.of_workload(w, labels[id(w)]) for w in matches]


def _notes(network: Network, endpoints: list[Endpoint]) -> list[str]:
    """What the analysis could not take into account."""
    from kubeproof.analysis.netpol import UNNAMED

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
    """The matrix and the decisions; every label escaped (kubeproof.terminal)
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
