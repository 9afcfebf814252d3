"""The built-in ClusterRoles: data as upstream ships it, aggregation resolved."""

from __future__ import annotations

import json
import subprocess
import sys

from kubeproof.k8s.rbac_roles import (
    LabelledRole,
    aggregate,
    aggregated_builtins,
    builtin_role,
    builtin_roles,
    effective_rules,
)
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from tests.support.paths import ROOT

DATA = ROOT / "src" / "kubeproof" / "data" / "builtin_clusterroles.json"
V = DEFAULT_KUBE_VERSION


def test_data_names_its_source_and_licence() -> None:
    data = json.loads(DATA.read_text())
    about = " ".join(data["_about"])
    assert "Apache License 2.0" in about and data["source"]["commit"] in about
    notice = (DATA.parent / "NOTICE").read_text()
    assert "The Kubernetes Authors" in notice and data["source"]["commit"] in notice


def test_default_roles_and_bootstrap_roles_are_known() -> None:
    names = set(builtin_roles(V))
    assert {"cluster-admin", "admin", "edit", "view", "system:node",
            "system:aggregate-to-edit", "system:kubelet-api-admin"} <= names
    assert builtin_role("team-operator", V) is None
    assert builtin_role(["admin"], V) is None  # hostile roleRef names


def test_admin_edit_view_are_aggregated_as_the_controller_does() -> None:
    def grants(name: str, resource: str, verb: str) -> bool:
        return any(resource in r.get("resources", []) and verb in r.get("verbs", [])
                   and r.get("apiGroups") == [""] for r in effective_rules(name, V))

    assert builtin_role("edit", V).rules == ()  # type: ignore[union-attr]
    assert grants("view", "pods", "list") and not grants("view", "secrets", "get")
    assert grants("edit", "secrets", "get") and grants("edit", "pods", "list")  # view's
    assert grants("edit", "pods/exec", "create")
    assert not any("rolebindings" in r.get("resources", []) for r in effective_rules("edit", V))
    assert any("rolebindings" in r.get("resources", []) for r in effective_rules("admin", V))
    assert len(effective_rules("admin", V)) > len(effective_rules("edit", V)) \
        > len(effective_rules("view", V))
    assert effective_rules("no-such-role", V) == ()


def test_aggregation_is_bounded_and_ignores_invalid_selectors() -> None:
    ring = [LabelledRole(n, {"ring": "yes"}, (), ({"matchLabels": {"ring": "yes"}},))
            for n in ("a", "b", "c")]
    leaf = LabelledRole("leaf", {"ring": "yes"}, ({"verbs": ["get"]},))
    assert [r.name for r in aggregate(ring[0], [*ring, leaf])] == ["leaf"]
    junk = (1, None, "x", [], {"matchLabels": [1]}, {"matchExpressions": {"a": 1}},
            {"matchExpressions": [{"key": "k", "operator": "Bogus"}]})
    root = LabelledRole("root", {}, (), junk)
    assert aggregate(root, [leaf]) == []


def test_set_roles_aggregating_builtin_ones() -> None:
    names, rules = aggregated_builtins(
        "mine", [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}], V)
    # through the built-in edit and view (aggregated roles), to the roles that hold rules
    assert names == ["system:aggregate-to-admin", "system:aggregate-to-edit",
                     "system:aggregate-to-view"]
    assert list(effective_rules("admin", V)) == rules
    # a set role named like a built-in never selects the built-in it replaces
    names, _ = aggregated_builtins("cluster-admin", [{}], V)
    assert "cluster-admin" not in names and "system:node" in names


def test_data_file_is_what_the_generator_writes() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_builtin_roles.py")],
                          capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout == DATA.read_text(), "run tools/gen_builtin_roles.py > " + str(DATA)
