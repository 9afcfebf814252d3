"""What the audit could not see is reported, one clear line each, and the rest goes on."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from kubeproof.cli.commands.audit import AuditOptions, run_audit
from kubeproof.sources.cluster import ClusterError, connect
from tests.support.audit import Api

WHERE = "cluster/fake"


def messages(api: Api, **kw: object) -> tuple[list[str], set[str]]:
    """The audit's errors (as printed) and the kinds it still judged."""
    result = api.audit(**kw)
    return [str(e) for e in result.errors], {c.kind for c in result.checked}


def test_forbidden_kind_is_a_coverage_gap_and_the_rest_is_audited(api: Api) -> None:
    api.cluster.forbidden = {"secrets", "clusterroles.rbac.authorization.k8s.io"}
    errors, kinds = messages(api, read_secrets=True)
    assert sorted(errors) == [
        f'{WHERE}: cannot list clusterroles.rbac.authorization.k8s.io: 403 Forbidden: '
        f'clusterroles.rbac.authorization.k8s.io is forbidden: User '
        f'"system:serviceaccount:kubeproof:kubeproof-audit" cannot list resource '
        f'"clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope',
        f'{WHERE}: cannot list secrets: 403 Forbidden: secrets is forbidden: User '
        f'"system:serviceaccount:kubeproof:kubeproof-audit" cannot list resource "secrets" '
        f'in API group "" at the cluster scope',
    ]
    assert {"Deployment", "Pod", "Namespace", "ClusterRoleBinding"} <= kinds
    assert "Secret" not in kinds


def test_kind_the_server_lacks_is_a_gap_but_absent_custom_resources_are_not(api: Api) -> None:
    api.cluster.missing = {"cronjobs.batch", "servicemonitors.monitoring.coreos.com",
                           "podmonitors.monitoring.coreos.com",
                           "peerauthentications.security.istio.io"}
    errors, kinds = messages(api)
    assert errors == [f"{WHERE}: cannot list cronjobs.batch: 404 Not Found: the API server "
                      "does not serve CronJob"]
    assert "Deployment" in kinds and "CronJob" not in kinds


def test_server_error_on_one_kind(api: Api) -> None:
    api.cluster.broken = {"services"}
    errors, kinds = messages(api)
    assert errors == [f"{WHERE}: cannot list services: 500 Internal Server Error: Internal "
                      "error occurred: etcdserver: leader changed"]
    assert "Deployment" in kinds and "Service" not in kinds


def test_answer_that_breaks_off_is_a_gap_for_that_kind_only(api: Api) -> None:
    api.cluster.dropped = {"services"}
    errors, kinds = messages(api)
    assert len(errors) == 1
    assert errors[0].startswith(f"{WHERE}: cannot list services: the answer from {api.url} "
                                "broke off: ")
    assert "Deployment" in kinds and "Service" not in kinds


def test_slow_kind_times_out_and_the_rest_is_audited(api: Api) -> None:
    api.cluster.slow = {"deployments.apps"}
    api.cluster.slow_seconds = 3.0
    start = time.monotonic()
    errors, kinds = messages(api, request_timeout=0.5)
    assert time.monotonic() - start < 2.5
    assert errors == [f"{WHERE}: cannot list deployments.apps: no answer within 0.5s "
                      "(--request-timeout)"]
    assert "Pod" in kinds and "Deployment" not in kinds


def test_hanging_server_gives_one_line_and_stops(api: Api) -> None:
    api.cluster.hang = True
    api.cluster.slow_seconds = 3.0
    start = time.monotonic()
    errors, kinds = messages(api, request_timeout=0.5)
    assert time.monotonic() - start < 2.5
    assert errors == [f"{WHERE}: no answer within 0.5s (--request-timeout)"]
    assert kinds == set()


def test_rejected_token_is_one_line(api: Api, tmp_path: Path) -> None:
    expired = api.kubeconfig_with(tmp_path / "expired", token="expired")
    errors, kinds = messages(api, kubeconfig=str(expired))
    assert errors == [f"{WHERE}: 401 Unauthorized: the API server rejected the credentials "
                      "(expired or revoked token?)"]
    assert kinds == set()
    # only /version was asked: nothing else can succeed
    assert [p for p, _ in api.cluster.requests] == ["/version"]


def test_token_rejected_midway_is_reported_once_with_what_was_not_read(api: Api) -> None:
    api.cluster.latency = 0.02
    result = api.audit(max_requests=1)
    assert not result.errors
    # the token now expires after discovery: every list gets 401
    api.cluster.requests.clear()
    api.cluster.forbidden = set()
    original = api.cluster.answer

    def expire(path: str, query: dict[str, list[str]]) -> dict[str, object]:
        if "limit" in query:
            api.cluster.token = "rotated"
        return original(path, query)

    api.cluster.answer = expire  # type: ignore[method-assign]
    result = api.audit(max_requests=1)
    errors = [e.message for e in result.errors]
    assert errors[0] == ("401 Unauthorized: the API server rejected the credentials "
                         "(expired or revoked token?)")
    assert errors[1].startswith("audit incomplete, not read: ")
    assert "pods" in errors[1] and "deployments.apps" in errors[1]
    assert len(errors) == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server(api: Api, tmp_path: Path) -> None:
    port = _closed_port()
    nowhere = api.kubeconfig_with(tmp_path / "nowhere", server=f"https://127.0.0.1:{port}")
    errors, kinds = messages(api, kubeconfig=str(nowhere))
    assert errors == [f"{WHERE}: cannot reach https://127.0.0.1:{port}: connection refused"]
    assert kinds == set()


def test_cli_coverage_gap_exit_2_report_still_written(api: Api, tmp_path: Path) -> None:
    api.cluster.forbidden = {"pods"}
    out = tmp_path / "r.json"
    proc = api.cli("--select", "KP0401", "--fail-on", "none", "-f", "json", "-o", str(out))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f'{WHERE}: cannot list pods: 403 Forbidden: pods is forbidden: User '
        f'"system:serviceaccount:kubeproof:kubeproof-audit" cannot list resource "pods" in '
        f'API group "" at the cluster scope']
    report = json.loads(out.read_text())
    assert [f["file"] for f in report["findings"]] == ["fake/default/Deployment/hello"]
    assert report["errors"][0]["file"] == WHERE


def test_cli_unreachable_and_bad_token_exit_2(api: Api, tmp_path: Path) -> None:
    nowhere = api.kubeconfig_with(tmp_path / "nowhere",
                                  server=f"https://127.0.0.1:{_closed_port()}")
    proc = api.cli("-q", kubeconfig=nowhere)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.splitlines()) == 1 and "connection refused" in proc.stderr
    expired = api.kubeconfig_with(tmp_path / "expired", token="nope")
    proc = api.cli("-q", kubeconfig=expired)
    assert proc.returncode == 2 and "401 Unauthorized" in proc.stderr


def test_cli_kubeconfig_that_does_not_exist(api: Api, tmp_path: Path) -> None:
    proc = api.cli(kubeconfig=tmp_path / "missing")
    assert proc.returncode == 2
    assert proc.stderr == f"kubeproof: error: kubeconfig {tmp_path / 'missing'}: no such file\n"
    assert proc.stdout == ""


def test_kubeconfig_that_is_not_a_kubeconfig(tmp_path: Path) -> None:
    bad = tmp_path / "config"
    bad.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    with pytest.raises(ClusterError, match=f"^kubeconfig {bad}: "):
        connect(str(bad))
    with pytest.raises(ClusterError, match="context"):
        connect(str(bad), "nope")


def test_no_kubeconfig_and_not_in_a_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ClusterError, match=r"no kubeconfig .* not running inside a cluster"):
        run_audit(AuditOptions())
    with pytest.raises(ClusterError, match="--context prod needs a kubeconfig"):
        connect(None, "prod")
    # inside a pod's environment but without the service-account token file
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(ClusterError, match=r"^in-cluster config: "):
        connect(None, None)


def test_kubeconfig_from_the_environment_and_its_context(api: Api, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    path = api.kubeconfig_with(tmp_path / "env-config", context="prod-eu")
    monkeypatch.setenv("KUBECONFIG", str(path))
    result = run_audit(AuditOptions(select=("KP0401",)))
    assert [f.file for f in result.findings] == ["prod-eu/default/Deployment/hello"]
    with pytest.raises(ClusterError, match="prod-us"):
        run_audit(AuditOptions(context="prod-us"))
