"""Every rule, fixer and analysis command survives wrong types in every field.

The sweep mutates the repository's own fixture objects: each field they show
(one per kind and path shape) gets each hostile value (null, empty and odd
containers, a bool, huge and negative numbers, odd unicode, a 10 kB string),
and the real engine, fixers and CLI run on the result. A wrong-typed field
must at most be an input error or a KP0002 finding for its object: never an
"internal error" (a rule exception), a traceback or a lost run.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproof.api import scan
from kubeproof.core.catalogue import load_rules
from kubeproof.core.config import Config
from kubeproof.core.fixing import FixSettings
from kubeproof.fix.apply import fix_object
from kubeproof.k8s.quantity import MAX_VALUE, decimal_int
from kubeproof.rules.common import one_of, quote
from tests.hostile.mutants import (
    ANALYSIS_FIXTURES,
    EXAMPLES,
    HOSTILE,
    RULE_CASES,
    RULE_FIXTURES,
    added_field_files,
    fixture_files,
    mutant_files,
    mutated,
    mutation_sites,
    objects_of,
)
from tests.support.cli import invoke, kp

ALL_FIXTURES = (RULE_CASES, ANALYSIS_FIXTURES, EXAMPLES)


def internal_errors(messages: list[str]) -> list[str]:
    return [m for m in messages if "internal error" in m or "Traceback" in m]


def test_mutation_sites_cover_every_fixture_kind() -> None:
    """The sample keeps one site per (kind, path shape): every kind the fixtures
    hold, and every top-level field of each, is mutated."""
    files = fixture_files(*ALL_FIXTURES)
    sites = mutation_sites(files)
    kinds = {o.get("kind") for f in files for o in objects_of(f)
             if isinstance(o.get("kind"), str)}
    assert {obj.get("kind") for _, obj, _ in sites} >= kinds
    assert len(sites) > 1000


def test_every_rule_survives_hostile_values_in_every_field(tmp_path: Path) -> None:
    """Object, cluster and set rules over every mutant: no rule exception."""
    objects, codes = 0, set()
    for path in mutant_files(tmp_path, fixture_files(*ALL_FIXTURES)):
        # one scan per file: set rules see the fixture's own objects, and the
        # sets stay small (set rules cost more than linear time in set size)
        result = scan([str(path)])
        assert internal_errors([str(e) for e in result.errors]) == [], path.read_text()[:3000]
        objects += result.objects
        codes.update(f.rule.code for f in result.findings)
        # hostile values (10 kB, U+202E) leave every message one short, readable line
        assert [f.message for f in result.findings
                if len(f.message) > 1000 or not f.message.isprintable()] == [], path
    assert objects > 1000 * len(HOSTILE)
    assert codes >= {"KP0002", "KP0801", "KP0504", "KP0904", "KP1604"}


def test_rules_and_fixers_survive_hostile_values_in_fields_fixtures_lack(
        tmp_path: Path) -> None:
    """Fixtures leave most optional fields out: every field name the code reads
    is added, holding a hostile value, to every mapping the fixtures show."""
    fix_settings = FixSettings.from_config(Config())
    objects = 0
    for path in added_field_files(tmp_path, fixture_files(*ALL_FIXTURES)):
        result = scan([str(path)])
        assert internal_errors([str(e) for e in result.errors]) == [], path
        objects += result.objects
        for doc in path.read_text(encoding="utf-8").split("\n---\n"):
            fix_object(yaml.load(doc, Loader=yaml.CSafeLoader), fix_settings)
    assert objects > 400


def test_every_fixer_survives_hostile_values_in_every_field() -> None:
    fix_settings = FixSettings.from_config(Config())
    changed = 0
    for _, obj, path in mutation_sites(fixture_files(*ALL_FIXTURES)):
        for value in HOSTILE:
            changed += bool(fix_object(mutated(obj, path, value), fix_settings))
    assert changed > 0  # the fixers did run on these objects


RBAC_FIXTURES = (*sorted(RULE_CASES.glob("KP07*")), RULE_FIXTURES / "rbac", ANALYSIS_FIXTURES,
                 EXAMPLES)
NETPOL_FIXTURES = (*sorted(RULE_CASES.glob("KP090[1-5]")), ANALYSIS_FIXTURES / "netpol")
IMAGE_FIXTURES = (*sorted(RULE_CASES.glob("KP0[123]*")), EXAMPLES)
COMMANDS = (
    (("rbac", "who-can", "create", "pods/exec", "-n", "default", "--name", "x"), RBAC_FIXTURES),
    (("rbac", "risky", "-f", "json"), RBAC_FIXTURES),
    (("netpol", "reach", "--port", "80"), NETPOL_FIXTURES),
    (("images", "-f", "json"), IMAGE_FIXTURES),
)


@pytest.mark.parametrize(("args", "fixtures"), COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_analysis_commands_survive_hostile_values(args: tuple[str, ...],
                                                  fixtures: tuple[Path, ...],
                                                  tmp_path: Path) -> None:
    """One run (in process) per mutant file: exit 0, 1 or 2, no internal error.
    Per file, so an abort cannot hide behind another file's, and the sets stay
    small (``netpol reach`` judges every pair of workloads)."""
    for path in mutant_files(tmp_path, fixture_files(*fixtures)):
        r = invoke(*args, str(path))
        assert r.exception is None or isinstance(r.exception, SystemExit), (path, r.exception)
        assert r.returncode in (0, 1, 2), (path, r.output[-2000:])
        assert internal_errors([r.output]) == [], path


# ---------------------------------------------------------------- the examples

def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


BINDINGS = """\
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata: {name: broken, namespace: shop}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: {}, name: reader}
    subjects: [{kind: [], name: alice}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: admins}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
    subjects: [{kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}]
    """


@pytest.mark.parametrize("args", [("who-can", "get", "secrets"), ("risky",)], ids=" ".join)
def test_rbac_role_ref_kind_map_is_a_warning_for_that_binding(tmp_path: Path,
                                                               args: tuple[str, ...]) -> None:
    path = write(tmp_path, "rbac.yaml", BINDINGS)
    r = kp("rbac", *args, str(path))
    assert r.returncode in (0, 1, 2), r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert "bob" in r.stdout  # the other binding is still analysed
    assert "roleRef needs kind Role or ClusterRole" in r.stdout + r.stderr


INGRESS = """\
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec: {ports: [{port: 80, name: http}], selector: {app: web}}
    ---
    apiVersion: networking.k8s.io/v1beta1
    kind: Ingress
    metadata: {name: odd, namespace: shop}
    spec:
      rules:
      - http:
          paths:
          - {path: /, backend: {serviceName: web, servicePort: "SERVICE_PORT"}}
          - {path: /b, backend: {serviceName: web, servicePort: "80"}}
          - {path: /c, backend: {serviceName: web, servicePort: "81"}}
    """


@pytest.mark.parametrize("port", ["²", "٣", "9" * 5000, "80", "http"])
def test_ingress_service_port_unicode_digits(tmp_path: Path, port: str) -> None:
    """KP0504 reads a string servicePort as a number only when it is ASCII
    digits: "²" and "٣" are names the Service lacks, not crashes or port 3."""
    path = write(tmp_path, "ing.yaml", INGRESS.replace("SERVICE_PORT", port))
    result = scan([str(path)], select=("KP0504",))
    assert internal_errors([str(e) for e in result.errors]) == []
    lines = sorted(f.line for f in result.findings)
    expect_first = [] if port in ("80", "http") else [13]
    assert lines == [*expect_first, 15]  # port 81 is not exposed; "80" is


@pytest.mark.parametrize("value", [{}, [], [{}], None, 2**62, True])
def test_webhook_side_effects_of_wrong_type(tmp_path: Path, value: object) -> None:
    path = write(tmp_path, "wh.yaml", f"""\
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingWebhookConfiguration
        metadata: {{name: policy}}
        webhooks:
        - name: a.example.com
          sideEffects: {json.dumps(value)}
          admissionReviewVersions: [v1]
          clientConfig: {{service: {{name: a, namespace: b}}}}
        """)
    result = scan([str(path)], select=("KP1604",))
    assert result.errors == []
    assert [f.line for f in result.findings] == [6]  # not a safe value: reported


@pytest.mark.parametrize("name", [["data"], {"a": "data"}, None, 7])
def test_secret_mount_fixer_with_wrong_typed_mount_name(name: object) -> None:
    """KP1002's fixer leaves a mount whose name is not a string alone and
    still fixes the well-formed mount beside it."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"volumes": [{"name": "data", "secret": {"secretName": "s"}}],
                    "containers": [{"name": "c", "image": "x", "volumeMounts": [
                        {"name": name, "mountPath": "/odd"},
                        {"name": "data", "mountPath": "/data"}]}]}}
    changed = fix_object(pod, FixSettings.from_config(Config()), codes=("KP1002",))
    mounts = pod["spec"]["containers"][0]["volumeMounts"]  # type: ignore[index]
    assert changed == ["KP1002"]
    assert "readOnly" not in mounts[0] and mounts[1]["readOnly"] is True


def test_network_policy_with_huge_integer(tmp_path: Path) -> None:
    """KP0905's per-namespace fingerprint takes integers orjson refuses."""
    path = write(tmp_path, "np.yaml", f"""\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {{name: p, namespace: shop}}
        spec:
          podSelector: {{}}
          ingress: [{{ports: [{{port: {10**30}}}]}}]
        """)
    result = scan([str(path)])
    assert internal_errors([str(e) for e in result.errors]) == []


@pytest.mark.parametrize("port", ["²", "٣", "9" * 5000, "ab\u202e"])
def test_netpol_reach_rejects_non_ascii_ports(port: str) -> None:
    r = kp("netpol", "reach", "--port", port, str(EXAMPLES / "good"))
    assert r.returncode == 2
    assert r.stderr.startswith("kubeproof: error: --port:") and "Traceback" not in r.stderr
    assert len(r.stderr) < 200


# ---------------------------------------------------------------- engine isolation

def test_a_rule_exception_is_an_error_for_that_object_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that raises on one object: one error naming file:line and the rule,
    its findings on other objects and every other rule's findings kept."""
    path = write(tmp_path, "two.yaml", """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: good}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: boom}
        """)
    rule = load_rules()["KP0402"]
    real = rule.check

    def explodes_on_boom(res, ctx):  # type: ignore[no-untyped-def]
        if res.name == "boom":
            raise RuntimeError("secret-value-must-not-show")
        return real(res, ctx)

    monkeypatch.setattr(rule, "check", explodes_on_boom)
    result = scan([str(path)])
    errors = [str(e) for e in result.errors]
    assert len(errors) == 1 and errors[0].startswith(f"{path}:5: internal error in rule KP0402")
    assert "secret-value-must-not-show" not in errors[0]
    kp0401 = [(f.name, f.line) for f in result.findings if f.rule.code == "KP0402"]
    assert kp0401 == [("good", 3)]
    assert result.objects == 2  # the run went on past the failing rule


# ---------------------------------------------------------------- the helpers

@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.lists(st.integers())))
def test_decimal_accepts_only_ascii_digits(value: object) -> None:
    number = decimal_int(value)
    if number is not None:
        assert isinstance(value, str) and value.isascii() and value.isdigit()
        assert number == min(int(value), MAX_VALUE)
    else:
        assert not (isinstance(value, str) and value.isascii() and value.isdigit())


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=5))
def test_one_of_never_raises(value: object) -> None:
    choices = frozenset({"None", "NoneOnDryRun"})
    assert one_of(value, choices) == (isinstance(value, str) and value in choices)


# ---------------------------------------------------------------- KP0002 reports the types

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
       "spec": {"containers": [{"name": "c", "image": "registry.example/app:1.0"}]}}


@pytest.mark.parametrize(("path", "value"), [
    (("spec", "containers"), "c"),
    (("spec", "containers", 0), ["c"]),
    (("spec", "hostNetwork"), 1),
    (("spec", "volumes"), {"a": {}}),
    (("spec", "containers", 0, "name"), {"a": {}}),
    (("spec", "containers", 0, "image"), 2**62),  # past 64 bits the loader refuses it
    (("spec", "containers", 0, "env"), "FOO=bar"),
    (("spec", "containers", 0, "securityContext"), [{}]),
    (("spec", "containers", 0, "volumeMounts"), [{"name": ["data"], "mountPath": "/d"}]),
])
def test_invalid_object_reports_a_wrong_typed_field(tmp_path: Path, path: tuple[str | int, ...],
                                                    value: object) -> None:
    """The rules judge nothing for a field of the wrong type; KP0002 says so, once,
    at that field."""
    doc = write(tmp_path, "pod.json", json.dumps(mutated(POD, path, value)))
    fs = [f for f in scan([str(doc)]).findings if f.rule.code == "KP0002"]
    assert len(fs) == 1, [f.message for f in fs]
    assert fs[0].path.startswith(".".join(str(s) for s in path).replace(".0", "[0]"))
    assert "must be" in fs[0].message


def test_invalid_object_leaves_templated_and_null_fields_alone(tmp_path: Path) -> None:
    obj = mutated(mutated(POD, ("spec", "volumes"), "{{ .Values.volumes }}"),
                  ("spec", "containers", 0, "env"), None)
    doc = write(tmp_path, "pod.json", json.dumps(obj))
    assert [f for f in scan([str(doc)]).findings if f.rule.code == "KP0002"] == []


def test_quote_keeps_hostile_values_short_and_readable() -> None:
    assert quote("a\u202eb") == '"a\\u202eb"'
    assert quote("x" * 10240).endswith('… (10240 characters)"') and len(quote("x" * 10240)) < 600
    assert quote(["x"] * 5000).startswith("['x'") and len(quote(["x"] * 5000)) < 600
    assert quote("web") == '"web"' and quote(None) == "None"


def test_a_failure_outside_the_rules_loses_only_that_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pod view or the index failing on one object: one error line for it,
    the other objects still checked and reported."""
    import kubeproof.model as model  # Resource.pod calls the pod_view it imported

    path = write(tmp_path, "pods.yaml", """\
        apiVersion: v1
        kind: Pod
        metadata: {name: boom}
        spec: {containers: [{name: c, image: "nginx:latest"}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: fine}
        spec: {containers: [{name: c, image: "nginx:latest"}]}
        """)
    real = model.pod_view

    def fails_on_boom(res):  # type: ignore[no-untyped-def]
        if res.name == "boom":
            raise KeyError("x")
        return real(res)

    monkeypatch.setattr(model, "pod_view", fails_on_boom)
    result = scan([str(path)])
    assert [str(e) for e in result.errors] == [
        f"{path}:1: internal error checking Pod/boom: KeyError (please report it)"]
    assert "fine" in {f.name for f in result.findings if f.rule.code == "KP0101"}
