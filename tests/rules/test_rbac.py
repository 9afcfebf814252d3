from pathlib import Path

from kubeproof.model import Severity
from tests.helpers import CORPUS, findings, fixture, hits


def rbac(name: str) -> str:
    return fixture("rbac", name)


# ------------------------------------------------------------------ KP0701

def test_wildcard_one_finding_per_field_at_the_item() -> None:
    assert hits(rbac("wildcard_fail.yaml"), "KP0701") == [
        ("KP0701", 7), ("KP0701", 9), ("KP0701", 11),  # apiGroups, resources, verbs
        ("KP0701", 13),  # */scale
        ("KP0701", 21),  # first of two "*" verbs only
    ]


def test_wildcard_paths_name_the_list_item() -> None:
    paths = [f.path for f in findings(rbac("wildcard_fail.yaml"), "KP0701")]
    assert paths == ["rules[0].apiGroups[0]", "rules[0].resources[0]", "rules[0].verbs[0]",
                     "rules[1].resources[1]", "rules[2].verbs[1]"]


def test_wildcard_passes_explicit_rules_and_other_kinds() -> None:
    assert hits(rbac("wildcard_pass.yaml"), "KP0701") == []


# ------------------------------------------------------------------ KP0702

def test_cluster_admin_flags_non_system_subjects() -> None:
    assert hits(rbac("cluster_admin_fail.yaml"), "KP0702") == [
        ("KP0702", 10),  # user
        ("KP0702", 12),  # system:authenticated is everyone
        ("KP0702", 19),  # service account outside kube-system
        ("KP0702", 24),  # SA user form outside kube-system
        ("KP0702", 26),  # all SAs of a namespace
        ("KP0702", 28),  # system:masters named outside the bootstrap binding
    ]


def test_cluster_admin_rolebinding_is_high_and_masters_flagged_in_any_binding() -> None:
    found = findings(rbac("cluster_admin_rolebinding.yaml"), "KP0702")
    assert [(f.line, f.severity) for f in found] == [(11, Severity.HIGH),
                                                     (23, Severity.CRITICAL)]
    assert "system:masters" in found[1].message


def test_cluster_admin_passes_bootstrap_other_roles_and_kube_system() -> None:
    assert hits(rbac("cluster_admin_pass.yaml"), "KP0702") == []


# ------------------------------------------------------------------ KP0703

def test_secrets_read_critical_in_cluster_role_high_in_role() -> None:
    found = findings(rbac("secrets_fail.yaml"), "KP0703")
    assert [(f.line, f.severity) for f in found] == [
        (9, Severity.CRITICAL), (21, Severity.HIGH), (32, Severity.HIGH)]
    assert "includes secrets" in found[1].message


def test_secrets_read_passes_named_writes_other_groups() -> None:
    assert hits(rbac("secrets_pass.yaml"), "KP0703") == []


def test_wildcard_role_reads_secrets() -> None:
    assert hits(rbac("wildcard_fail.yaml"), "KP0703") == [("KP0703", 9)]


# ------------------------------------------------------------------ KP0704

def test_escalation_one_finding_per_rule_at_the_verb() -> None:
    assert hits(rbac("escalation_fail.yaml"), "KP0704") == [
        ("KP0704", 10), ("KP0704", 14), ("KP0704", 17), ("KP0704", 20), ("KP0704", 23),
        ("KP0704", 27), ("KP0704", 30), ("KP0704", 33), ("KP0704", 36), ("KP0704", 39)]


def test_escalation_messages_name_the_permission() -> None:
    msgs = [f.message for f in findings(rbac("escalation_fail.yaml"), "KP0704")]
    assert msgs[0].endswith("grants escalate on roles, bind on roles")
    assert "nodes/proxy" in msgs[3]
    assert "write on admission webhook configurations" in msgs[6]
    assert "create on pods/exec" in msgs[7] and "impersonate" in msgs[7]
    assert "update/patch on services/status" in msgs[7]  # the * rule
    assert msgs[9].endswith("grants update/patch on services/status")  # CVE-2020-8554


def test_escalation_passes_reads_and_wrong_groups() -> None:
    assert hits(rbac("escalation_pass.yaml"), "KP0704") == []


def test_exec_get_escalates_before_1_35() -> None:
    found = findings(rbac("escalation_pass.yaml"), "KP0704", kube_version=(1, 34))
    assert [f.line for f in found] == [12]
    assert "get on pods/exec, get on pods/attach" in found[0].message


# ------------------------------------------------------------------ KP0705

def test_workload_create_flags_write_verbs_on_workloads() -> None:
    found = findings(rbac("workload_fail.yaml"), "KP0705")
    assert [f.line for f in found] == [11, 15, 18]
    assert found[2].message.endswith("grants * on jobs, cronjobs")


def test_workload_create_passes_scale_reads_and_wrong_groups() -> None:
    assert hits(rbac("workload_pass.yaml"), "KP0705") == []


# ------------------------------------------------------------------ built-in roles

BUILTIN_FAIL = "builtin_binding_fail.yaml"
CORPUS_EDIT = CORPUS / "kubernetes__examples" / "_archived" / "podsecuritypolicy" / "rbac" \
    / "bindings.yaml"


def test_bindings_of_builtin_roles_are_judged_at_the_role_ref() -> None:
    path = rbac(BUILTIN_FAIL)
    assert [(f.line, f.severity) for f in findings(path, "KP0703")] == [
        (10, Severity.HIGH),  # admin in a RoleBinding: the grant stops at the namespace
        (23, Severity.CRITICAL), (56, Severity.CRITICAL)]  # edit, system:node cluster-wide
    assert hits(path, "KP0704") == [("KP0704", 10), ("KP0704", 23), ("KP0704", 44),
                                    ("KP0704", 56)]
    assert hits(path, "KP0705") == [("KP0705", 10), ("KP0705", 23), ("KP0705", 56)]
    assert {f.path for f in findings(path, "KP0704")} == {"roleRef.name"}


def test_builtin_binding_messages_say_the_answer_depends_on_the_builtin_role() -> None:
    admin, edit, kubelet, node = findings(rbac(BUILTIN_FAIL), "KP0704")
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
    msgs = [f.message for f in findings(rbac(BUILTIN_FAIL), "KP0704", kube_version=(1, 34))]
    assert "(Kubernetes 1.34)" in msgs[1]
    # below 1.35 a websocket GET opens pods/exec: edit's read rule counts too
    assert "get on pods/exec, get on pods/attach" in msgs[1]


def test_builtin_binding_passes_view_system_bootstrap_own_roles_and_hostile() -> None:
    path = rbac("builtin_binding_pass.yaml")
    for code in ("KP0703", "KP0704", "KP0705"):
        assert hits(path, code) == [], code


def test_aggregated_cluster_roles_get_what_the_builtin_roles_they_select_grant() -> None:
    path = rbac("builtin_aggregation_fail.yaml")
    for code in ("KP0703", "KP0704", "KP0705"):
        assert hits(path, code) == [(code, 6), (code, 18)], code
    my_edit, everything = findings(path, "KP0704")
    assert my_edit.path == "aggregationRule"
    assert my_edit.message == (
        'ClusterRole "my-edit" aggregates built-in ClusterRoles "system:aggregate-to-edit", '
        '"system:aggregate-to-view" (Kubernetes 1.37): it grants impersonate; create on '
        "pods/exec, create on pods/attach; create on serviceaccounts/token")
    assert '"cluster-admin"' in everything.message and "and 25 more" in everything.message
    assert findings(path, "KP0703")[0].severity == Severity.CRITICAL


def test_aggregated_cluster_roles_pass_view_own_labels_filled_rules_and_hostile() -> None:
    path = rbac("builtin_aggregation_pass.yaml")
    for code in ("KP0703", "KP0704", "KP0705"):
        assert hits(path, code) == [], code


def test_corpus_binding_of_edit_is_found() -> None:
    for code in ("KP0703", "KP0704", "KP0705"):
        [found] = findings(CORPUS_EDIT, code)
        assert (found.line, found.name) == (50, "edit")
        assert 'built-in ClusterRole "edit"' in found.message


# ------------------------------------------------------------------ KP0706

def test_default_sa_binding_flags_sa_and_user_forms() -> None:
    assert hits(rbac("default_sa_binding_fail.yaml"), "KP0706") == [
        ("KP0706", 13), ("KP0706", 15)]


def test_default_sa_binding_passes_named_sa_and_users_called_default() -> None:
    assert hits(rbac("default_sa_binding_pass.yaml"), "KP0706") == []


# ------------------------------------------------------------------ KP0707

def test_default_service_account_unset_explicit_and_legacy_field() -> None:
    found = findings(rbac("default_sa_fail.yaml"), "KP0707")
    assert [(f.line, f.kind) for f in found] == [
        (8, "Deployment"),  # unset: the pod spec line
        (22, "Pod"),  # explicit default
        (39, "CronJob"),  # empty serviceAccountName, legacy serviceAccount: default
    ]
    assert found[2].path == "spec.jobTemplate.spec.template.spec.serviceAccount"


def test_default_service_account_passes_named_sa_and_static_pods() -> None:
    assert hits(rbac("default_sa_pass.yaml"), "KP0707") == []


# ------------------------------------------------------------------ malformed

def test_malformed_rbac_objects_never_crash() -> None:
    path = rbac("malformed.yaml")
    for code in ("KP0701", "KP0704", "KP0705", "KP0706", "KP0707"):
        assert hits(path, code) == [], code
    assert hits(path, "KP0703") == [("KP0703", 19)]
    assert hits(path, "KP0702") == [("KP0702", 39), ("KP0702", 41)]


# ------------------------------------------------------------------ KP0708

def test_sa_token_automount_flags_unbound_service_accounts() -> None:
    path = rbac("automount_fail.yaml")
    assert hits(path, "KP0708") == [
        ("KP0708", 18),  # default ServiceAccount of a described namespace: the pod spec
        ("KP0708", 43),  # the pod's true wins over the ServiceAccount's false
        ("KP0708", 75),  # bound only in another namespace
    ]
    web, nightly, api = findings(path, "KP0708")
    assert web.message == ('Deployment "web" mounts the API token of ServiceAccount "default", '
                           "which no RoleBinding or ClusterRoleBinding in the set binds")
    assert nightly.path == "spec.jobTemplate.spec.template.spec.automountServiceAccountToken"
    assert "sets automountServiceAccountToken: true for" in nightly.message
    assert api.path == "spec.automountServiceAccountToken"


def test_sa_token_automount_passes_opt_outs_bindings_and_unknowns() -> None:
    assert hits(rbac("automount_pass.yaml"), "KP0708") == []


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
