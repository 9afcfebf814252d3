"""KP1306 (canary-mismatch): a Service's stable and canary workloads that differ
where a canary must not (ports, probes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.core.index import ContainerRec, Index, Record, WorkloadRec
from kubeproof.k8s.quantity import decimal_int
from kubeproof.k8s.selectors import SelectorError, is_empty_selector, label_selector_matches
from kubeproof.model import Path, Scope, SetViolation
from kubeproof.rules.common import as_dict, as_list, quote
from kubeproof.rules.p05_labels.selection import (
    TemplateLookup,
    comparison_group,
)
from kubeproof.rules.p13_rollouts.scaling import int_or_none


def _image_repo(image: str | None) -> str | None:
    if not image:
        return None
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


def _same_app(a: WorkloadRec, b: WorkloadRec) -> bool:
    """Stable and canary: a same-named container from the same image repository."""
    repos = {(c.name, _image_repo(c.image)) for c in a.containers if c.image}
    return any((c.name, _image_repo(c.image)) in repos for c in b.containers if c.image)


def _serving(w: WorkloadRec) -> list[ContainerRec]:
    return [c for c in w.containers if len(c.path) >= 2 and c.path[-2] != "ephemeralContainers"]


def _named_port(w: WorkloadRec, name: str) -> tuple[Any, ContainerRec] | None:
    for c in _serving(w):
        for p in c.ports:
            if p.get("name") == name:
                return p.get("containerPort"), c
    return None


def _declared_ports(w: WorkloadRec) -> set[int]:
    return {p["containerPort"] for c in _serving(w) for p in c.ports
            if int_or_none(p.get("containerPort")) is not None}


def _probe_text(probe: Any) -> str | None:
    """What a readiness probe checks, as compared and shown (never an exec
    command, header or query string: they can hold credentials); None when
    there is none."""
    if not isinstance(probe, dict) or not probe:
        return None
    if isinstance(probe.get("httpGet"), dict):
        h = probe["httpGet"]
        path = str(h.get("path", "/")).split("?", 1)[0]
        return f"httpGet {h.get('scheme', 'HTTP')} {path} on port {h.get('port')}"
    if isinstance(probe.get("tcpSocket"), dict):
        return f"tcpSocket on port {probe['tcpSocket'].get('port')}"
    if isinstance(probe.get("grpc"), dict):
        g = probe["grpc"]
        service = f" service {g.get('service')}" if g.get("service") else ""
        return f"grpc on port {g.get('port')}{service}"
    if "exec" in probe:
        return "exec " + repr(probe.get("exec"))
    return "no handler"


def _show_probe(text: str) -> str:
    return "an exec command" if text.startswith("exec ") else text


def _canary_differences(svc: Record, stable: WorkloadRec, canary: WorkloadRec,
                        ) -> Iterator[tuple[Path, str]]:
    s, c = quote(stable.ref.name), quote(canary.ref.name)
    first = _serving(canary)
    base: Path = first[0].path if first else ("spec", "template", "spec", "containers")
    declared_s, declared_c = _declared_ports(stable), _declared_ports(canary)
    for p in as_list(as_dict(svc.data.get("spec")).get("ports")):
        p = as_dict(p)
        target = p.get("targetPort", p.get("port"))
        if decimal_int(target) is not None:
            target = decimal_int(target)
        if isinstance(target, str):
            in_s, in_c = _named_port(stable, target), _named_port(canary, target)
            if (in_s is None and in_c is None) or (in_s and in_c and in_s[0] == in_c[0]):
                continue
            where = (*in_c[1].path, "ports") if in_c else (*base, "ports")
            was = f"{in_s[0]} in {s}" if in_s else f"not declared in {s}"
            now = f"{in_c[0]} in {c}" if in_c else f"not declared in {c}"
            yield where, f"targetPort {quote(target)} is {was} but {now}"
        elif int_or_none(target) is not None and declared_s and declared_c \
                and (target in declared_s) != (target in declared_c):
            have, lack = (s, c) if target in declared_s else (c, s)
            yield (*base, "ports"), (f"container port {target} is declared in {have} "
                                     f"but not in {lack}")
    stable_by_name = {x.name: x for x in _serving(stable)}
    for x in _serving(canary):
        other = stable_by_name.get(x.name)
        if other is None:
            continue
        before, after = _probe_text(other.readiness), _probe_text(x.readiness)
        if before == after:
            continue
        if after is None:
            what = f"has a readinessProbe in {s} but none in {c}"
        elif before is None:
            what = f"has a readinessProbe in {c} but none in {s}"
        else:
            what = (f"probes readiness with {_show_probe(before)} in {s} "
                    f"but {_show_probe(after)} in {c}")
        yield (*x.path, "readinessProbe"), f"container {quote(x.name)} {what}"
    for a, b in ((stable, canary), (canary, stable)):
        sel = a.selector
        if not isinstance(sel, dict) or is_empty_selector(sel):
            continue
        try:
            overlaps = label_selector_matches(sel, b.labels)
        except SelectorError:
            continue
        if overlaps:
            yield ("spec", "selector"), (f"the selector of {quote(a.ref.name)} also selects the "
                                         f"pods of {quote(b.ref.name)}")
            break


@rule("KP1306", "canary-mismatch", practice=13, severity="medium", scope=Scope.SET)
def canary_mismatch(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Stable and canary Deployments behind one Service that disagree.

    What:
        Two or more Deployments whose pod templates one Service selects and
        that run the same application (a same-named container from the same
        image repository, tags may differ), where the canary differs from
        the stable Deployment in a way that changes traffic: a Service
        `targetPort` that maps to different container ports or is declared in
        only one of them, a readiness probe present in one only or checking
        something else (handler, path, port), or a Deployment selector that
        also selects the other's pods. The stable one has the most replicas
        (ties: first by name); findings are reported on the others.
        Deployments are compared with those of the Service's namespace and
        directory (other directories often hold variants that are not
        deployed together); unnamespaced objects only within one file.

    Why:
        A canary must differ from stable only in the version under test.
        When the Service reaches it on another port, or its readiness gate
        is different, the canary's results say nothing about the new version
        (or it takes traffic before it is ready); overlapping Deployment
        selectors make the two controllers fight over each other's pods.

    How:
        Keep the canary's ports, named ports and readiness probe identical to
        the stable Deployment's, and give each Deployment a selector with a
        distinguishing label (`track: stable` / `track: canary`) that the
        Service selector leaves out.

    Example:
        ```yaml
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web-canary, namespace: shop}
        spec:
          replicas: 1
          selector:
            matchLabels: {app: web, track: canary}
          template:
            metadata:
              labels: {app: web, track: canary}
            spec:
              containers:
                - name: web
                  image: ghcr.io/acme/web:1.5.0
                  ports: [{name: http, containerPort: 8080}]
                  readinessProbe:
                    httpGet: {path: /ready, port: http}
        ```
    """
    deployments = [w for w in index.workloads if w.ref.kind == "Deployment"]
    if len(deployments) < 2 or not index.services:
        return
    lookup = TemplateLookup(deployments, group=lambda w: comparison_group(w.ref))
    seen: set[tuple[Any, ...]] = set()
    compared: set[tuple[Any, ...]] = set()
    for svc in index.services:
        spec = as_dict(svc.data.get("spec"))
        selector = spec.get("selector")
        if spec.get("type") == "ExternalName" or not isinstance(selector, dict) or not selector:
            continue
        group = comparison_group(svc.ref)
        key = (group, repr(selector), repr(spec.get("ports")))
        if key in compared:  # a copy of a Service already compared
            continue
        compared.add(key)
        by_name: dict[str, WorkloadRec] = {}
        for w in lookup.map_select(group, selector):
            by_name.setdefault(w.ref.name, w)  # copies of one Deployment count once
        if len(by_name) < 2:
            continue
        ranked = sorted(by_name.values(),
                        key=lambda w: (-(w.replicas if w.replicas is not None else -1),
                                       w.ref.name))
        stable = ranked[0]
        for canary in ranked[1:]:
            if not _same_app(stable, canary):
                continue
            for path, detail in _canary_differences(svc, stable, canary):
                found = (canary.ref, stable.ref.name, path, detail)
                if found in seen:
                    continue
                seen.add(found)
                yield SetViolation(canary.ref, path,
                                   f"canary Deployment {quote(canary.ref.name)} differs from "
                                   f"{quote(stable.ref.name)} behind Service "
                                   f"{quote(svc.ref.name)}: {detail}")
