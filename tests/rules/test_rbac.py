from kubeproof.model import Severity
from tests.helpers import findings, fixture, hits


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
        ("KP0704", 27), ("KP0704", 30), ("KP0704", 33), ("KP0704", 36)]


def test_escalation_messages_name_the_permission() -> None:
    msgs = [f.message for f in findings(rbac("escalation_fail.yaml"), "KP0704")]
    assert msgs[0].endswith("grants escalate on roles, bind on roles")
    assert "nodes/proxy" in msgs[3]
    assert "write on admission webhook configurations" in msgs[6]
    assert "create on pods/exec" in msgs[7] and "impersonate" in msgs[7]


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
