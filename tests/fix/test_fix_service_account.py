"""The KP0707 fix: each flagged workload gets a ServiceAccount of its own name,
created next to it unless the files of the run hold it, and that new object
passes ``kubeproof scan`` itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from kubeproof.api import scan
from kubeproof.core.config import Config, load_config
from kubeproof.fix.apply import fix_object
from kubeproof.fix.files import ServiceAccounts, fix_text
from kubeproof.model import Severity
from kubeproof.sources.yamlparse import Document, parse_yaml
from tests.fix.test_fixers import FIXTURES, changed_lines, unsafe
from tests.support.cli import invoke, kp

WORKER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
{namespace}spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: main
        image: ghcr.io/acme/{name}:1.0.0
"""


def worker(name: str, namespace: str | None = "shop") -> str:
    return WORKER.format(name=name, namespace=f"  namespace: {namespace}\n" if namespace else "")


def service_account(name: str, namespace: str = "shop") -> str:
    return (f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n"
            f"  namespace: {namespace}\n")


def fix(*args: str, config: Path | None = None) -> tuple[int, str]:
    """``kubeproof fix --select KP0707`` in this process (exit code, output)."""
    conf = ["--config", str(config)] if config else ["--no-config"]
    result = invoke("fix", "--unsafe-fixes", "--select", "KP0707", *conf, *args)
    assert "Traceback" not in result.output
    return result.returncode, result.output


def documents(path: Path) -> list[dict[str, object]]:
    return [d.data for d in parse_yaml(path.read_text()) if isinstance(d, Document) and d.data]


def accounts(path: Path) -> list[tuple[str | None, str]]:
    """(namespace, name) of the ServiceAccounts in a file, in order."""
    return [(d["metadata"].get("namespace"), d["metadata"]["name"])  # type: ignore[union-attr]
            for d in documents(path) if d.get("kind") == "ServiceAccount"]


def test_new_service_account_passes_the_scan(tmp_path: Path) -> None:
    target = tmp_path / "worker.yaml"
    shutil.copy(FIXTURES / "kp0707.yaml", target)
    bare = tmp_path / "bare.yaml"  # no namespace: the new ServiceAccount has none either
    bare.write_text(worker("cleaner", namespace=None))
    assert fix(str(target), str(bare))[0] == 0

    result = scan([str(target), str(bare)], config=Config())
    assert not result.errors
    assert [f.code for f in result.findings if f.code == "KP0707"] == []
    on_accounts = [f for f in result.findings if f.kind == "ServiceAccount"]
    assert not [f for f in on_accounts if f.severity >= Severity.HIGH]
    # the namespace the workload lacks is the only thing left (KP0402, low): the fix
    # cannot guess it, `fix --namespace` sets it on both
    assert [(f.code, f.severity, f.name, f.file) for f in on_accounts] == [
        ("KP0402", Severity.LOW, "cleaner", str(bare))]
    assert accounts(target) == [("shop", "billing-worker")]
    assert accounts(bare) == [(None, "cleaner")]


def test_default_and_the_deprecated_field_are_replaced(tmp_path: Path) -> None:
    target = tmp_path / "pods.yaml"
    target.write_text("""\
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec:
  serviceAccountName: default    # shared with everything
  containers: [{name: api, image: "ghcr.io/acme/api:1.0.0"}]
---
apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: shop}
spec:
  serviceAccount: default
  containers: [{name: legacy, image: "ghcr.io/acme/legacy:1.0.0"}]
""")
    original = target.read_text()
    code, out = fix(str(target))
    assert code == 0
    assert "added ServiceAccount shop/api, ServiceAccount shop/legacy" in out
    removed, added = changed_lines(original, target.read_text())
    assert sorted(removed) == ["  serviceAccount: default",
                               "  serviceAccountName: default    # shared with everything"]
    assert added["  serviceAccountName: api        # shared with everything"] == 1
    assert added["  serviceAccount: legacy"] == 1
    assert added["  serviceAccountName: legacy"] == 1
    assert accounts(target) == [("shop", "api"), ("shop", "legacy")]
    assert not [f for f in scan([str(target)], select=["KP0707"]).findings]


def test_a_service_account_in_another_file_of_the_run_is_reused(tmp_path: Path) -> None:
    workloads = tmp_path / "workloads.yaml"
    workloads.write_text(worker("web") + "---\n" + worker("api"))
    existing = tmp_path / "accounts.yaml"
    # web's account exists; api's exists only in another namespace
    existing.write_text(service_account("web") + "---\n" + service_account("api", "staging"))
    before = existing.read_text()
    assert fix(str(workloads), str(existing))[0] == 0
    assert existing.read_text() == before
    assert accounts(workloads) == [("shop", "api")]
    specs = [d["spec"]["template"]["spec"] for d in documents(workloads)  # type: ignore[index]
             if d["kind"] == "Deployment"]
    assert [s["serviceAccountName"] for s in specs] == ["web", "api"]


def test_one_service_account_per_namespace_and_name_across_files(tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text("\n---\n".join([worker("web"), worker("web", "staging"), worker("jobs")]))
    second = tmp_path / "b.yaml"  # the same workload name and namespace again
    second.write_text(worker("web"))
    code, out = fix(str(first), str(second))
    assert code == 0, out
    assert accounts(first) == [("shop", "web"), ("staging", "web"), ("shop", "jobs")]
    assert accounts(second) == []
    assert "b.yaml: fixed KP0707\n" in out

    again = first.read_text(), second.read_text()
    assert fix(str(first), str(second)) == (0, "fixed 0 of 2 files\n")
    assert (first.read_text(), second.read_text()) == again


def test_labels_follow_the_workload_and_the_config(tmp_path: Path) -> None:
    config = tmp_path / "kp.yaml"
    config.write_text("labels:\n  required: [app.kubernetes.io/name, team]\n"
                      "fix:\n  labels: {team: platform}\n")
    target = tmp_path / "w.yaml"
    target.write_text(worker("web").replace(
        "  name: web\n", "  name: web\n  labels: {app.kubernetes.io/name: shop-web, team: web}\n")
        + "---\n" + worker("api"))
    assert fix(str(target), config=config)[0] == 0
    labels = [d["metadata"]["labels"] for d in documents(target)  # type: ignore[index]
              if d["kind"] == "ServiceAccount"]
    assert labels == [{"app.kubernetes.io/name": "shop-web", "team": "web"},
                      {"app.kubernetes.io/name": "api", "team": "platform"}]
    findings = scan([str(target)], config=load_config(config)).findings
    assert not [f for f in findings if f.kind == "ServiceAccount"]


def test_appended_text_keeps_indentation_line_ends_and_bom() -> None:
    text = ("\ufeffapiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n    name: web\r\n"
            "spec:\r\n    containers:\r\n    -   name: web\r\n        image: nginx:1.0")
    fixed = fix_text(text, unsafe(), lambda first, end: {"KP0707": {None}})
    assert fixed.added == ["ServiceAccount web"]
    assert fixed.text == (
        "\ufeffapiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n    name: web\r\n"
        "spec:\r\n    serviceAccountName: web\r\n    containers:\r\n    -   name: web\r\n"
        "        image: nginx:1.0\r\n---\r\napiVersion: v1\r\nkind: ServiceAccount\r\n"
        "metadata:\r\n    name: web\r\n    labels:\r\n        app.kubernetes.io/name: web\r\n"
        "automountServiceAccountToken: false\r\n")


def test_an_account_in_the_same_text_or_the_book_is_not_added_again() -> None:
    text = service_account("web") + "---\n" + worker("web")
    fixed = fix_text(text, unsafe(), lambda first, end: {"KP0707": {None}})
    assert fixed.added == []
    assert fixed.text == text.replace("    spec:\n", "    spec:\n      serviceAccountName: web\n")
    book = ServiceAccounts({("shop", "api")})
    fixed = fix_text(worker("api"), unsafe(), lambda first, end: {"KP0707": {None}}, book)
    assert fixed.added == [] and "serviceAccountName: api" in fixed.text


def test_fix_object_runs_it_only_when_named_and_skips_static_pods() -> None:
    deployment = json.loads(json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}))
    assert "KP0707" not in fix_object(deployment, unsafe())
    assert "serviceAccountName" not in deployment["spec"]["template"]["spec"]
    assert fix_object(deployment, unsafe(), {"KP0707"}) == ["KP0707"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "web"
    assert fix_object(deployment, unsafe(), {"KP0707"}) == []

    mirror = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "etcd-node1", "namespace": "kube-system",
        "annotations": {"kubernetes.io/config.mirror": "abc"}},
        "spec": {"containers": [{"name": "etcd", "image": "etcd"}]}}
    control_plane = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "kube-apiserver", "namespace": "kube-system",
        "labels": {"tier": "control-plane"}},
        "spec": {"containers": [{"name": "apiserver", "image": "kube-apiserver"}]}}
    unnamed = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "job-"},
               "spec": {"containers": [{"name": "job", "image": "busybox"}]}}
    for pod in (mirror, control_plane, unnamed):
        assert fix_object(pod, unsafe(), {"KP0707"}) == []
        assert "serviceAccountName" not in pod["spec"]


def test_diff_and_dry_run_in_a_real_process(tmp_path: Path) -> None:
    target = tmp_path / "w.yaml"
    target.write_text(worker("web"))
    before = target.read_text()
    run = kp("fix", "--no-config", "--unsafe-fixes", "--select", "KP0707", "--diff",
             str(target))
    assert run.returncode == 1, run.stderr
    assert target.read_text() == before
    plus = [ln[1:] for ln in run.stdout.splitlines()
            if ln.startswith("+") and not ln.startswith("+++")]
    assert plus == ["      serviceAccountName: web", "---", "apiVersion: v1",
                    "kind: ServiceAccount", "metadata:", "  name: web", "  namespace: shop",
                    "  labels:", "    app.kubernetes.io/name: web",
                    "automountServiceAccountToken: false"]
    assert not [ln for ln in run.stdout.splitlines()
                if ln.startswith("-") and not ln.startswith("---")]
    code, out = fix("--dry-run", str(target))
    assert code == 1
    assert f"{target}: would fix KP0707; would add ServiceAccount shop/web" in out


def test_a_comment_above_the_first_key_stays_above_it() -> None:
    text = worker("web").replace("    spec:\n", "    spec:\n      # the app\n")
    fixed = fix_text(text, unsafe(), lambda first, end: {"KP0707": {None}})
    # ruamel keeps such a comment with the mapping, not the key: inserting before
    # `containers` would put it above serviceAccountName, so it goes at the end
    assert fixed.text.startswith(text + "      serviceAccountName: web\n---\n")
