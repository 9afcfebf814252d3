"""Helpers shared by rule modules: effective security settings and small lookups."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kubeproof.k8s.flags import Flags
from kubeproof.k8s.workloads import ContainerView, PodView
from kubeproof.model import Violation

# the type guards live in util.shapes (k8s uses them too); re-exported here so that
# rule modules keep importing their helpers from one place
from kubeproof.util.shapes import QUOTE_LIMIT as QUOTE_LIMIT
from kubeproof.util.shapes import Path
from kubeproof.util.shapes import as_dict as as_dict
from kubeproof.util.shapes import as_list as as_list
from kubeproof.util.shapes import one_of as one_of
from kubeproof.util.shapes import quote as quote


def effective(pod: PodView, c: ContainerView, key: str) -> tuple[Any, Path]:
    """A securityContext setting as the kubelet sees it: the container's value,
    else the pod's (for the keys the pod-level securityContext has).

    Returns the value and the path of the field that set it, or the path the
    container field would have when neither sets it.
    """
    csc = c.security_context
    if key in csc and csc[key] is not None:
        return csc[key], (*c.path, "securityContext", key)
    psc = pod.security_context
    if key in psc and psc[key] is not None:
        return psc[key], (*pod.spec_path, "securityContext", key)
    return None, (*c.path, "securityContext", key)


# a whole number as the API server reads an IntOrString: ASCII digits only (not
# str.isdigit(), which accepts "²"), and short enough that int() is cheap and
# cannot hit Python's digit limit


# a DNS-1123 subdomain: what most object names must be (at most 253 characters)
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def is_dns_subdomain(value: Any) -> bool:
    """Whether ``value`` is a valid DNS-1123 subdomain (e.g. a ServiceAccount name)."""
    return isinstance(value, str) and len(value) <= 253 \
        and DNS_SUBDOMAIN.fullmatch(value) is not None


def grouped(found: Flags, problems: list[tuple[Path, str]]) -> Iterator[Violation]:
    """One violation per path, joining the problems found at the same item."""
    by_path: dict[Path, list[str]] = {}
    for path, text in problems:
        by_path.setdefault(path, []).append(text)
    for path, texts in by_path.items():
        yield Violation(path, f"{found.label()} {' and '.join(texts)}",
                        container=found.container.name)
