"""Kubernetes name formats that more than one layer checks against.

A port name is an IANA_SVC_NAME (``k8s.io/apimachinery/pkg/util/validation``):
the API hygiene rule reports a bad one, and the reachability engine must not take
a bad one for a name a policy port can refer to, so both read it here.
"""

from __future__ import annotations

import re

from kubeproof.k8s.placeholders import is_placeholder

_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_HAS_LETTER = re.compile(r"[a-z]")


def port_name_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA_SVC_NAME, or None."""
    if is_placeholder(name):
        return None
    if len(name) > 15:
        return f"is {len(name)} characters long (at most 15)"
    if not _IANA_SVC_NAME.match(name) or "--" in name:
        return ("must contain only lowercase letters, digits and single '-', starting and "
                "ending with a letter or digit")
    if not _HAS_LETTER.search(name):
        return "must contain at least one letter"
    return None
