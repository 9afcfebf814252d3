"""RBAC rules: severities, paths, messages, built-in roles, the corpus and objects in
several files; the per-file cases are fixtures in tests/rules/KP070x/."""

from pathlib import Path

from kubeproof.model import Severity
from tests.helpers import CORPUS, findings, hits

HERE = Path(__file__).parent


def kp(code: str, name: str) -> Path:
    """A fixture of tests/rules/KPxxxx/, where the per-file cases of these rules are."""
    return HERE / code / name


# ------------------------------------------------------------------ KP0701

def test_wildcard_paths_name_the_list_item() -> None:
    paths = [f.path for f in findings(kp("KP0701", "fail-wildcards.yaml"), "KP0701")]
    assert paths == ["rules[0].apiGroups[0]", "rules[0].resources[0]", "rules[0].verbs[0]",
                     "rules[1].resources[1]", "rules[2].verbs[1]"]


# ------------------------------------------------------------------ KP0702

def test_cluster_admin_rolebinding_is_high_and_masters_critical() -> None:
    found = findings(kp("KP0702", "fail-rolebinding-and-masters.yaml"), "KP0702")
    assert [f.severity for f in found] == [Severity.HIGH, Severity.CRITICAL]
    assert "system:masters" in found[1].message


# ------------------------------------------------------------------ KP0703

def test_secrets_read_critical_in_cluster_role_high_in_role() -> None:
    found = findings(kp("KP0703", "fail-secrets.yaml"), "KP0703")
    assert [f.severity for f in found] == [Severity.CRITICAL, Severity.HIGH, Severity.HIGH]
    assert "includes secrets" in found[1].message


# ------------------------------------------------------------------ KP0704

def test_escalation_messages_name_the_permission() -> None:
    msgs = [f.message for f in findings(kp("KP0704", "fail-escalation.yaml"), "KP0704")]
    assert msgs[0].endswith("grants escalate on roles, bind on roles")
    assert "nodes/proxy" in msgs[3]
    assert "write on admission webhook configurations" in msgs[6]
    assert "create on pods/exec" in msgs[7] and "impersonate" in msgs[7]
    assert "update/patch on services/status" in msgs[7]  # the * rule
    assert msgs[9].endswith("grants update/patch on services/status")  # CVE-2020-8554


def test_exec_get_escalates_before_1_35() -> None:
    found = findings(kp("KP0704", "fail-exec-get-before-1.35.yaml"), "KP0704",
                     kube_version=(1, 34))
    assert "get on pods/exec, get on pods/attach" in found[0].message


# ------------------------------------------------------------------ KP0705

def test_workload_create_message() -> None:
    found = findings(kp("KP0705", "fail-workloads.yaml"), "KP0705")
    assert found[2].message.endswith("grants * on jobs, cronjobs")


# ------------------------------------------------------------------ built-in roles

BUILTIN_FAIL = "fail-builtin-binding.yaml"
AGGREGATION_FAIL = "fail-builtin-aggregation.yaml"
CORPUS_EDIT = CORPUS / "kubernetes__examples" / "_archived" / "podsecuritypolicy" / "rbac" \
    / "bindings.yaml"


def test_bindings_of_builtin_roles_severity_and_path() -> None:
    assert [f.severity for f in findings(kp("KP0703", BUILTIN_FAIL), "KP0703")] == [
        Severity.HIGH,  # admin in a RoleBinding: the grant stops at the namespace
        Severity.CRITICAL, Severity.CRITICAL]  # edit, system:node cluster-wide
    assert {f.path for f in findings(kp("KP0704", BUILTIN_FAIL), "KP0704")} == {"roleRef.name"}


def test_builtin_binding_messages_say_the_answer_depends_on_the_builtin_role() -> None:
    admin, edit, kubelet, node = findings(kp("KP0704", BUILTIN_FAIL), "KP0704")
    assert admin.message == (
        'RoleBinding "team-a-admins" binds built-in ClusterRole "admin" (Kubernetes 1.37) in '
        'namespace "team-a" to Group team-a: it grants impersonate; create on pods/exec, '
        "create on pods/attach; create on serviceaccounts/token")
    # control-plane subjects are left out, long subject lists are cut
    assert "to ServiceAccount ci/deployer, User alice, User bob and 1 more:" in edit.message
    assert "kube-system" not in edit.message
    assert kubelet.message.endswith("it grants get/create on nodes/proxy")
    assert "to Group system:authenticated" in node.message


def test_builtin_binding_follows_kube_version() -> None:
    msgs = [f.message for f in findings(kp("KP0704", BUILTIN_FAIL), "KP0704",
                                        kube_version=(1, 34))]
    assert "(Kubernetes 1.34)" in msgs[1]
    # below 1.35 a websocket GET opens pods/exec: edit's read rule counts too
    assert "get on pods/exec, get on pods/attach" in msgs[1]


def test_aggregated_cluster_roles_messages() -> None:
    my_edit, everything = findings(kp("KP0704", AGGREGATION_FAIL), "KP0704")
    assert my_edit.path == "aggregationRule"
    assert my_edit.message == (
        'ClusterRole "my-edit" aggregates built-in ClusterRoles "system:aggregate-to-edit", '
        '"system:aggregate-to-view" (Kubernetes 1.37): it grants impersonate; create on '
        "pods/exec, create on pods/attach; create on serviceaccounts/token")
    assert '"cluster-admin"' in everything.message and "and 25 more" in everything.message
    assert findings(kp("KP0703", AGGREGATION_FAIL), "KP0703")[0].severity == Severity.CRITICAL


def test_corpus_binding_of_edit_is_found() -> None:
    for code in ("KP0703", "KP0704", "KP0705"):
        [found] = findings(CORPUS_EDIT, code)
        assert (found.line, found.name) == (50, "edit")
        assert 'built-in ClusterRole "edit"' in found.message


# ------------------------------------------------------------------ KP0706

# ------------------------------------------------------------------ KP0707

def test_default_service_account_kinds_and_path() -> None:
    found = findings(kp("KP0707", "fail-default-sa.yaml"), "KP0707")
    assert [f.kind for f in found] == [
        "Deployment",  # unset: the pod spec line
        "Pod",  # explicit default
        "CronJob",  # empty serviceAccountName, legacy serviceAccount: default
    ]
    assert found[2].path == "spec.jobTemplate.spec.template.spec.serviceAccount"


# ------------------------------------------------------------------ malformed

# ------------------------------------------------------------------ KP0708

def test_sa_token_automount_messages_and_paths() -> None:
    web, api = findings(kp("KP0708", "fail-unbound.yaml"), "KP0708")
    (nightly,) = findings(kp("KP0708", "fail-explicit-true.yaml"), "KP0708")
    assert web.message == ('Deployment "web" mounts the API token of ServiceAccount "default", '
                           "which no RoleBinding or ClusterRoleBinding in the set binds")
    assert nightly.path == "spec.jobTemplate.spec.template.spec.automountServiceAccountToken"
    assert "sets automountServiceAccountToken: true for" in nightly.message
    assert api.path == "spec.automountServiceAccountToken"


def test_sa_token_automount_reads_bindings_from_other_files(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api, namespace: shop}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  serviceAccountName: api\n  containers: [{name: api, image: a:1}]\n")
    assert hits(tmp_path, "KP0708") == [("KP0708", 8)]
    (tmp_path / "rbac.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
        "metadata: {name: api, namespace: shop}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n"
        "subjects: [{kind: ServiceAccount, name: api}]\n")
    assert hits(tmp_path, "KP0708") == []


def test_sa_token_automount_group_of_all_service_accounts_and_wrong_types(
        tmp_path: Path) -> None:
    # a string "false" is not the boolean the API takes: the token is still mounted
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api, namespace: shop}\n"
        "automountServiceAccountToken: 'false'\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  serviceAccountName: api\n  automountServiceAccountToken: nope\n"
        "  containers: [{name: api, image: a:1}]\n")
    assert hits(tmp_path, "KP0708") == [("KP0708", 15)]
    (tmp_path / "rbac.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
        "metadata: {name: all-sa}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\n"
        "subjects: [{kind: Group, name: system:serviceaccounts}]\n")
    assert hits(tmp_path, "KP0708") == []
