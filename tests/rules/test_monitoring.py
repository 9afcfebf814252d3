from pathlib import Path

from kubeproof.core.config import Config
from tests.helpers import findings, fixture, hits


def fx(name: str) -> str:
    return fixture("monitoring", name)


# KP1401 no-liveness-probe

def test_liveness_flags_containers_and_sidecars_not_one_shot_init() -> None:
    assert hits(fx("liveness_fail.yaml"), "KP1401") == [
        ("KP1401", 18),  # native sidecar "log-shipper"
        ("KP1401", 22),  # "db" has only a readiness probe
    ]
    assert [f.container for f in findings(fx("liveness_fail.yaml"), "KP1401")] == [
        "log-shipper", "db"]


def test_liveness_passes_probed_containers_and_cronjobs() -> None:
    assert hits(fx("liveness_pass.yaml"), "KP1401") == []


# KP1402 identical-probes

def test_identical_probes_points_at_liveness_probe() -> None:
    assert hits(fx("identical_fail.yaml"), "KP1402") == [("KP1402", 16)]
    (f,) = findings(fx("identical_fail.yaml"), "KP1402")
    assert f.container == "web"
    assert f.path == "spec.template.spec.containers[0].livenessProbe"


def test_probes_differing_in_any_field_or_missing_or_empty_pass() -> None:
    assert hits(fx("identical_pass.yaml"), "KP1402") == []


# KP1403 no-resource-requests

def test_requests_one_finding_per_container_naming_what_is_missing() -> None:
    assert hits(fx("resources_fail.yaml"), "KP1403") == [
        ("KP1403", 11),  # init container, nothing set
        ("KP1403", 14),  # nothing set
        ("KP1403", 19),  # cpu only: points at requests
        ("KP1403", 29),  # resources is a string
    ]
    messages = [f.message for f in findings(fx("resources_fail.yaml"), "KP1403")]
    assert messages[0] == 'container "migrate" requests neither cpu nor memory'
    assert messages[2] == 'container "cpu-only" has no memory request'


def test_requests_defaulted_from_limits_count() -> None:
    # "limits-only" (line 21) sets cpu and memory limits: not reported
    assert ("KP1403", 21) not in hits(fx("resources_fail.yaml"), "KP1403")
    # the init container of the CronJob has only a memory limit: cpu is missing
    assert hits(fx("memory_limit_fail.yaml"), "KP1403") == [("KP1403", 15)]


def test_pod_level_resources_and_ephemeral_containers_pass() -> None:
    assert hits(fx("resources_pod_pass.yaml"), "KP1403") == []
    assert hits(fx("resources_pod_pass.yaml"), "KP1404") == []


# KP1404 no-memory-limit

def test_memory_limit_flags_containers_without_one() -> None:
    assert hits(fx("memory_limit_fail.yaml"), "KP1404") == [("KP1404", 25)]
    assert hits(fx("resources_fail.yaml"), "KP1404") == [
        ("KP1404", 11), ("KP1404", 14), ("KP1404", 18), ("KP1404", 29)]


def test_memory_limit_passes_bounded_containers_and_skips_ephemeral() -> None:
    assert hits(fx("memory_limit_pass.yaml"), "KP1404") == []


# KP1405 no-metrics-endpoint

METRICS = Config(require_metrics=True)


def test_no_metrics_endpoint_flags_unscraped_workloads() -> None:
    path = fx("metrics_fail.yaml")
    assert hits(path, "KP1405", config=METRICS) == [
        ("KP1405", 15),  # web: its Service is scraped by nobody (the monitor looks elsewhere)
        ("KP1405", 58),  # api: scrape "false"; its PodMonitor's selector is invalid
    ]
    web, api = findings(path, "KP1405", config=METRICS)
    assert web.message == ('Deployment "web" has no prometheus.io/scrape annotation and no '
                           "PodMonitor, ServiceMonitor or scraped Service selects it")
    assert web.path == "spec.template.metadata.annotations['prometheus.io/scrape']"
    assert api.message.startswith('Deployment "api" sets prometheus.io/scrape: "false" and')


def test_no_metrics_endpoint_passes_annotations_monitors_and_scraped_services() -> None:
    assert hits(fx("metrics_pass.yaml"), "KP1405", config=METRICS) == []


def test_no_metrics_endpoint_is_off_unless_required() -> None:
    assert hits(fx("metrics_fail.yaml"), "KP1405") == []


def test_no_metrics_endpoint_follows_monitor_and_service_in_other_files(tmp_path: Path) -> None:
    docs = Path(fx("metrics_fail.yaml")).read_text().split("---\n")
    (tmp_path / "app.yaml").write_text("---\n".join(docs[:2]))  # Namespace, Deployment web
    assert hits(tmp_path, "KP1405", config=METRICS) == [("KP1405", 15)]
    (tmp_path / "svc.yaml").write_text(docs[2])
    (tmp_path / "monitor.yaml").write_text(docs[3].replace(
        "namespace: monitoring\nspec:\n", "namespace: monitoring\nspec:\n"
        "  namespaceSelector: {matchNames: [shop]}\n"))
    assert hits(tmp_path, "KP1405", config=METRICS) == []


def test_no_metrics_endpoint_selector_shapes(tmp_path: Path) -> None:
    ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
    pod = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: shop\n"
           "  labels: {labels}\nspec: {{containers: [{{name: c, image: a:1}}]}}\n---\n")
    (tmp_path / "pods.yaml").write_text(
        ns + pod.format(name="exists", labels="{metrics: on}")
        + pod.format(name="notin", labels="{tier: web}")
        + pod.format(name="bare", labels="{app: bare}")
        + pod.format(name="none", labels="{app: none}"))
    assert [line for _, line in hits(tmp_path, "KP1405", config=METRICS)] == [7, 15, 23, 31]
    (tmp_path / "monitors.yaml").write_text(
        "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\n"
        "metadata: {name: a, namespace: shop}\n"
        "spec: {selector: {matchExpressions: [{key: metrics, operator: Exists}]}}\n---\n"
        "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\n"
        "metadata: {name: b, namespace: shop}\n"
        "spec: {selector: {matchExpressions: [{key: tier, operator: NotIn, values: [db]},"
        " {key: tier, operator: Exists}]}}\n---\n"
        # a Service without a namespace scrapes pods without one, not shop's
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bare\n"
        "  annotations: {prometheus.io/scrape: 'true'}\nspec: {selector: {app: bare}}\n")
    assert [line for _, line in hits(tmp_path, "KP1405", config=METRICS)] == [23, 31]
    scraped = Config(require_metrics=True, scan={"namespace": "shop"})
    assert [line for _, line in hits(tmp_path, "KP1405", config=scraped)] == [31]
