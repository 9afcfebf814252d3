"""Scorecard: a 0–100 score and a letter grade per practice and overall.

The engine records findings, not passes, so a score is computed from how many
objects a practice's rules looked at and how bad the findings on them are.

For each practice ``p`` (0 = API hygiene, 1–16 as in the catalogue):

* ``R_p``: the rules of ``p`` that ran. None ran → ``n/a`` (practice 12, CI/CD,
  has no rules: it is served by the tool itself).
* ``N_p``: objects in ``result.checked`` with ``p`` among their practices,
  i.e. checked by at least one rule of ``R_p``, cluster-scope rules left out
  (they run on every pod but concern only control-plane components).
* per object ``o`` with findings of ``p``: ``penalty(o) = min(10, Σ weight)``,
  weights critical 10, high 5, medium 2, low 1, info 0. One critical finding,
  or two high ones, fail the object for that practice entirely.
* ``D_p = max(N_p + C_p, objects with findings of p)`` where ``C_p`` counts
  the objects whose findings of ``p`` all come from cluster-scope rules (a
  control-plane component is applicable once it has a finding);
  ``D_p = 0`` → ``n/a``.
* ``score_p = floor(100 × (1 − Σ penalty(o) / (10 × D_p)))``.
* A practice that the set gives nothing to check (``registry.PRACTICE_APPLIES``:
  service mesh (15) when no application shows a mesh and ``mesh.required`` is
  off) and that has no finding is ``n/a``, not 100.
* Network policies (9): when the set holds workloads and not a single
  NetworkPolicy, every pod accepts traffic from anywhere: ``score_9 = 0``,
  whatever the per-object findings say.

Overall: ``floor`` of the unweighted mean of the practice scores that are not
``n/a`` (each practice counts the same, however many objects it applies to);
``n/a`` when none is. Grades: A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, else F.

Which findings count: those that survive suppressions and exemptions (a
reasoned, reviewed decision) *and* the findings the baseline suppressed. A
baseline says "not new", not "fixed": those findings are accepted risks, they
weigh on the score as any other, and each practice says how many it has
(``accepted``), so that a baselined practice never shows as a clean 100 A.
``floor`` keeps 100 for a practice with no penalty at all.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from kubeproof.k8s.workloads import WORKLOAD_KINDS
from kubeproof.model import PRACTICES, Rule, Scope, Severity
from kubeproof.reports import finding_key

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult

WEIGHTS: dict[Severity, int] = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 5,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}
OBJECT_CAP = 10
NOT_APPLICABLE = "n/a"
NO_RULES_NOTE = {12: "served by the tool: exit codes, SARIF, JUnit, baselines"}
# practices that may have nothing to check (registry.PRACTICE_APPLIES)
NOTHING_TO_CHECK_NOTE = {15: "no service mesh in the set (and mesh.required is off)"}
NETWORK_POLICIES = 9
NO_NETPOL_NOTE = "workloads but no NetworkPolicy: every pod accepts traffic from anywhere"


def grade(score: int | None) -> str:
    if score is None:
        return NOT_APPLICABLE
    if score >= 90:
        return "A"
    if score >= 80:
        return "B"
    if score >= 70:
        return "C"
    if score >= 60:
        return "D"
    return "F"


def _floor(value: float) -> int:
    return math.floor(value + 1e-9)


def scorecard(result: ScanResult) -> dict[str, Any]:
    """Scores per practice and overall (see the module docstring for the formula).

    Returns ``{"score": int | None, "grade": str, "accepted": int, "practices":
    {"0": {...}, ..., "16": {...}}}``; each practice has ``name``, ``score``
    (``None`` when n/a), ``grade`` (``"n/a"`` then), ``findings`` (reported),
    ``accepted`` (suppressed by the baseline, counted in the score), ``rules``
    (how many ran), ``objects`` (D_p) and, when n/a or forced to 0, a ``note``.
    """
    rules_by_practice: dict[int, list[Rule]] = {}
    for r in result.rules:
        rules_by_practice.setdefault(r.practice, []).append(r)
    applicable: Counter[int] = Counter()  # N_p
    for obj in result.checked:
        applicable.update(obj.practices)

    # practice -> object -> summed weight
    penalties: dict[int, dict[tuple[str, str, str, str], int]] = {}
    # practice -> objects with a finding of a rule that N_p counts
    counted: dict[int, set[tuple[str, str, str, str]]] = {}
    found: Counter[int] = Counter()
    accepted: Counter[int] = Counter()
    for f in result.findings:
        found[f.rule.practice] += 1
    for f in result.accepted:
        accepted[f.rule.practice] += 1
    for f in (*result.findings, *result.accepted):
        rule = f.rule
        p = rule.practice
        per_obj = penalties.get(p)
        if per_obj is None:
            per_obj = penalties[p] = {}
            counted[p] = set()
        key = finding_key(f)
        per_obj[key] = per_obj.get(key, 0) + WEIGHTS[f.severity]
        if rule.scope != Scope.CLUSTER:
            counted[p].add(key)

    practices: dict[str, dict[str, Any]] = {}
    scored: list[float] = []
    for p, name in PRACTICES.items():
        per_obj = penalties.get(p, {})
        cluster_only = len(per_obj) - len(counted.get(p, ()))
        denominator = max(applicable.get(p, 0) + cluster_only, len(per_obj))
        entry: dict[str, Any] = {
            "name": name,
            "score": None,
            "grade": NOT_APPLICABLE,
            "findings": found.get(p, 0),
            "accepted": accepted.get(p, 0),
            "rules": len(rules_by_practice.get(p, ())),
            "objects": denominator,
        }
        if p not in rules_by_practice and not per_obj:
            entry["note"] = NO_RULES_NOTE.get(p, "no rules of this practice ran")
        elif p in result.not_applicable and not per_obj:
            entry["note"] = NOTHING_TO_CHECK_NOTE.get(p, "nothing in the set to check")
        elif p == NETWORK_POLICIES and not result.kinds.get("NetworkPolicy") and \
                any(result.kinds.get(kind) for kind in WORKLOAD_KINDS):
            scored.append(0.0)
            entry["score"] = 0
            entry["grade"] = grade(0)
            entry["note"] = NO_NETPOL_NOTE
        elif denominator == 0:
            entry["note"] = "no object it applies to"
        else:
            penalty = sum(min(OBJECT_CAP, w) for w in per_obj.values())
            raw = 100.0 * (1.0 - penalty / (OBJECT_CAP * denominator))
            scored.append(raw)
            entry["score"] = _floor(raw)
            entry["grade"] = grade(entry["score"])
        practices[str(p)] = entry

    overall = _floor(sum(scored) / len(scored)) if scored else None
    return {"score": overall, "grade": grade(overall), "accepted": len(result.accepted),
            "practices": practices}
