"""The control-plane rules in `kubeproof audit`: fed by the kube-system mirror pods."""

from __future__ import annotations

from tests.support.audit import Api
from tests.support.fakeapi import load_manifests
from tests.support.scanning import fixture


def test_etcd_and_apiserver_mirror_pods_feed_the_control_plane_rules(api: Api) -> None:
    # a hardened kubeadm etcd and apiserver, then an insecure etcd, as mirror pods
    for name in ("etcd_kubeadm_pass.yaml", "kubeadm_pass.yaml", "etcd_fail.yaml"):
        for obj in load_manifests([fixture("control_plane", name)]):
            if obj.get("kind") == "Pod":
                obj["metadata"]["name"] += "-node-2"
                api.cluster.add(obj)
    result = api.audit(select=("KP0710", "KP1006"))
    assert not result.errors
    found = sorted({(f.rule.code, f.file) for f in result.findings})
    assert found == [
        ("KP0710", "fake/kube-system/Pod/etcd-cp1-node-2"),  # the insecure etcd pod
        ("KP0710", "fake/kube-system/Pod/kube-apiserver-node-1"),  # the fixture cluster's
        ("KP1006", "fake/kube-system/Pod/etcd-cp1-node-2"),  # its apiserver container
        ("KP1006", "fake/kube-system/Pod/kube-apiserver-node-1"),
    ]
