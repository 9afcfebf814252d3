"""Helpers shared by rule modules: effective security settings and small lookups."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, TypeGuard

from kubeproof.k8s.workloads import ContainerView, PodView
from kubeproof.model import Path
from kubeproof.util.terminal import safe


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


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def one_of(value: Any, choices: Collection[str]) -> TypeGuard[str]:
    """Whether ``value`` is one of the string ``choices``. A wrong-typed value
    (a list or map where a string belongs) is none of them, not a TypeError
    from hashing it."""
    return isinstance(value, str) and value in choices


# a whole number as the API server reads an IntOrString: ASCII digits only (not
# str.isdigit(), which accepts "²"), and short enough that int() is cheap and
# cannot hit Python's digit limit


QUOTE_LIMIT = 512  # characters of a value a message shows (image references run to ~460)


def quote(value: Any) -> str:
    """A value as messages show it: strings in double quotes, others as Python
    shows them. Hostile values stay one short line: control and bidi characters
    (U+202E would reorder the terminal line) are escaped, and a long value is
    cut to its start and its length."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > QUOTE_LIMIT:
        text = f"{text[:QUOTE_LIMIT - 20]}… ({len(text)} characters)"
    text = safe(text)
    return f'"{text}"' if isinstance(value, str) else text


# a DNS-1123 subdomain: what most object names must be (at most 253 characters)
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def is_dns_subdomain(value: Any) -> bool:
    """Whether ``value`` is a valid DNS-1123 subdomain (e.g. a ServiceAccount name)."""
    return isinstance(value, str) and len(value) <= 253 \
        and DNS_SUBDOMAIN.fullmatch(value) is not None
