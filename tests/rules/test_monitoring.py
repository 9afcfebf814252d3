from pathlib import Path

from kubeproof.core.config import Config
from tests.helpers import findings, hits


def rule_fixture(code: str, name: str) -> str:
    """A fixture of the rule's folder, tests/rules/CODE/ (its marked lines are tested there)."""
    return str(Path(__file__).parent / code / name)


# KP1401 no-liveness-probe

def test_liveness_flags_containers_and_sidecars_not_one_shot_init() -> None:
    path = rule_fixture("KP1401", "fail-sidecars.yaml")
    assert [f.container for f in findings(path, "KP1401")] == [
        "log-shipper", "db"]


# KP1402 identical-probes

def test_identical_probes_points_at_liveness_probe() -> None:
    (f,) = findings(rule_fixture("KP1402", "fail-identical.yaml"), "KP1402")
    assert f.container == "web"
    assert f.path == "spec.template.spec.containers[0].livenessProbe"


# KP1403 no-resource-requests

def test_requests_one_finding_per_container_naming_what_is_missing() -> None:
    path = rule_fixture("KP1403", "fail-containers.yaml")
    messages = [f.message for f in findings(path, "KP1403")]
    assert messages[0] == 'container "migrate" requests neither cpu nor memory'
    assert messages[2] == 'container "cpu-only" has no memory request'


# KP1404 no-memory-limit


# KP1405 no-metrics-endpoint

METRICS = Config(require_metrics=True)


def test_no_metrics_endpoint_flags_unscraped_workloads() -> None:
    path = rule_fixture("KP1405", "pass-not-required.yaml")
    web, api = findings(path, "KP1405", config=METRICS)
    assert web.message == ('Deployment "web" has no prometheus.io/scrape annotation and no '
                           "PodMonitor, ServiceMonitor or scraped Service selects it")
    assert web.path == "spec.template.metadata.annotations['prometheus.io/scrape']"
    assert api.message.startswith('Deployment "api" sets prometheus.io/scrape: "false" and')


def test_no_metrics_endpoint_follows_monitor_and_service_in_other_files(tmp_path: Path) -> None:
    docs = Path(rule_fixture("KP1405", "pass-not-required.yaml")).read_text().split("---\n")
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
