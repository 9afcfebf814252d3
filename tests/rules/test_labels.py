from kubeproof.config import Config
from tests.helpers import findings, fixture, hits


def fx(name: str) -> str:
    return fixture("labels", name)


def test_missing_label_on_workloads_and_services_points_at_labels() -> None:
    assert hits(fx("required_fail.yaml"), "KP0501") == [
        ("KP0501", 3),   # Deployment without metadata.labels: metadata line
        ("KP0501", 22),  # Service with other labels: labels line
        ("KP0501", 34),  # CronJob whose labels are not a mapping
    ]


def test_missing_label_message_and_path() -> None:
    f = findings(fx("required_fail.yaml"), "KP0501")[1]
    assert f.message == 'Service "web" has no label app.kubernetes.io/name'
    assert f.path == "metadata.labels['app.kubernetes.io/name']"


def test_template_labels_do_not_count_for_the_object() -> None:
    # the Deployment's pod template has the label; its own metadata does not
    assert ("KP0501", 3) in hits(fx("required_fail.yaml"), "KP0501")


def test_one_finding_per_missing_label_from_config() -> None:
    config = Config(required_labels=["app.kubernetes.io/name", "team"])
    assert hits(fx("required_fail.yaml"), "KP0501", config=config) == [
        ("KP0501", 3), ("KP0501", 3), ("KP0501", 22), ("KP0501", 22),
        ("KP0501", 34), ("KP0501", 34)]
    assert hits(fx("required_pass.yaml"), "KP0501", config=config) == [("KP0501", 6)]


def test_labelled_workloads_and_other_kinds_pass() -> None:
    assert hits(fx("required_pass.yaml"), "KP0501") == []


def test_empty_required_list_disables_the_rule() -> None:
    assert hits(fx("required_fail.yaml"), "KP0501", config=Config(required_labels=[])) == []
