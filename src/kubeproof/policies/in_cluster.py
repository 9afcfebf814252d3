"""The policies of a live cluster, for ``audit``: its ValidatingAdmissionPolicies
and their bindings, Kyverno's ValidatingPolicies and ClusterPolicies/Policies
when its CRDs are installed, with the namespaces and the param objects they
read, listed before the audit's own read (read-only: list calls only).

The API server judges an object only when it is admitted; this is how the
objects already running are judged against the cluster's own policies.
A kind the cluster does not serve (no Kyverno, a server before VAP) is not
an error: it has no policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeproof.model import InputError
from kubeproof.policies.as_rules import NAMESPACED_KINDS
from kubeproof.policies.kinds import KYVERNO_GROUP, KYVERNO_RULES_GROUP, VAP_GROUP
from kubeproof.policies.model import Source
from kubeproof.policies.resources import guess_plural, split_api_version
from kubeproof.policies.scanned import ScanPolicies, SetLookup, input_error
from kubeproof.sources.cluster import ClusterReader, Connection, KindSpec

POLICY_SPECS: tuple[KindSpec, ...] = (
    KindSpec(VAP_GROUP, "ValidatingAdmissionPolicy", "validatingadmissionpolicies",
             optional=True),
    KindSpec(VAP_GROUP, "ValidatingAdmissionPolicyBinding",
             "validatingadmissionpolicybindings", optional=True),
    KindSpec(KYVERNO_GROUP, "ValidatingPolicy", "validatingpolicies", optional=True),
    KindSpec(KYVERNO_GROUP, "NamespacedValidatingPolicy", "namespacedvalidatingpolicies",
             optional=True),
    KindSpec(KYVERNO_RULES_GROUP, "ClusterPolicy", "clusterpolicies", optional=True),
    KindSpec(KYVERNO_RULES_GROUP, "Policy", "policies", optional=True),
)
NAMESPACES = KindSpec("", "Namespace", "namespaces")


class ReadStopped(Exception):
    """The cluster stopped answering (credentials rejected, unreachable) while
    its policies were read: the audit cannot go on either."""

    def __init__(self, error: InputError) -> None:
        super().__init__(error.message)
        self.error = error


def read_policies(conn: Connection, kube_version: tuple[int, int], *,
                  namespace: str | None = None, max_requests: int = 4,
                  page_size: int = 500) -> ScanPolicies:
    """The cluster's policies compiled, with their lookup (namespaces, params).
    An audit narrowed to ``namespace`` reads the cluster-scoped policies, and
    the namespaced ones (Kyverno ``Policy``, ``NamespacedValidatingPolicy``)
    and the Namespace of that namespace only. Raises :class:`ReadStopped` on a fatal error."""
    errors: list[InputError] = []
    docs: list[tuple[Mapping[str, Any], Source]] = []
    lookup = SetLookup()
    cluster_wide = tuple(s for s in POLICY_SPECS if s.kind not in NAMESPACED_KINDS)
    namespaced = tuple(s for s in POLICY_SPECS if s.kind in NAMESPACED_KINDS)
    found = _list(conn, cluster_wide, None, max_requests, page_size, errors) + \
        _list(conn, (*namespaced, NAMESPACES), namespace, max_requests, page_size, errors)
    for obj, where in found:
        if obj.get("kind") == "Namespace":
            lookup.add(obj, set())
        else:
            docs.append((obj, Source(where)))
    if not docs:  # no policy: the CEL runtime is never loaded
        return ScanPolicies(errors=errors)
    # start-up: the CEL runtime, its Kubernetes libraries and protobuf cost ~70 ms of
    # imports (perf_counter, best of 3); only a cluster with policies needs them
    from kubeproof.policies.compile import compile_policies

    compiled = compile_policies(docs, kube_version)
    param_kinds = compiled.param_kinds()
    specs = []
    for api_version, kind in sorted(param_kinds):
        group, _ = split_api_version(api_version)
        specs.append(KindSpec(group, kind, guess_plural(kind), optional=True))
    if specs:
        # params anywhere: a binding's paramRef names their namespace
        for obj, _ in _list(conn, tuple(specs), None, max_requests, page_size, errors):
            lookup.add(obj, param_kinds)
    errors.extend(input_error(e) for e in compiled.errors)
    return ScanPolicies(compiled.policies, lookup, errors,
                        [input_error(e) for e in compiled.unsupported])


def _list(conn: Connection, specs: tuple[KindSpec, ...], namespace: str | None,
          max_requests: int, page_size: int, errors: list[InputError]
          ) -> list[tuple[dict[str, Any], str]]:
    """Every object of ``specs`` (in ``namespace``; None: everywhere), with the
    label naming it; raises :class:`ReadStopped` when the reading stopped."""
    reader = ClusterReader(conn, max_requests=max_requests, page_size=page_size)
    found: list[tuple[dict[str, Any], str]] = []
    events = list(reader.read(specs, namespace))
    if reader.fatal is not None:
        raise ReadStopped(InputError(conn.where, None, str(reader.fatal)))
    for event in events:
        if isinstance(event, InputError):
            errors.append(event)
            continue
        for located in event.loaded.objects:
            obj = located.resource.obj
            if isinstance(obj, dict):
                found.append((obj, located.resource.origin.file))
    return found
