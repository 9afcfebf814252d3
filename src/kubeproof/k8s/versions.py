"""Kubernetes versions kubeproof knows, and parsing of ``--kube-version``."""

from __future__ import annotations

import re

# Newest Kubernetes minor whose Pod Security Standards and API removals are
# encoded here (upstream PSS fixtures go to v1.37).
NEWEST_KNOWN = (1, 37)
DEFAULT_KUBE_VERSION = NEWEST_KNOWN


def parse_kube_version(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if not m or int(m.group(1)) != 1:
        raise ValueError(f"invalid Kubernetes version {text!r} (expected X.Y such as 1.30)")
    version = (1, int(m.group(2)))
    if version > NEWEST_KNOWN:
        newest = f"{NEWEST_KNOWN[0]}.{NEWEST_KNOWN[1]}"
        raise ValueError(f"Kubernetes {text} is newer than the newest known ({newest})")
    return version
