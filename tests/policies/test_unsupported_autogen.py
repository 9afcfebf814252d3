"""A Kyverno ValidatingPolicy that needs a Kyverno-only library is
``unsupported`` wherever it would judge: on Pods, and on the pod controllers
its autogen reaches; never guessed, never a silent ``skip``."""

from __future__ import annotations

import yaml

from kubeproof.policies.compile import compile_policies
from kubeproof.policies.model import SKIP, UNSUPPORTED, NoLookup, Source, Subject

POLICY = yaml.safe_load("""
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: allowed-registries}
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [pods]
  validations:
    - expression: >-
        object.spec.containers.all(c, c.image.startsWith(
          resource.Get("v1", "configmaps", "kyverno", "registries").data.allowed))
""")


def _obj(kind: str, api_version: str) -> dict:
    pod = {"containers": [{"name": "a", "image": "nginx:1.27"}]}
    spec = pod if kind == "Pod" else {"template": {"spec": pod}}
    if kind == "CronJob":
        spec = {"schedule": "* * * * *", "jobTemplate": {"spec": spec}}
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": "x", "namespace": "ns"}, "spec": spec}


def test_unsupported_on_pods_and_autogen_controllers() -> None:
    compiled = compile_policies([(POLICY, Source("p.yaml", 1))])
    assert not compiled.errors
    assert len(compiled.unsupported) == 1 and "resource" in compiled.unsupported[0].message
    policy = compiled.policies[0]
    for kind, api_version in (("Pod", "v1"), ("Deployment", "apps/v1"),
                              ("CronJob", "batch/v1"), ("StatefulSet", "apps/v1")):
        [outcome] = policy.evaluate(Subject(obj=_obj(kind, api_version)), NoLookup())
        assert outcome.result == UNSUPPORTED, (kind, outcome)
    [outcome] = policy.evaluate(Subject(obj={"apiVersion": "v1", "kind": "Service",
                                             "metadata": {"name": "s", "namespace": "ns"}}),
                                NoLookup())
    assert outcome.result == SKIP
