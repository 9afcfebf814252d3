"""``kubeproof webhook install`` and the chart render the same objects for the
same settings; only what must differ is normalised: the generated certificates
(random, and helm's are RSA) and the ``managed-by`` label."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from kubeproof.webhook.certs import service_dns_names
from kubeproof.webhook.manifests import InstallOptions, build_manifests
from tests.helm.chart import IMAGE, render_objects, values_of

SETTINGS = [
    InstallOptions(image=IMAGE),
    InstallOptions(image=IMAGE, mode="warn", replicas=3, workers=4),
    InstallOptions(image=IMAGE, mode="enforce", cert_manager=True, namespace="policy"),
    InstallOptions(image=IMAGE, mode="audit", failure_policy="Fail",
                   mutate_failure_policy="Fail", replicas=1),
    InstallOptions(image=IMAGE, mode="enforce", failure_policy="Ignore", cert_manager=True),
]


def _key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]


def _normalise(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("app.kubernetes.io/managed-by") in ("kubeproof", "Helm"):
                node["app.kubernetes.io/managed-by"] = "<manager>"
            if "caBundle" in node:
                node["caBundle"] = "<ca>"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(obj)
    if obj["kind"] == "Secret":
        obj["data"] = dict.fromkeys(sorted(obj["data"]), "<pem>")
    return obj


@pytest.mark.parametrize("o", SETTINGS, ids=lambda o: f"{o.mode}-{o.cert_manager}-{o.replicas}")
def test_chart_renders_what_webhook_install_prints(tmp_path: Path, o: InstallOptions) -> None:
    installed = {_key(obj): _normalise(obj) for obj in build_manifests(o)}
    charted = {_key(obj): _normalise(obj)
               for obj in render_objects(tmp_path, values_of(o), o.namespace)}
    assert sorted(charted) == sorted(installed)
    for key, obj in installed.items():
        assert charted[key] == obj, key


def test_generated_certificate_serves_the_service_and_is_in_the_ca_bundle(
        tmp_path: Path) -> None:
    objects = render_objects(tmp_path, values_of(InstallOptions(image=IMAGE)))
    [secret] = [o for o in objects if o["kind"] == "Secret"]
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    ca = x509.load_pem_x509_certificate(data["ca.crt"])
    cert = x509.load_pem_x509_certificate(data["tls.crt"])
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == service_dns_names(
        "kubeproof-webhook", "kubeproof")
    assert b"PRIVATE KEY" in data["tls.key"]
    bundles = {base64.b64decode(hook["clientConfig"]["caBundle"])
               for o in objects if o["kind"].endswith("WebhookConfiguration")
               for hook in o["webhooks"]}
    assert bundles == {data["ca.crt"]}
