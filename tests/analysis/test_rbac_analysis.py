"""RBAC who-can and risky: the authorizer's decisions on the documentation's examples.

The fixtures are the examples of the Kubernetes RBAC documentation (Role,
ClusterRole, RoleBinding, ClusterRoleBinding, subresources, resourceNames,
aggregation) plus the edges the authorizer defines: wildcards, ``*/sub``,
cluster-scoped resources, defaulted ServiceAccount namespaces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubeproof.analysis.rbac import (
    Grant,
    PowerChecks,
    Request,
    load_rbac,
    make_request,
    risky,
    rule_grants,
    who_can,
)
from kubeproof.core.catalogue import rule_by_code
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from tests.support.cli import kp, no_traceback
from tests.support.paths import ROOT

# the checks of KP0702-KP0705, from the catalogue as `kubeproof rbac risky` takes them
POWERS = PowerChecks.by_code(lambda code: rule_by_code(code).check)

FIX = Path(__file__).parent / "fixtures"
BAD_EXAMPLE = ROOT / "examples" / "bad"


def grant_text(g: Grant) -> str:
    """``subject <- binding role#rule[@source]`` plus the names a partial grant is limited to."""
    source = "" if g.rule.source == g.role else f"@{g.rule.source.name}"
    out = f"{g.subject.text()} <- {g.binding.text()} {g.role.text()}#{g.rule.index}{source}"
    return out + (f" only {','.join(g.names)}" if g.names else "")


def who(fixture: str, verb: str, resource: str, **kw: Any) -> set[str]:
    rbac = load_rbac([str(FIX / fixture)])
    assert not rbac.errors, rbac.errors
    return {grant_text(g) for g in who_can(rbac, make_request(verb, resource, **kw))}


JANE = "User jane <- RoleBinding/read-pods Role/pod-reader#0"
LOGGER = "User logger <- RoleBinding/read-pod-logs Role/pod-and-pod-logs-reader#0"
DAVE = "User dave <- RoleBinding/read-secrets ClusterRole/secret-reader#0"
MANAGER = "Group manager <- ClusterRoleBinding/read-secrets-global ClusterRole/secret-reader#0"
CM_EDITOR = "User cm-editor <- RoleBinding/update-configmap Role/configmap-updater#0"
ADMIN = "User admin-user <- ClusterRoleBinding/admin-user-everything ClusterRole/everything#0"
DEV_LEAD = "User dev-lead <- RoleBinding/dev-lead-everything ClusterRole/everything#0"
DEV_TEAM = "Group dev-team <- RoleBinding/dev-team-deployments Role/deployment-writer#0"
HPA_BOT = ("ServiceAccount autoscaler/hpa-bot <- ClusterRoleBinding/hpa-bot-scale "
           "ClusterRole/scale-anything#0")
NODE_VIEWERS = "Group node-viewers <- ClusterRoleBinding/node-viewers ClusterRole/node-reader#0"
PROMETHEUS = ("ServiceAccount monitoring/prometheus <- ClusterRoleBinding/prometheus-monitoring "
              "ClusterRole/monitoring#{}@monitoring-endpoints")
AUDITOR = ("User auditor <- ClusterRoleBinding/auditor-super-monitoring "
           "ClusterRole/super-monitoring#{}@monitoring-endpoints")
EDITORS = "Group editors <- RoleBinding/editors ClusterRole/edit-lite#0@aggregate-cron-tabs-edit"
VIEWERS = "Group viewers <- RoleBinding/viewers ClusterRole/view-lite#0@aggregate-cron-tabs-view"
HALF = ("User half <- ClusterRoleBinding/half-broken "
        "ClusterRole/half-broken#0@aggregate-cron-tabs-view")
LEASES = "RoleBinding/lease-editors Role/lease-editor#0"

CASES: list[tuple[str, str, str, str, dict[str, Any], set[str]]] = [
    # --- Role + RoleBinding: only in the binding's namespace
    ("role-in-its-namespace", "docs.yaml", "get", "pods", {"namespace": "default"},
     {JANE, LOGGER}),
    ("role-not-in-other-namespace", "docs.yaml", "get", "pods", {"namespace": "development"},
     set()),
    ("verb-not-granted", "docs.yaml", "delete", "pods", {"namespace": "default"}, set()),
    # --- a RoleBinding to a ClusterRole grants in its namespace only
    ("clusterrole-via-rolebinding-in-ns", "docs.yaml", "get", "secrets",
     {"namespace": "development"}, {DAVE, MANAGER}),
    ("clusterrole-via-rolebinding-elsewhere", "docs.yaml", "list", "secrets",
     {"namespace": "default"}, {MANAGER}),
    ("any-namespace-shows-both-scopes", "docs.yaml", "watch", "secrets", {}, {DAVE, MANAGER}),
    ("wrong-api-group", "docs.yaml", "get", "secrets", {"group": "apps"}, set()),
    # --- subresources are separate resources
    ("subresource-listed", "docs.yaml", "get", "pods/log", {"namespace": "default"}, {LOGGER}),
    ("subresource-flag", "docs.yaml", "get", "pods", {"namespace": "default",
                                                      "subresource": "log"}, {LOGGER}),
    ("subresource-not-implied", "docs.yaml", "get", "pods/exec", {"namespace": "default"},
     set()),
    # --- resourceNames
    ("resource-name-listed", "docs.yaml", "update", "configmaps",
     {"namespace": "default", "name": "my-configmap"}, {CM_EDITOR}),
    ("resource-name-other", "docs.yaml", "update", "configmaps",
     {"namespace": "default", "name": "other"}, set()),
    ("resource-name-unasked-is-partial", "docs.yaml", "get", "configmaps",
     {"namespace": "default"}, {CM_EDITOR + " only my-configmap"}),
    ("create-cannot-be-limited-by-name", "docs.yaml", "create", "configmaps",
     {"namespace": "default", "name": "my-configmap"}, set()),
    ("deletecollection-cannot-be-limited-by-name", "docs.yaml", "deletecollection",
     "configmaps", {"namespace": "default"}, set()),
    # --- wildcards
    ("star-everything-cluster-scoped", "wildcards.yaml", "delete", "nodes", {}, {ADMIN}),
    ("cluster-scoped-skips-rolebindings", "wildcards.yaml", "get", "nodes", {},
     {ADMIN, NODE_VIEWERS}),
    ("builtin-group-inferred", "wildcards.yaml", "create", "deployments", {"namespace": "dev"},
     {ADMIN, DEV_LEAD, DEV_TEAM}),
    ("group-in-resource-name", "wildcards.yaml", "patch", "deployments.apps",
     {"namespace": "dev"}, {ADMIN, DEV_LEAD, DEV_TEAM}),
    ("star-api-group-only", "wildcards.yaml", "create", "deployments",
     {"namespace": "dev", "group": "extensions"}, {ADMIN, DEV_LEAD}),
    ("star-slash-subresource", "wildcards.yaml", "patch", "deployments/scale",
     {"namespace": "dev"}, {ADMIN, DEV_LEAD, HPA_BOT}),
    ("star-slash-subresource-any-ns", "wildcards.yaml", "update", "statefulsets/scale", {},
     {ADMIN, DEV_LEAD, HPA_BOT}),
    ("star-slash-needs-subresource", "wildcards.yaml", "update", "statefulsets", {},
     {ADMIN, DEV_LEAD}),
    ("resource-slash-star-is-literal", "wildcards.yaml", "create", "pods/exec",
     {"namespace": "dev"}, {ADMIN, DEV_LEAD}),
    ("second-rule-index", "wildcards.yaml", "delete", "jobs", {"namespace": "dev"},
     {ADMIN, DEV_LEAD, "User ci <- RoleBinding/ci-jobs Role/job-runner#1"}),
    ("non-resource-urls-never-grant-resources", "wildcards.yaml", "get", "healthz", {},
     {ADMIN, DEV_LEAD}),
    ("impersonate-users-cluster-scoped", "wildcards.yaml", "impersonate", "users", {},
     {ADMIN}),
    ("other-namespace-only-cluster-bindings", "wildcards.yaml", "get", "pods",
     {"namespace": "prod"}, {ADMIN}),
    # --- aggregation
    # half-broken's valid selector also selects the built-in system:aggregate-to-view
    ("aggregated", "aggregation.yaml", "list", "pods", {"namespace": "x"},
     {PROMETHEUS.format(0), AUDITOR.format(0),
      "User half <- ClusterRoleBinding/half-broken "
      "ClusterRole/half-broken#0@system:aggregate-to-view"}),
    # edit-lite, view-lite and half-broken select built-in roles too (system:aggregate-to-view,
    # directly or through the built-in view, labelled aggregate-to-edit)
    ("aggregated-second-rule", "aggregation.yaml", "watch", "endpointslices", {},
     {PROMETHEUS.format(1), AUDITOR.format(1),
      *(f"{who} ClusterRole/{role}#3@system:aggregate-to-view" for who, role in (
          ("Group viewers <- RoleBinding/viewers", "view-lite"),
          ("Group editors <- RoleBinding/editors", "edit-lite"),
          ("User half <- ClusterRoleBinding/half-broken", "half-broken")))}),
    ("aggregated-edit-only", "aggregation.yaml", "create", "crontabs",
     {"namespace": "dev", "group": "stable.example.com"}, {EDITORS}),
    ("aggregated-edit-and-view", "aggregation.yaml", "list", "crontabs",
     {"namespace": "dev", "group": "stable.example.com"},
     {EDITORS, VIEWERS, HALF,
      # edit-lite selects the built-in view (aggregate-to-edit), which aggregates the view role
      "Group editors <- RoleBinding/editors ClusterRole/edit-lite#0@aggregate-cron-tabs-view"}),
    ("aggregated-rolebinding-stays-in-ns", "aggregation.yaml", "list", "crontabs",
     {"namespace": "prod", "group": "stable.example.com"}, {HALF}),
    # greedy's own rule is not used; edit-lite reads secrets through the built-in role
    ("aggregation-replaces-own-rules", "aggregation.yaml", "get", "secrets", {},
     {"Group editors <- RoleBinding/editors ClusterRole/edit-lite#0@system:aggregate-to-edit"}),
    # --- subjects
    ("service-account-group", "subjects.yaml", "get", "pods", {"namespace": "qa"},
     {"Group system:serviceaccounts:qa <- RoleBinding/qa-service-accounts "
      "ClusterRole/pod-viewer#0"}),
    ("service-account-subjects", "subjects.yaml", "update", "leases",
     {"namespace": "kube-system"},
     {f"ServiceAccount kube-system/default <- {LEASES}",
      f"ServiceAccount kube-system/builder <- {LEASES}",
      f"User system:serviceaccount:ci:deployer <- {LEASES}"}),
    ("sa-without-namespace-in-crb-matches-nothing", "subjects.yaml", "get", "configmaps",
     {"namespace": "qa"},
     {"Group system:serviceaccounts <- ClusterRoleBinding/all-service-accounts "
      "ClusterRole/configmap-reader#0"}),
    # --- malformed input grants nothing it should not
    ("malformed-rules-grant-nothing", "bad_input.yaml", "get", "configmaps",
     {"namespace": "dev"}, set()),
    ("non-string-verbs-skipped", "bad_input.yaml", "get", "services", {"namespace": "dev"},
     {"User odd <- RoleBinding/odd-rules Role/odd-rules#4"}),
    ("builtin-cluster-admin-with-bad-subjects", "bad_input.yaml", "get", "pods", {}, set()),
]


@pytest.mark.parametrize(("fixture", "verb", "resource", "kw", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_who_can(fixture: str, verb: str, resource: str, kw: dict[str, Any],
                 expected: set[str]) -> None:
    assert who(fixture, verb, resource, **kw) == expected


def test_scope_and_notes() -> None:
    rbac = load_rbac([str(FIX / "docs.yaml"), str(FIX / "subjects.yaml")])
    grants = who_can(rbac, make_request("get", "secrets"))
    assert {(g.subject.name, g.binding.scope()) for g in grants} == {
        ("dave", "namespace development"), ("manager", "cluster-wide")}
    grants = who_can(rbac, make_request("get", "pods", namespace="qa"))
    assert [g.notes for g in grants] == [
        ("every ServiceAccount in namespace qa (in the set: qa/default, qa/tester)",)]
    grants = who_can(rbac, make_request("get", "leases", namespace="kube-system"))
    notes = {g.subject.name: g.notes for g in grants}
    assert notes["system:serviceaccount:ci:deployer"] == ("the user of ServiceAccount ci/deployer",)
    assert notes["default"] == ()


@pytest.mark.parametrize(("args", "kw", "message"), [
    (("get", "nodes"), {"namespace": "dev"}, "nodes is cluster-scoped"),
    (("get", "pods/log"), {"subresource": "exec"}, "either as RESOURCE/SUB"),
    (("", "pods"), {}, "must not be empty"),
    (("get", "pods/"), {}, "invalid resource"),
])
def test_bad_requests(args: tuple[str, str], kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_request(*args, **kw)


def test_request_parsing() -> None:
    assert make_request("get", "pods/log", namespace="a") == Request(
        "get", "pods", "log", "", "a", None, False)
    assert make_request("list", "widgets.example.com").group == "example.com"
    assert make_request("get", "nodes").cluster_scoped
    assert not make_request("get", "nodes", group="example.com").cluster_scoped


@pytest.mark.parametrize(("rule", "expected"), [
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, ()),
    ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, ()),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": []}, ()),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["a"]},
     ("a",)),
    ({"resources": ["pods"], "verbs": ["get"]}, None),
    ({"apiGroups": [""], "resources": ["pods"]}, None),
    ({"apiGroups": [""], "nonResourceURLs": ["*"], "verbs": ["*"]}, None),
    ({"apiGroups": "", "resources": "pods", "verbs": "get"}, None),
])
def test_rule_grants(rule: dict[str, Any], expected: tuple[str, ...] | None) -> None:
    assert rule_grants(rule, make_request("get", "pods")) == expected


# ------------------------------------------------------------------ warnings

def test_bad_input_warnings() -> None:
    rbac = load_rbac([str(FIX / "bad_input.yaml")])
    got = {(w.line, w.message) for w in rbac.warnings}
    assert got == {
        (7, 'Role "rules-not-a-list": rules is not a list: the role grants nothing'),
        (15, 'Role "odd-rules": rule 0 is not a mapping: ignored'),
        (16, 'Role "odd-rules": rule 1: no verbs: the rule grants nothing'),
        (18, 'Role "odd-rules": rule 2: resources without apiGroups: the rule grants nothing'),
        (22, 'Role "odd-rules": rule 3: verbs is not a list (ignored)'),
        (25, 'Role "odd-rules": rule 4: verbs has items that are not strings (ignored)'),
        (48, 'RoleBinding "missing-role": references Role "not-here" in namespace dev: '
             'role not in the scanned set, what it grants is unknown'),
        (62, 'ClusterRoleBinding "crb-to-role": a ClusterRoleBinding can only reference a '
             'ClusterRole: it grants nothing'),
        (65, 'ClusterRoleBinding "no-roleref": has no roleRef: it grants nothing'),
        (78, 'ClusterRoleBinding "odd-subjects": subject 0 needs kind User, Group or '
             'ServiceAccount and a name (got kind "Robot", name "r2"): ignored'),
        (80, 'ClusterRoleBinding "odd-subjects": subject 1 is not a mapping: ignored'),
        (81, 'ClusterRoleBinding "odd-subjects": subject 2 needs kind User, Group or '
             'ServiceAccount and a name (got kind "User", name None): ignored'),
        (93, 'ClusterRole "bad-aggregation": aggregationRule.clusterRoleSelectors[0] is '
             'invalid (matchLabels must be a mapping): ignored'),
        (99, 'ClusterRole "empty-aggregation": aggregationRule needs a non-empty '
             'clusterRoleSelectors list: the role aggregates nothing'),
    }


def test_aggregation_and_subject_warnings() -> None:
    rbac = load_rbac([str(FIX / "aggregation.yaml"), str(FIX / "subjects.yaml")])
    messages = [w.message for w in rbac.warnings]
    assert messages == [
        'ClusterRole "greedy": has an aggregationRule: the aggregation controller replaces '
        'its own rules with the aggregated ones',
        'ClusterRole "half-broken": aggregationRule.clusterRoleSelectors[0] is invalid '
        "(invalid operator 'Contains' (expected one of In, NotIn, Exists, DoesNotExist)): "
        "ignored",
        'ClusterRoleBinding "all-service-accounts": subject 1 (ServiceAccount '
        '"no-namespace") has no namespace, which a ClusterRoleBinding requires: it matches '
        'nothing',
    ]


def test_clean_fixtures_have_no_warnings() -> None:
    rbac = load_rbac([str(FIX / "docs.yaml"), str(FIX / "wildcards.yaml")])
    assert rbac.warnings == [] and rbac.errors == []


def test_aggregation_cycle_terminates(tmp_path: Path) -> None:
    doc = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
           "  name: {name}\n  labels: {{ring: \"yes\"}}\naggregationRule:\n"
           "  clusterRoleSelectors:\n  - matchLabels: {{ring: \"yes\"}}\n")
    leaf = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
            "  name: leaf\n  labels: {ring: \"yes\"}\nrules:\n- apiGroups: [\"\"]\n"
            "  resources: [pods]\n  verbs: [get]\n")
    (tmp_path / "ring.yaml").write_text(
        "---\n".join([doc.format(name="a"), doc.format(name="b"), leaf]))
    rbac = load_rbac([str(tmp_path)])
    for name in ("a", "b"):
        key = next(k for k in rbac.roles if k.name == name)
        assert [(r.source.name, r.index) for r in rbac.effective_rules(key)] == [("leaf", 0)]


# ------------------------------------------------------------------ risky

def risky_rows(*paths: Path) -> set[tuple[str, str, str, str]]:
    rbac = load_rbac([str(p) for p in paths])
    return {(p.subject.text(), p.code, p.text, p.path_text())
            for p in risky(rbac, DEFAULT_KUBE_VERSION, POWERS)}


def test_risky_powers() -> None:
    esc = "ClusterRoleBinding/escalators -> ClusterRole/escalator -> rule {}"
    bot = "ServiceAccount ops/ops-bot"
    admin = "ClusterRoleBinding/node-admin -> ClusterRole/cluster-admin (built-in) -> rule 0"
    cm = "User system:kube-controller-manager"
    assert risky_rows(FIX / "powers.yaml") == {
        ("User reader", "KP0703", "list on secrets",
         "ClusterRoleBinding/readers -> ClusterRole/secret-lister -> rule 0"),
        (bot, "KP0704", "escalate on roles, bind on roles", esc.format(0)),
        (bot, "KP0704", "create on pods/exec", esc.format(1)),
        (bot, "KP0704", "get/create on nodes/proxy", esc.format(2)),
        (bot, "KP0704", "create on serviceaccounts/token", esc.format(3)),
        (bot, "KP0704", "approve on certificate signers", esc.format(4)),
        (bot, "KP0704", "write on admission webhook configurations", esc.format(5)),
        (bot, "KP0704", "impersonate", esc.format(6)),
        ("Group app-devs", "KP0705", "create on deployments",
         "RoleBinding/deployers -> Role/deployer -> rule 0"),
        ("User debugger", "KP0704", "create on pods/attach",
         "ClusterRoleBinding/exec-bundle -> ClusterRole/exec-bundle -> "
         "ClusterRole/exec-part rule 1"),
        ("Group system:masters", "KP0702", "system:masters (bypasses RBAC)",
         "ClusterRoleBinding/masters"),
        ("User oncall", "KP0702", "cluster-admin",
         "RoleBinding/ops-admin -> ClusterRole/cluster-admin (built-in)"),
        # a control-plane identity is not a KP0702 finding, but still holds the powers
        (cm, "KP0703", '* on "*" (includes secrets)', admin),
        (cm, "KP0704", "escalate on roles, bind on roles, impersonate, create on pods/exec, "
         "create on pods/attach, get/create on nodes/proxy, create on serviceaccounts/token, "
         "approve on certificate signers, write on admission webhook configurations, "
         "update/patch on services/status", admin),
        (cm, "KP0705", "* on pods, replicationcontrollers, deployments, statefulsets, "
         "daemonsets, replicasets, jobs, cronjobs", admin),
    }


def test_risky_scope_and_old_kube_version() -> None:
    rbac = load_rbac([str(FIX / "powers.yaml")])
    scopes = {p.subject.name: p.binding.scope() for p in risky(rbac, DEFAULT_KUBE_VERSION, POWERS)}
    assert scopes["oncall"] == "namespace ops" and scopes["reader"] == "cluster-wide"
    assert "peeker" not in scopes
    old = {(p.subject.name, p.text) for p in risky(rbac, (1, 34), POWERS)}
    # below 1.35 a websocket GET on pods/exec is enough (KP0704)
    assert ("peeker", "get on pods/exec") in old
    assert ("debugger", "create on pods/attach") in old


def test_risky_bad_example() -> None:
    assert risky_rows(BAD_EXAMPLE) == {
        ("ServiceAccount default/default", "KP0702", "cluster-admin",
         "ClusterRoleBinding/web-admin -> ClusterRole/cluster-admin (built-in)")}


# ------------------------------------------------------------------ CLI

WHO_CAN_BAD = """\
Who can get secrets (apiGroup "", in namespace default):

KIND            NAME     NAMESPACE  BINDING                       ROLE                                  RULE    SCOPE         NOTE
ServiceAccount  default  default    ClusterRoleBinding/web-admin  ClusterRole/cluster-admin (built-in)  rule 0  cluster-wide  via built-in ClusterRole cluster-admin, Kubernetes 1.37

A ServiceAccount <ns>/<name> also authenticates as User system:serviceaccount:<ns>:<name>, member of the groups system:serviceaccounts, system:serviceaccounts:<ns> and system:authenticated.
"""  # noqa: E501

RISKY_BAD = """\
SUBJECT                         RULE    POWER          SCOPE         GRANTED BY                                                            NOTE
ServiceAccount default/default  KP0702  cluster-admin  cluster-wide  ClusterRoleBinding/web-admin -> ClusterRole/cluster-admin (built-in)  via built-in ClusterRole cluster-admin, Kubernetes 1.37

1 subject with risky powers.
"""  # noqa: E501


def test_cli_who_can_bad_example() -> None:
    proc = kp("rbac", "who-can", "get", "secrets", "-n", "default", "examples/bad")
    no_traceback(proc)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, WHO_CAN_BAD, "")


def test_cli_risky_bad_example() -> None:
    proc = kp("rbac", "risky", "examples/bad")
    no_traceback(proc)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, RISKY_BAD, "")


def test_cli_who_can_json() -> None:
    proc = kp("rbac", "who-can", "get", "configmaps", "-n", "default", "--format", "json",
              str(FIX / "docs.yaml"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["request"] == {"verb": "get", "resource": "configmaps", "subresource": "",
                                 "apiGroup": "", "namespace": "default", "name": None,
                                 "clusterScoped": False}
    [grant] = report["grants"]
    assert grant["subject"] == {"kind": "User", "name": "cm-editor", "namespace": None}
    assert grant["binding"]["name"] == "update-configmap"
    assert grant["binding"]["line"] == 102
    assert grant["role"] == {"kind": "Role", "name": "configmap-updater",
                             "namespace": "default", "builtin": False}
    assert grant["rule"]["index"] == 0 and grant["resourceNames"] == ["my-configmap"]
    assert grant["scope"] == "namespace" and grant["namespace"] == "default"
    assert report["warnings"] == []


def test_cli_who_can_partial_and_notes() -> None:
    proc = kp("rbac", "who-can", "get", "configmaps", "-n", "qa", str(FIX / "docs.yaml"),
              str(FIX / "subjects.yaml"))
    no_traceback(proc)
    assert proc.returncode == 0
    assert "every ServiceAccount (in the set: kube-system/builder, kube-system/default, " \
           "qa/default, qa/tester)" in proc.stdout
    proc = kp("rbac", "who-can", "get", "configmaps", "-n", "default", str(FIX / "docs.yaml"))
    assert "only names: my-configmap" in proc.stdout and "--name NAME" in proc.stdout


def test_cli_risky_json() -> None:
    proc = kp("rbac", "risky", "-f", "json", str(FIX / "powers.yaml"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    codes = {(p["subject"]["name"], p["code"]) for p in report["powers"]}
    assert ("oncall", "KP0702") in codes and ("reader", "KP0703") in codes
    assert ("everyone-can-look", "KP0705") not in codes
    assert report["warnings"] == []


def test_cli_no_subject() -> None:
    proc = kp("rbac", "who-can", "delete", "nodes", str(FIX / "docs.yaml"))
    assert proc.returncode == 0
    assert proc.stdout == ('No subject in the scanned set can delete nodes '
                           '(apiGroup "", cluster-scoped).\n')


def test_cli_bad_input_warns_without_traceback() -> None:
    proc = kp("rbac", "who-can", "get", "pods", str(FIX / "bad_input.yaml"))
    no_traceback(proc)
    assert proc.returncode == 0
    assert "role not in the scanned set" in proc.stderr
    assert f"{FIX / 'bad_input.yaml'}:93: warning: ClusterRole \"bad-aggregation\"" \
        in proc.stderr
    proc = kp("rbac", "risky", str(FIX / "bad_input.yaml"))
    no_traceback(proc)
    assert proc.returncode == 0


def test_cli_unreadable_input_exit_2(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: [\n")
    for cmd in (("who-can", "get", "secrets"), ("risky",)):
        proc = kp("rbac", *cmd, str(tmp_path / "broken.yaml"), "examples/bad")
        no_traceback(proc)
        assert proc.returncode == 2
        assert "invalid YAML" in proc.stderr
        assert "default" in proc.stdout  # the readable input is still answered
        proc = kp("rbac", *cmd, str(tmp_path / "missing.yaml"))
        assert proc.returncode == 2 and "no such file or directory" in proc.stderr


def test_cli_stdin() -> None:
    text = (BAD_EXAMPLE / "app.yaml").read_text()
    proc = kp("rbac", "who-can", "create", "pods/exec", "-n", "web", "-", stdin=text)
    assert proc.returncode == 0
    assert "ServiceAccount  default  default" in proc.stdout


@pytest.mark.parametrize("args", [
    ("rbac", "who-can", "get", "pods/log", "--subresource", "exec", "examples/bad"),
    ("rbac", "who-can", "get", "nodes", "-n", "dev", "examples/bad"),
    ("rbac", "risky", "--kube-version", "2.0", "examples/bad"),
])
def test_cli_usage_errors(args: tuple[str, ...]) -> None:
    proc = kp(*args)
    no_traceback(proc)
    assert proc.returncode == 2 and proc.stderr.startswith("kubeproof: error: ")
    assert proc.stdout == ""


# ------------------------------------------------------------------ built-in roles

BUILTIN = FIX / "builtin.yaml"
OVERRIDE = FIX / "builtin_override.yaml"
TEAM_A = "Group team-a <- RoleBinding/team-a-admins ClusterRole/admin"


def test_issue_example_admin_rolebinding_reads_secrets_in_its_namespace() -> None:
    rbac = load_rbac([str(BUILTIN)])
    [grant] = who_can(rbac, make_request("get", "secrets", namespace="team-a"))
    assert grant_text(grant) == f"{TEAM_A}#0@system:aggregate-to-edit"
    assert grant.builtin_role and grant.rule.builtin
    assert grant.via == "built-in ClusterRole admin, Kubernetes 1.37"
    assert who_can(rbac, make_request("get", "secrets", namespace="team-b")) == []  # view


def test_builtin_admin_aggregates_the_sets_labelled_roles() -> None:
    rbac = load_rbac([str(BUILTIN)])
    grants = who_can(rbac, make_request("create", "crontabs.stable.example.com",
                                        namespace="team-a"))
    assert [grant_text(g) for g in grants] == [f"{TEAM_A}#0@crontab-edit"]
    assert grants[0].via == "built-in ClusterRole admin, Kubernetes 1.37"
    assert not grants[0].rule.builtin  # the rule itself is the set's


def test_role_neither_in_set_nor_built_in_stays_a_warning() -> None:
    rbac = load_rbac([str(BUILTIN)])
    assert [w.message for w in rbac.warnings] == [
        'ClusterRoleBinding "operator": references ClusterRole "team-operator": role not in '
        "the scanned set, what it grants is unknown"]


def test_set_clusterrole_with_a_builtin_name_replaces_it() -> None:
    rbac = load_rbac([str(OVERRIDE)])
    assert who_can(rbac, make_request("get", "secrets")) == []
    grants = who_can(rbac, make_request("update", "configmaps"))
    assert {(grant_text(g), g.via) for g in grants} == {
        ("User root <- ClusterRoleBinding/admins ClusterRole/admin#0@edit",
         "built-in ClusterRole admin, Kubernetes 1.37"),  # built-in admin, the set's edit
        ("Group team-c <- RoleBinding/editors ClusterRole/edit#0", None)}
    assert {p.text for p in risky(rbac, DEFAULT_KUBE_VERSION, POWERS)} == set()


def test_risky_marks_powers_that_depend_on_builtin_roles() -> None:
    rbac = load_rbac([str(BUILTIN)])
    powers = risky(rbac, DEFAULT_KUBE_VERSION, POWERS)
    assert {p.code for p in powers} == {"KP0703", "KP0704", "KP0705"}
    assert {p.subject.name for p in powers} == {"team-a"}
    assert {p.via for p in powers} == {"built-in ClusterRole admin, Kubernetes 1.37"}


def test_kube_version_is_named_in_the_answers() -> None:
    for cmd in (("who-can", "get", "secrets"), ("risky",)):
        proc = kp("rbac", *cmd, "--kube-version", "1.31", str(BUILTIN))
        no_traceback(proc)
        assert proc.returncode == 0
        assert "via built-in ClusterRole admin, Kubernetes 1.31" in proc.stdout
    proc = kp("rbac", "who-can", "get", "secrets", "--kube-version", "2.0", str(BUILTIN))
    assert proc.returncode == 2 and "invalid Kubernetes version" in proc.stderr


def test_cli_json_marks_builtin_roles() -> None:
    proc = kp("rbac", "who-can", "get", "secrets", "-n", "team-a", "-f", "json", str(BUILTIN))
    assert proc.returncode == 0, proc.stderr
    [grant] = json.loads(proc.stdout)["grants"]
    assert grant["role"] == {"kind": "ClusterRole", "name": "admin", "namespace": None,
                             "builtin": True}
    assert grant["rule"]["role"]["builtin"] is True
    assert grant["via"] == "built-in ClusterRole admin, Kubernetes 1.37"
    proc = kp("rbac", "risky", "-f", "json", str(BUILTIN))
    assert {p["via"] for p in json.loads(proc.stdout)["powers"]} == {
        "built-in ClusterRole admin, Kubernetes 1.37"}


def test_hostile_aggregation_rules_never_crash(tmp_path: Path) -> None:
    head = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
    bind = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
            "metadata: {{name: b{n}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, "
            "kind: ClusterRole, name: {role}}}\nsubjects: [{{kind: User, name: u{n}}}]\n")
    many = "\n".join(f"  - matchLabels: {{rbac.authorization.k8s.io/aggregate-to-view: 'x{i}'}}"
                     for i in range(20000))
    docs = [
        head + "  name: str-rule\naggregationRule: nope\n",
        head + "  name: list-rule\naggregationRule: [1, 2]\n",
        head + "  name: sel-str\naggregationRule: {clusterRoleSelectors: 'edit'}\n",
        head + "  name: sel-junk\naggregationRule:\n  clusterRoleSelectors: [1, null, [], "
               "{matchLabels: [a]}, {matchExpressions: {a: b}}]\n",
        head + "  name: huge\naggregationRule:\n  clusterRoleSelectors:\n" + many + "\n",
        # a labelled role with labels of the wrong type
        head + "  name: odd-labels\n  labels: [rbac.authorization.k8s.io/aggregate-to-edit]\n"
               "rules: [{apiGroups: [''], resources: [secrets], verbs: [get]}]\n",
        # a set role named admin with a hostile aggregationRule replaces the built-in
        head + "  name: admin\naggregationRule: {clusterRoleSelectors: {matchLabels: 1}}\n",
    ]
    names = ("str-rule", "list-rule", "sel-str", "sel-junk", "huge", "odd-labels", "admin",
             "edit")
    docs += [bind.format(n=i, role=name) for i, name in enumerate(names)]
    (tmp_path / "hostile.yaml").write_text("---\n".join(docs))
    for cmd in (("who-can", "get", "secrets"), ("risky",)):
        proc = kp("rbac", *cmd, str(tmp_path / "hostile.yaml"))
        no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
    rbac = load_rbac([str(tmp_path / "hostile.yaml")])
    subjects = {g.subject.name for g in who_can(rbac, make_request("get", "secrets"))}
    assert subjects == {"u5", "u7"}  # odd-labels' own rule; the built-in edit
