"""API hygiene rules: messages, severities, paths, tables and hostile input; the
per-file cases are fixtures in tests/rules/KP000x/."""

from pathlib import Path

from kubeproof.core.catalogue import load_rules
from kubeproof.k8s.names import port_name_problem
from kubeproof.model import Severity
from kubeproof.rules.p00_api_hygiene.deprecated_apis import DEPRECATED_APIS
from kubeproof.rules.p00_api_hygiene.invalid_objects import label_key_problem, label_value_problem
from tests.helpers import findings, hits, run

HERE = Path(__file__).parent


def kp(code: str, name: str) -> Path:
    """A fixture of tests/rules/KPxxxx/, where the per-file cases of these rules are."""
    return HERE / code / name


# KP0001 deprecated-api

def test_removed_apis_are_high_at_the_newest_version() -> None:
    fs = findings(kp("KP0001", "fail-removed.yaml"), "KP0001")
    assert {f.severity for f in fs} == {Severity.HIGH}
    assert fs[0].path == "apiVersion"
    assert fs[0].message == (
        "extensions/v1beta1 Deployment was removed in Kubernetes 1.16 (deprecated in 1.9; "
        "target 1.37): use apps/v1 Deployment")


def test_deprecated_but_served_api_is_medium() -> None:
    fs = findings(kp("KP0001", "fail-removed.yaml"), "KP0001", kube_version=(1, 24))
    by_line = {f.line: f for f in fs}
    assert by_line[1].severity == Severity.HIGH  # removed in 1.16
    assert by_line[9].severity == Severity.MEDIUM  # PDB v1beta1: deprecated 1.21, removed 1.25
    assert "removed in 1.25: use policy/v1 PodDisruptionBudget" in by_line[9].message
    assert 17 not in by_line  # flowcontrol v1beta3 introduced later, deprecated in 1.29


def test_table_covers_every_migration_guide_removal() -> None:
    expected = {
        ("extensions/v1beta1", "DaemonSet"): (1, 16),
        ("apps/v1beta2", "ReplicaSet"): (1, 16),
        ("extensions/v1beta1", "PodSecurityPolicy"): (1, 16),
        ("networking.k8s.io/v1beta1", "IngressClass"): (1, 22),
        ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"): (1, 22),
        ("storage.k8s.io/v1beta1", "VolumeAttachment"): (1, 22),
        ("authorization.k8s.io/v1beta1", "SelfSubjectRulesReview"): (1, 22),
        ("batch/v1beta1", "CronJob"): (1, 25),
        ("policy/v1beta1", "PodSecurityPolicy"): (1, 25),
        ("node.k8s.io/v1beta1", "RuntimeClass"): (1, 25),
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): (1, 26),
        ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"): (1, 26),
        ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): (1, 27),
        ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema"): (1, 29),
        ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"): (1, 32),
        ("admissionregistration.k8s.io/v1beta1", "ValidatingAdmissionPolicy"): (1, 34),
    }
    for key, removed in expected.items():
        assert DEPRECATED_APIS[key].removed == removed, key
    assert all(d.deprecated <= d.removed for d in DEPRECATED_APIS.values())


# KP0002 invalid-object

def test_selector_mismatch_one_finding_per_problem() -> None:
    fs = findings(kp("KP0002", "fail-selector.yaml"), "KP0002")
    assert fs[0].path == "spec.selector.matchLabels.app"
    assert fs[0].message == ("selector matchLabels app=web does not match the template labels "
                             "(template has app=api)")


def test_duplicate_containers_ports_and_env() -> None:
    fs = findings(kp("KP0002", "fail-containers.yaml"), "KP0002")
    assert all(f.container == "app" for f in fs)
    env = fs[-1]
    assert env.severity == Severity.MEDIUM
    assert "fast" not in env.message and "slow" not in env.message  # never the values
    assert env.path == "spec.containers[0].env[1].name"


def test_images_the_kubelet_cannot_parse() -> None:
    fs = findings(kp("KP0002", "fail-images.yaml"), "KP0002")
    assert fs[0].message == ('container "init" image "Nginx:latest" cannot be pulled: '
                             "repository name 'Nginx' must be lowercase")
    assert fs[0].path == "spec.template.spec.initContainers[0].image"
    assert [f.container for f in fs] == ["init", "web", "pinned", "templated", "spaced"]
    assert "invalid tag" in fs[1].message and "invalid digest" in fs[2].message
    assert "whitespace" in fs[4].message


def test_images_the_kubelet_cannot_parse_are_left_to_kp0002() -> None:
    result = run(kp("KP0002", "fail-images.yaml"))
    image_codes = {f.rule.code for f in result.findings if f.path.endswith(".image")}
    assert image_codes == {"KP0002"}


def test_hostile_image_references_are_judged_on_one_short_line(tmp_path: Path) -> None:
    import json

    images = ["\u202eA" * 3000, "a\x1bb", "N" + "x" * 100_000, "${" * 2000 + "X",
              "{{" * 3000, "<" * 5000 + "a", "Ünïcode:latest", "${R}/a:" + "b" * 300]
    docs = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
             "spec": {"containers": [{"name": "c", "image": image}]}}
            for i, image in enumerate(images)]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
    result = run(path)
    assert not result.errors
    for f in result.findings:
        assert "\n" not in f.message and "\x1b" not in f.message and "\u202e" not in f.message
        assert len(f.message) < 1000
    invalid = [f for f in result.findings if f.rule.code == "KP0002"]
    assert len(invalid) == 7  # all but the unclosed ${ placeholder


def test_invalid_quantities_and_limits_below_requests() -> None:
    by_line = {f.line: f for f in findings(kp("KP0002", "fail-quantities.yaml"), "KP0002")}
    assert by_line[21].container == "migrate"
    assert by_line[21].path == "spec.template.spec.initContainers[0].resources.requests.memory"
    assert by_line[38].message == ('container "sidecar" limits memory to 256Mi, below its '
                                   "request of 512Mi")
    assert by_line[15].container is None and by_line[15].message.startswith("pod resources")
    assert by_line[48].path == "spec.template.spec.volumes[0].emptyDir.sizeLimit"


def test_invalid_label_keys_and_values_on_object_and_template() -> None:
    fs = findings(kp("KP0002", "fail-labels.yaml"), "KP0002")
    assert "float value 1.0" in fs[0].message
    assert fs[-1].path == "spec.template.metadata.labels.app"


def test_wrong_types_do_not_crash() -> None:
    # the API server rejects each of these types; the rules that read the
    # fields judge nothing for them, KP0002 reports them
    fs = findings(kp("KP0002", "fail-wrong-types.yaml"), "KP0002")
    assert fs[1].message == "spec.template.spec.containers[0] must be a mapping, not a string"
    assert fs[4].message == "spec.template.spec.containers[1].ports must be a list, " \
        "not a mapping"


def test_qualified_name_helpers() -> None:
    assert label_key_problem("app.kubernetes.io/name") is None
    assert label_key_problem("a" * 64) is not None
    assert label_key_problem("/name") is not None
    assert label_key_problem(("x" * 254) + "/n") is not None
    assert label_value_problem("") is None
    assert label_value_problem("a" * 63) is None
    assert label_value_problem("a" * 64) is not None
    assert label_value_problem("trailing-") is not None
    assert port_name_problem("http-metrics") is None
    assert port_name_problem("a--b") is not None
    assert port_name_problem("-http") is not None
    assert port_name_problem("a" * 15) is None


# KP0003 unparseable-input

def test_unparseable_documents_are_reported_and_the_scan_goes_on() -> None:
    result = run(kp("KP0003", "fail-unparseable.yaml"), select=("KP0003",))
    assert "unsupported YAML tag" in result.findings[1].message
    assert result.objects == 1  # the valid first document was still loaded


def test_unparseable_rule_never_fires_on_objects() -> None:
    rule = load_rules()["KP0003"]
    assert rule.kinds == frozenset()


def test_unparseable_input_is_not_reported_when_deselected() -> None:
    result = run(kp("KP0003", "fail-unparseable.yaml"), select=("KP0002",))
    assert result.findings == []
    assert len(result.errors) == 2


def test_invalid_label_selectors_of_policies_and_budgets_are_reported() -> None:
    path = kp("KP0002", "fail-selector-invalid.yaml")
    found = findings(path, "KP0002")
    assert [f.path for f in found] == [
        "spec.podSelector", "spec.ingress[0].from[0].namespaceSelector", "spec.selector"]
    assert "invalid operator 'Equals'" in found[0].message


def test_a_key_given_twice_is_invalid_at_the_second_key() -> None:
    [privileged] = [f for f in findings(kp("KP0002", "fail-duplicate-keys.yaml"), "KP0002")
                    if f.line == 13]
    assert privileged.message.startswith('key "privileged" is given twice in one mapping')


def test_rules_judge_and_locate_the_later_value_of_a_key_given_twice() -> None:
    # privileged: true then false: the later value applies, so KP0803 is silent
    assert hits(kp("KP0002", "fail-duplicate-keys.yaml"), "KP0803") == []
