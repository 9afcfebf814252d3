"""``kubeproof test``: policy tests run with the real evaluator, their exit
codes, the JSON shape, the input errors (``file:line``) and hostile test files."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.policies.testing import run_tests
from tests.support.cli import invoke, kp

VAP = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: max-replicas
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas <= 3"
    message: too many replicas
"""


def deployment(name: str, replicas: int, namespace: str | None = None) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}{ns}\n"
            f"spec:\n  replicas: {replicas}\n---\n")


RESOURCES = deployment("web", 2) + deployment("big", 5)

TEST = """\
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: replicas
policies:
- policy.yaml
resources:
- resources.yaml
results:
- isValidatingAdmissionPolicy: true
  policy: max-replicas
  kind: Deployment
  resources: [web]
  result: pass
- isValidatingAdmissionPolicy: true
  policy: max-replicas
  kind: Deployment
  resources: [big]
  result: fail
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def suite(folder: Path, test: str = TEST, **more: str) -> Path:
    return write(folder, {"policy.yaml": VAP, "resources.yaml": RESOURCES,
                          "kyverno-test.yaml": test, **more})


def test_exit_0_when_every_expected_result_holds(tmp_path: Path) -> None:
    ran = invoke("test", str(suite(tmp_path)), expect=0)
    assert ran.stdout.splitlines() == ["1 tests, 2 results: 2 passed, 0 failed, "
                                       "0 input errors"]
    detailed = invoke("test", str(tmp_path), "--detailed-results", expect=0).stdout
    assert f"ok {tmp_path / 'kyverno-test.yaml'}: max-replicas Deployment big: expected " \
           "fail, got fail (too many replicas)" in detailed


def test_exit_1_when_an_expected_result_does_not_hold(tmp_path: Path) -> None:
    suite(tmp_path, TEST.replace("result: fail", "result: pass"))
    ran = invoke("test", str(tmp_path), expect=1)
    assert ran.stdout.splitlines() == [
        f"FAIL {tmp_path / 'kyverno-test.yaml'}: max-replicas Deployment big: expected pass, "
        "got fail (too many replicas)",
        "1 tests, 2 results: 1 passed, 1 failed, 0 input errors"]


def test_json_has_one_result_per_resource_and_the_summary(tmp_path: Path) -> None:
    suite(tmp_path, TEST.replace("resources: [big]", "resources: [big, web]"))
    out = json.loads(invoke("test", str(tmp_path), "--format", "json", expect=1).stdout)
    assert set(out) == {"results", "summary", "errors"}
    test = str(tmp_path / "kyverno-test.yaml")
    assert out["results"] == [
        {"test": test, "policy": "max-replicas", "rule": "", "kind": "Deployment",
         "resource": "web", "expected": "pass", "actual": "pass", "ok": True, "message": ""},
        {"test": test, "policy": "max-replicas", "rule": "", "kind": "Deployment",
         "resource": "big", "expected": "fail", "actual": "fail", "ok": True,
         "message": "too many replicas"},
        {"test": test, "policy": "max-replicas", "rule": "", "kind": "Deployment",
         "resource": "web", "expected": "fail", "actual": "pass", "ok": False,
         "message": ""}]
    assert out["summary"] == {"tests": 1, "results": 3, "passed": 2, "failed": 1, "errors": 0}
    assert out["errors"] == []


def test_missing_file_policy_and_resource_are_one_error_each_and_the_rest_runs(
        tmp_path: Path) -> None:
    test = TEST.replace("- resources.yaml", "- resources.yaml\n- gone.yaml") + """\
- policy: no-such-policy
  kind: Deployment
  resources: [web]
  result: pass
- policy: max-replicas
  kind: Deployment
  resources: [web, ghost, default/web, other/web]
  result: pass
"""
    suite(tmp_path, test)
    ran = invoke("test", str(tmp_path), "--format", "json", expect=2)
    name = tmp_path / "kyverno-test.yaml"
    assert ran.stderr.splitlines() == [
        f"{name}:9: resources: gone.yaml: no such file",
        f"{name}:21: results[2]: no policy 'no-such-policy' in the test's policies",
        f"{name}:27: results[3]: no Deployment 'ghost' in the test's resources",
        f"{name}:27: results[3]: no Deployment 'other/web' in the test's resources"]
    out = json.loads(ran.stdout)
    assert [(r["resource"], r["actual"]) for r in out["results"]] == [
        ("web", "pass"), ("big", "fail"), ("web", "pass"), ("default/web", "pass")]
    assert out["summary"]["errors"] == 4
    assert out["errors"][0] == {"file": str(name), "line": 9,
                                "message": "resources: gone.yaml: no such file"}


def test_exit_2_also_when_a_result_does_not_hold(tmp_path: Path) -> None:
    suite(tmp_path, TEST.replace("result: fail", "result: pass").replace(
        "- policy.yaml", "- policy.yaml\n- missing-policy.yaml"))
    ran = invoke("test", str(tmp_path), expect=2)
    assert f"{tmp_path / 'kyverno-test.yaml'}:7: policies: missing-policy.yaml: no such " \
           "file" in ran.stderr
    assert "1 failed, 1 input errors" in ran.stdout


def test_kyverno_test_fields_kubeproof_does_not_use_are_errors(tmp_path: Path) -> None:
    """A test that relies on PolicyExceptions or on mutation would give results
    that mean nothing: each such field is an error; the rest still runs."""
    suite(tmp_path, TEST.replace("results:\n", "exceptions: [exception.yaml]\nresults:\n")
          + "- policy: max-replicas\n  kind: Deployment\n  resources: [web]\n"
            "  patchedResources: patched.yaml\n  result: pass\n")
    ran = invoke("test", str(tmp_path), "--format", "json", expect=2)
    name = tmp_path / "kyverno-test.yaml"
    assert ran.stderr.splitlines() == [
        f"{name}:9: exceptions: not supported by kubeproof test (PolicyExceptions are not "
        "applied)",
        f"{name}:24: results[2].patchedResources: not supported by kubeproof test (it "
        "validates; it does not mutate or generate)"]
    assert json.loads(ran.stdout)["summary"]["results"] == 2


def test_a_test_file_given_by_name_and_the_kube_version(tmp_path: Path) -> None:
    suite(tmp_path)
    (tmp_path / "kyverno-test.yaml").rename(tmp_path / "replicas.yaml")
    invoke("test", str(tmp_path / "replicas.yaml"), "--kube-version", "1.30", expect=0)
    ran = invoke("test", str(tmp_path / "replicas.yaml"), "--kube-version", "2.0", expect=2)
    assert "invalid Kubernetes version '2.0'" in ran.stderr


def test_a_folder_without_a_test_file_is_an_input_error(tmp_path: Path) -> None:
    write(tmp_path, {"policy.yaml": VAP})
    ran = invoke("test", str(tmp_path), expect=2)
    assert ran.stderr.strip() == (f"{tmp_path}: no test file here (kyverno-test.yaml or "
                                  "kubeproof-test.yaml)")
    invoke("test", str(tmp_path / "nothing"), expect=2)


def test_a_policy_that_does_not_compile_is_an_input_error(
        tmp_path: Path) -> None:
    suite(tmp_path, **{"policy.yaml": VAP.replace("object.spec.replicas <= 3",
                                                  "object.spec.replicas <=")})
    ran = invoke("test", str(tmp_path), "--format", "json", expect=2)
    out = json.loads(ran.stdout)
    assert out["errors"] and all(e["file"] == str(tmp_path / "policy.yaml")
                                 for e in out["errors"])
    assert len(out["results"]) == 2


def test_text_output_escapes_control_characters(tmp_path: Path) -> None:
    evil = 'web\\e]0;pwned\\a\\n'
    suite(tmp_path, TEST.replace("resources: [web]", f'resources: ["{evil}"]').replace(
        "result: pass", "result: fail"),
          **{"resources.yaml": RESOURCES.replace("name: web", f'name: "{evil}"')})
    ran = invoke("test", str(tmp_path), "--detailed-results", expect=1)
    assert "\x1b" not in ran.output and "\x07" not in ran.output
    assert "web\\x1b]0;pwned\\x07\\x0a: expected fail, got pass" in ran.stdout
    assert len(ran.stdout.splitlines()) == 3


def test_a_failure_of_an_unscored_policy_is_a_warn(tmp_path: Path) -> None:
    unscored = VAP.replace("  name: max-replicas\n", "  name: max-replicas\n  annotations:\n"
                           "    policies.kyverno.io/scored: \"false\"\n")
    suite(tmp_path, TEST.replace("result: fail", "result: warn"),
          **{"policy.yaml": unscored})
    invoke("test", str(tmp_path), expect=0)


def test_update_operation_user_info_and_namespace_name_form(tmp_path: Path) -> None:
    policy = VAP.replace("[CREATE, UPDATE]", "[UPDATE]").replace(
        '"object.spec.replicas <= 3"',
        "\"object.spec.replicas == oldObject.spec.replicas && "
        "request.userInfo.username == 'alice'\"")
    test = """\
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
policies: [policy.yaml]
resources: [resources.yaml]
variables: values.yaml
userinfo: user.yaml
results:
- policy: max-replicas
  kind: Deployment
  resources: [a/web]
  result: pass
"""
    values = ("apiVersion: cli.kyverno.io/v1alpha1\nkind: Value\nglobalValues:\n"
              "  request.operation: UPDATE\n")
    user = ("apiVersion: cli.kyverno.io/v1alpha1\nkind: UserInfo\nuserInfo:\n"
            "  username: alice\n")
    suite(tmp_path, test, **{"policy.yaml": policy, "values.yaml": values,
                             "user.yaml": user,
                             "resources.yaml": deployment("web", 2, "a")
                             + deployment("web", 9, "b")})
    invoke("test", str(tmp_path), expect=0)
    # without the values file the request is a CREATE: the policy does not apply
    write(tmp_path, {"kyverno-test.yaml": test.replace("variables: values.yaml\n", "")
                     .replace("result: pass", "result: skip")})
    invoke("test", str(tmp_path), expect=0)
    write(tmp_path, {"kyverno-test.yaml": test, "user.yaml": user.replace("alice", "bob")})
    invoke("test", str(tmp_path), expect=1)
    # the operation of one policy and resource (values), or of one result
    write(tmp_path, {"user.yaml": user, "values.yaml": (
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Value\npolicies:\n- name: max-replicas\n"
        "  resources:\n  - name: web\n    values:\n      request.operation: UPDATE\n")})
    invoke("test", str(tmp_path), expect=0)
    write(tmp_path, {"kyverno-test.yaml": test.replace("variables: values.yaml\n", "")
                     .replace("result: pass", "operation: UPDATE\n  result: pass")})
    invoke("test", str(tmp_path), expect=0)


def test_kyverno_cluster_policy_rules_and_their_autogen_rules(tmp_path: Path) -> None:
    """A result names the rule; Kyverno's autogen rules of a pod rule answer
    for it (``autogen-<rule>``, ``autogen-cronjob-<rule>``, either written)."""
    folder = Path(__file__).parent / "data" / "cluster-policy"
    write(tmp_path, {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()})
    ran = invoke("test", str(tmp_path), "--detailed-results", expect=0)
    assert ran.stdout.splitlines()[-1] == "1 tests, 4 results: 4 passed, 0 failed, " \
                                         "0 input errors"
    test = (tmp_path / "kyverno-test.yaml").read_text(encoding="utf-8")
    # the deprecated forms older library tests use: resource and status
    write(tmp_path, {"kyverno-test.yaml": test.replace("resources: [good]", "resource: good")
                     .replace("result:", "status:")})
    ran = invoke("test", str(tmp_path), expect=0)
    assert ran.stdout.startswith("1 tests, 4 results: 4 passed")
    write(tmp_path, {"kyverno-test.yaml": test.replace("result: fail", "result: pass", 1)})
    ran = invoke("test", str(tmp_path), expect=1)
    assert "no-latest/check-tag Deployment bad: expected pass, got fail (no latest tag)" \
        in ran.stdout


def test_a_policy_needing_kyverno_only_libraries_is_unsupported_never_guessed(
        tmp_path: Path) -> None:
    policy = """\
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: ask-the-cluster
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  validations:
  - expression: "resource.Get('v1', 'configmaps', 'default', 'x').data.ok == 'yes'"
"""
    pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers: []\n"
    test = ("apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\npolicies: [policy.yaml]\n"
            "resources: [resources.yaml]\nresults:\n- isValidatingPolicy: true\n"
            "  policy: ask-the-cluster\n  kind: Pod\n  resources: [web]\n"
            "  result: unsupported\n")
    suite(tmp_path, test, **{"policy.yaml": policy, "resources.yaml": pod})
    invoke("test", str(tmp_path), expect=0)
    write(tmp_path, {"kyverno-test.yaml": test.replace("unsupported", "pass")})
    ran = invoke("test", str(tmp_path), expect=1)
    assert "ask-the-cluster Pod web: expected pass, got unsupported (" in ran.stdout
    assert "resource" in ran.stdout.split("got unsupported (", 1)[1]


CONFIG = """\
customRules:
- code: ACME001
  name: few-replicas
  summary: Deployments run at most three replicas
  match:
    kinds: [Deployment]
  expression: "object.spec.replicas <= 3"
  message: at most three replicas
"""

KUBEPROOF_TEST = """\
apiVersion: kubeproof.dev/v1alpha1
kind: Test
name: few-replicas
config: ../.kubeproof.yaml
resources: [resources.yaml]
results:
- rule: ACME001
  kind: Deployment
  resources: [web]
  result: pass
- rule: ACME001
  kind: Deployment
  resources: [big]
  result: fail
"""


def test_kubeproof_test_file_runs_custom_rules_of_its_config(tmp_path: Path) -> None:
    write(tmp_path, {".kubeproof.yaml": CONFIG, "t/resources.yaml": RESOURCES,
                     "t/kubeproof-test.yaml": KUBEPROOF_TEST})
    out = json.loads(invoke("test", str(tmp_path), "--format", "json", expect=0).stdout)
    assert [(r["rule"], r["resource"], r["actual"], r["message"]) for r in out["results"]] \
        == [("ACME001", "web", "pass", ""), ("ACME001", "big", "fail", "at most three replicas")]
    write(tmp_path, {"t/kubeproof-test.yaml": KUBEPROOF_TEST.replace("ACME001", "ACME002")})
    ran = invoke("test", str(tmp_path), expect=2)
    assert f"{tmp_path / 't' / 'kubeproof-test.yaml'}:7: results[0]: no rule 'ACME002' in " \
           "the test's policies or config" in ran.stderr
    write(tmp_path, {".kubeproof.yaml": CONFIG.replace("<= 3", "<=")})
    ran = invoke("test", str(tmp_path), expect=2)
    assert ".kubeproof.yaml:7:" in ran.stderr


# ---------------------------------------------------------------- hostile input

_FILES = st.sampled_from(["policy.yaml", "resources.yaml", "gone.yaml", "", ".", "/",
                          "../..", "http://example.com/p.yaml", "kyverno-test.yaml",
                          "values.yaml"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                     st.floats(allow_nan=False), st.text(max_size=20), _FILES)
_ANY = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
_RESULT = st.fixed_dictionaries({}, optional={
    "policy": st.one_of(st.just("max-replicas"), _ANY),
    "rule": _ANY, "kind": st.one_of(st.just("Deployment"), _ANY),
    "resources": st.one_of(st.lists(st.sampled_from(["web", "big", "x/web", "", "ghost"]),
                                    max_size=3), _ANY),
    "result": st.one_of(st.sampled_from(["pass", "fail", "skip", "warn", "bogus"]), _ANY),
    "operation": st.one_of(st.sampled_from(["UPDATE", "DELETE", "PATCH"]), _ANY),
    "isValidatingPolicy": _ANY})
_TEST = st.fixed_dictionaries(
    {"apiVersion": st.sampled_from(["cli.kyverno.io/v1alpha1", "kubeproof.dev/v1alpha1"]),
     "kind": st.just("Test")},
    optional={"policies": st.one_of(st.lists(_FILES, max_size=3), _ANY),
              "resources": st.one_of(st.lists(_FILES, max_size=3), _ANY),
              "paramResources": _ANY, "variables": st.one_of(_FILES, _ANY),
              "userinfo": st.one_of(_FILES, _ANY), "values": _ANY,
              "config": st.one_of(_FILES, _ANY),
              "results": st.one_of(st.lists(_RESULT, max_size=4), _ANY)})


_VALUES = st.fixed_dictionaries(
    {"apiVersion": st.just("cli.kyverno.io/v1alpha1"),
     "kind": st.sampled_from(["Value", "UserInfo"])},
    optional={"namespaceSelector": _ANY, "namespaces": _ANY, "globalValues": _ANY,
              "policies": _ANY, "userInfo": _ANY})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(test=st.one_of(_TEST, _ANY), values=_VALUES)
def test_any_test_file_gives_results_or_errors_never_a_traceback(test: Any,
                                                                  values: Any) -> None:
    """Any shape in the test file and in the values or userinfo file it names."""
    with tempfile.TemporaryDirectory() as folder:
        suite(Path(folder), yaml.safe_dump(test), **{"values.yaml": yaml.safe_dump(values)})
        run = run_tests([folder])
        assert run.exit_code() in (0, 1, 2)
        for err in run.errors:
            assert err.file and "\n" not in err.message
        json.dumps(run.to_dict())


def test_broken_test_files_through_the_command(tmp_path: Path) -> None:
    broken = {"a/kyverno-test.yaml": "results: [",
              "b/kyverno-test.yaml": "- just\n- a list\n",
              "c/kyverno-test.yaml": "[" * 500 + "]" * 500,
              "d/kyverno-test.yaml": "apiVersion: v1\nkind: ConfigMap\n",
              "e/kyverno-test.yaml": TEST + "---\n" + TEST.replace("web", "big"),
              "f/kyverno-test.yaml": "\x00\x01binary",
              "g/kyverno-test.yaml": "",
              "h/kyverno-test.yaml": TEST.replace("- resources.yaml", "- ../e"),
              "e/policy.yaml": VAP, "e/resources.yaml": RESOURCES,
              "h/policy.yaml": "apiVersion: [1\n"}
    write(tmp_path, broken)
    ran = kp("test", str(tmp_path), traceback_free=True)
    assert ran.returncode == 2
    lines = ran.stderr.splitlines()
    for folder in "abcdfgh":
        assert any(f"/{folder}/" in line for line in lines), (folder, lines)
    assert "1 failed" in ran.stdout  # e's second document expects pass of big
