"""Suppressions the manifests themselves state: the ``kubeproof.dev/ignore``
annotation (on the object or its pod template) and inline
``# kubeproof:ignore`` comments on a finding's line or the comment line above.

Both name rules by code, name or family (``catalogue.lookup``); the run's own
rules (custom rules, policies: not in the catalogue) by their code or name.
With no names, an inline comment silences every rule on its line. A code this
version does not know still counts, so a manifest written for a newer
kubeproof, or for a custom rule another config defines, keeps its
suppressions: built-in codes (``KP0803``), custom codes (a team prefix and a
number, capitals: ``ACME001``, ``ACME-12``) and policy codes (``vap/<name>``,
``vpol/<name>``, ``kyverno/[<namespace>/]<name>``).
"""

from __future__ import annotations

import re
from typing import Any

from kubeproof.core.catalogue import lookup
from kubeproof.core.custom_rules import RUN_RULE_CODE
from kubeproof.model import Resource, Rule

IGNORE_ANNOTATION = "kubeproof.dev/ignore"
IGNORE_REASON_ANNOTATION = "kubeproof.dev/ignore-reason"
_INLINE = re.compile(r"#\s*kubeproof:ignore\b([^#]*)")
_CODE_LIKE = re.compile(r"(?i:KP\d{2,4})|" + RUN_RULE_CODE.pattern)


def annotation_ignores(res: Resource, allow_annotations: bool) -> set[str] | None:
    """The rule codes (or ``*``/``all``) the object's ignore annotations name,
    each name expanded to its codes; None when it has none or annotations are
    not honoured (``allow_annotations`` off in the config)."""
    if not allow_annotations:
        return None
    tokens: set[str] = set()
    sources: list[Any] = [res.metadata.get("annotations")]
    pod = res.pod
    if pod is not None:
        sources.append(pod.metadata.get("annotations"))
    for ann in sources:
        if isinstance(ann, dict):
            value = ann.get(IGNORE_ANNOTATION)
            if isinstance(value, str):
                tokens.update(t.strip() for t in value.split(",") if t.strip())
    if not tokens:
        return None
    expanded = set(tokens)
    for t in tokens:
        expanded.update(r.code for r in lookup(t))
    return expanded


def ignores(ignored: set[str] | frozenset[str] | None, rule: Rule) -> bool:
    """Whether the codes :func:`annotation_ignores` gave silence ``rule``."""
    return ignored is not None and (rule.code in ignored or "*" in ignored or "all" in ignored
                                    or (rule.source != "" and rule.name in ignored))


def inline_ignored(locator: Any, line: int, rule: Rule) -> bool:
    """Whether a ``# kubeproof:ignore`` comment on ``line`` (or alone on the
    line above) silences ``rule``. After the codes, the rest of the comment is
    the reason."""
    if locator is None or not locator.has_inline_ignores:
        return False
    for ln in (line, line - 1):
        text = locator.line_text(ln)
        if ln == line - 1 and not text.lstrip().startswith("#"):
            continue
        m = _INLINE.search(text)
        if not m:
            continue
        # ``kubeproof:ignore KP0803 reason``; ``kubeproof:ignore=ACME001`` too
        words = m.group(1).lstrip().removeprefix("=").replace(",", " ").split()
        codes: set[str] = set()
        for w in words:
            found = lookup(w)
            if found:
                codes.update(r.code for r in found)
            elif w == rule.name or w == rule.code:  # the run's own rule (custom, policy)
                codes.add(rule.code)
            elif _CODE_LIKE.fullmatch(w):
                codes.add(w.upper() if w[:2].upper() == "KP" else w)  # unknown here
            else:
                break  # the rest is the reason
        if not codes or rule.code in codes:
            return True
    return False
