"""Applications (issue #10 §1): set rules judge each application apart, and
objects without a namespace never cover a namespace written down."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kubeproof.analysis.rbac import load_rbac
from kubeproof.api import scan
from kubeproof.core.applications import application_of, configured_application
from kubeproof.core.catalogue import WITHDRAWN_BY_SET, load_rules
from kubeproof.core.config import Config, ConfigError, load_config
from kubeproof.core.context import Context
from kubeproof.core.index import Index
from kubeproof.core.result import ScanResult
from kubeproof.model import Finding, Scope
from kubeproof.sources.files import LoadOptions
from tests.support.cli import kp
from tests.support.paths import CORPUS, RULE_FIXTURES

APPS = RULE_FIXTURES / "applications"
TEAM_A = APPS / "team-a"
NETWORK = ("KP0901", "KP0902")


def codes_lines(result: ScanResult, codes: tuple[str, ...]) -> list[tuple[str, str, int]]:
    assert not result.errors, result.errors
    return sorted((f.rule.code, Path(f.file).name, f.line) for f in result.findings
                  if f.rule.code in codes)


TEAM_A_FINDINGS = [("KP0901", "api.yaml", 6), ("KP0901", "api.yaml", 6),
                   ("KP0902", "api.yaml", 18)]


# ---------------------------------------------------------------- issue #10's example

def test_the_application_alone() -> None:
    assert codes_lines(scan([str(TEAM_A / "app")], select=NETWORK), NETWORK) == TEAM_A_FINDINGS


@pytest.mark.parametrize("paths", [
    [TEAM_A / "app", TEAM_A / "other"],  # two applications
    [TEAM_A],  # one application: the policy's namespace is still not team-a
    [TEAM_A / "app" / "api.yaml", TEAM_A / "other" / "deny.yaml"],  # files of two folders
])
def test_a_namespace_less_policy_beside_it_changes_nothing(paths: list[Path]) -> None:
    result = scan([str(p) for p in paths], select=NETWORK)
    assert codes_lines(result, NETWORK) == TEAM_A_FINDINGS


def test_the_findings_say_why_the_policy_without_namespace_does_not_count() -> None:
    result = scan([str(TEAM_A)], select=NETWORK)
    hint = ('(NetworkPolicy "default-deny" has no metadata.namespace, so it does not count '
            'for namespace "team-a": give it one, or scan with --namespace)')
    assert [f.message for f in result.findings] == [
        f'namespace "team-a" runs workloads but has no default-deny ingress NetworkPolicy {hint}',
        f'namespace "team-a" runs workloads but has no default-deny egress NetworkPolicy {hint}',
        f'Deployment "api": no NetworkPolicy of namespace "team-a" selects its pods for ingress '
        f'{hint}']
    alone = scan([str(TEAM_A / "app")], select=NETWORK)
    assert all("metadata.namespace" not in f.message for f in alone.findings)


def test_scan_and_netpol_reach_agree() -> None:
    args = ("--from", "external", "--to", "team-a/api")
    proc = kp("netpol", "reach", str(TEAM_A), *args)
    assert proc.returncode == 0, proc.stderr
    assert "external -> team-a/api: allowed" in proc.stdout
    # applied with -n team-a, the policy is team-a's: both say so
    proc = kp("netpol", "reach", str(TEAM_A), "--namespace", "team-a", *args)
    assert "external -> team-a/api: denied" in proc.stdout
    proc = kp("scan", "--no-config", "--select", "KP0901,KP0902", "--namespace", "team-a",
              "-f", "json", str(TEAM_A))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"] == []


def test_netpol_reach_gives_each_application_its_own_unknown_namespace(tmp_path: Path) -> None:
    """A namespace-less default-deny of one folder argument does not isolate the
    namespace-less workload of another, as scan's set rules judge them apart;
    one argument holding both is one application, where the policy applies."""
    for folder, text in (("a", _WORKLOAD), ("b", _DENY_ALL)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "objects.yaml").write_text(text)
    apart = kp("netpol", "reach", "a", "b", cwd=tmp_path)
    assert apart.returncode == 0, apart.stderr
    assert "external may connect to 1 of 1 workload" in apart.stdout
    assert "(no namespace: a)/api" in apart.stdout
    together = kp("netpol", "reach", ".", cwd=tmp_path)
    assert "external may connect to 0 of 1 workload" in together.stdout


_WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: "nginx:1.27"}]}
"""
_DENY_ALL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"""


# ---------------------------------------------------------------- --namespace

def test_namespace_is_given_to_namespaced_kinds_only_and_findings_report_it(tmp_path: Path
                                                                            ) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bare}\n"
        "spec: {containers: [{name: c, image: 'a:1'}]}\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
        "metadata: {name: all}\nrules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: other}\n"
        "spec: {containers: [{name: c, image: 'a:1'}]}\n")
    plain = scan([str(tmp_path)])
    assert {f.name for f in plain.findings if f.rule.code == "KP0402"} == {"bare"}
    for result in (scan([str(tmp_path)], options=LoadOptions(namespace="shop")),
                   scan([str(tmp_path)], config=Config(scan={"namespace": "shop"}))):
        assert not [f for f in result.findings if f.rule.code == "KP0402"]
        by_name: dict[str, set[str | None]] = {}
        for f in result.findings:
            by_name.setdefault(f.name, set()).add(f.namespace)
        assert by_name["bare"] == {"shop"}
        assert by_name["all"] == {None}  # cluster-scoped: no namespace
        assert by_name["p"] == {"other"}  # written down: kept


def test_an_invalid_namespace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n")
    proc = kp("scan", "--no-config", "--namespace", "No\x1b[31m", str(tmp_path))
    assert proc.returncode == 2 and "--namespace" in proc.stderr
    assert "\x1b" not in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / ".kubeproof.yaml").write_text("scan:\n  namespace: Bad_One\n")
    with pytest.raises(ConfigError, match=r"\.kubeproof\.yaml:2: scan\.namespace"):
        load_config(tmp_path / ".kubeproof.yaml")


# ---------------------------------------------------------------- what an application is

def test_application_of_each_kind_of_argument(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("")
    folder = application_of(("file", str(tmp_path / "a" / "x.yaml")), str(tmp_path))
    assert folder == application_of(("file", str(tmp_path / "b.yaml")), str(tmp_path))
    by_file = application_of(("file", str(tmp_path / "a" / "x.yaml")),
                             str(tmp_path / "a" / "x.yaml"))
    assert by_file == application_of(("file", str(tmp_path / "a" / "y.yaml")),
                                     str(tmp_path / "a" / "y.yaml")) != folder
    assert application_of(("stdin", "-"), "-") == "stdin"
    chart = application_of(("helm", str(tmp_path / "a")), str(tmp_path))
    assert chart not in (folder, by_file)


def test_configured_applications_first_pattern_deepest_folder(tmp_path: Path) -> None:
    deep = tmp_path / "apps" / "shop" / "base"
    deep.mkdir(parents=True)
    (deep / "x.yaml").write_text("")
    cwd = str(tmp_path)
    found = configured_application(str(deep / "x.yaml"), ["apps/*"], cwd)
    assert found == "app:" + str(tmp_path / "apps" / "shop")
    found = configured_application(str(deep / "x.yaml"), ["apps/*/*", "apps/*"], cwd)
    assert found == "app:" + str(deep)
    assert configured_application(str(deep / "x.yaml"), ["other/*"], cwd) is None
    assert configured_application(str(deep / "x.yaml"), [str(tmp_path / "apps" / "*")], "/") \
        == "app:" + str(tmp_path / "apps" / "shop")


def test_scan_applications_is_bounded(tmp_path: Path) -> None:
    config = tmp_path / ".kubeproof.yaml"
    config.write_text("scan:\n  applications: [" + ", ".join(["a/*"] * 1001) + "]\n")
    with pytest.raises(ConfigError, match="at most 1000 patterns"):
        load_config(config)
    config.write_text("scan:\n  applications: [" + ", ".join(["a/*"] * 1000) + "]\n")
    assert len(load_config(config).scan["applications"]) == 1000


def test_scan_applications_splits_one_argument(tmp_path: Path) -> None:
    apps = tmp_path / "apps"
    shutil.copytree(TEAM_A, apps)
    (tmp_path / ".kubeproof.yaml").write_text('scan:\n  applications: ["apps/*"]\n')
    proc = kp("scan", "--select", "KP0901,KP0902", "-f", "json", "apps", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    found = sorted((f["code"], f["line"]) for f in json.loads(proc.stdout)["findings"])
    assert found == [("KP0901", 6), ("KP0901", 6), ("KP0902", 18)]


def test_two_applications_writing_one_namespace_are_judged_apart(tmp_path: Path) -> None:
    shutil.copytree(TEAM_A / "app", tmp_path / "app")
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "deny.yaml").write_text(
        (TEAM_A / "other" / "deny.yaml").read_text().replace(
            "name: default-deny", "name: default-deny\n  namespace: team-a"))
    apart = scan([str(tmp_path / "app"), str(tmp_path / "ops")], select=NETWORK)
    assert codes_lines(apart, NETWORK) == TEAM_A_FINDINGS
    assert codes_lines(scan([str(tmp_path)], select=NETWORK), NETWORK) == []


# ---------------------------------------------------------------- mesh and rbac

def test_mesh_rules_follow_the_application_that_shows_a_mesh() -> None:
    mesh = APPS / "mesh"
    alone = scan([str(mesh / "istio"), str(mesh / "shop")], select=("KP15",))
    assert codes_lines(alone, ("KP1501", "KP1503")) == []
    together = scan([str(mesh)], select=("KP15",))
    assert codes_lines(together, ("KP1501", "KP1503")) == [("KP1501", "shop.yaml", 4)]


def test_rbac_risky_warns_of_a_role_defined_twice_only_within_one_application(
        tmp_path: Path) -> None:
    rbac = APPS / "rbac"
    apart = load_rbac([str(rbac / "one"), str(rbac / "two")])
    assert not [w for w in apart.warnings if "defined twice" in w.message]
    shutil.copy(rbac / "one" / "reader.yaml", tmp_path / "a.yaml")
    shutil.copy(rbac / "two" / "reader.yaml", tmp_path / "b.yaml")
    together = load_rbac([str(tmp_path)])
    assert [(Path(w.file).name, w.line) for w in together.warnings
            if "defined twice" in w.message] == [("b.yaml", 1)]


def test_rbac_and_netpol_read_the_applications_and_namespace_of_the_config(
        tmp_path: Path) -> None:
    """One folder argument, split into applications by config scan.applications,
    as scan splits it; scan.namespace gives objects without one their namespace."""
    rbac = APPS / "rbac"
    for name in ("one", "two"):
        shutil.copytree(rbac / name, tmp_path / "apps" / name)
    config = tmp_path / ".kubeproof.yaml"
    config.write_text('scan:\n  applications: ["apps/*"]\n')
    warned = kp("rbac", "risky", "apps", cwd=tmp_path)
    assert warned.returncode == 0, warned.stderr
    assert "defined twice" not in warned.stderr
    assert "defined twice" in kp("rbac", "risky", "--no-config", "apps", cwd=tmp_path).stderr
    for folder, text in (("api", _WORKLOAD), ("deny", _DENY_ALL)):
        (tmp_path / "net" / folder).mkdir(parents=True)
        (tmp_path / "net" / folder / "objects.yaml").write_text(text)
    config.write_text('scan:\n  applications: ["net/*"]\n')
    apart = kp("netpol", "reach", "net", cwd=tmp_path)
    assert "external may connect to 1 of 1 workload" in apart.stdout, apart.stderr
    assert "(no namespace: net/api)/api" in apart.stdout
    config.write_text("scan:\n  namespace: shop\n")
    together = kp("netpol", "reach", "net", cwd=tmp_path)
    assert "external may connect to 0 of 1 workload" in together.stdout, together.stderr


def test_a_role_binding_without_namespace_grants_only_there(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\n"
        "subjects: [{kind: User, name: alice}]\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n"
        "rules: [{apiGroups: [''], resources: [secrets], verbs: [get]}]\n")
    args = ("rbac", "who-can", "get", "secrets", str(tmp_path), "-f", "json")
    in_shop = json.loads(kp(*args, "-n", "shop").stdout)
    anywhere = json.loads(kp(*args).stdout)
    assert [g["subject"]["name"] for g in anywhere["grants"]] == ["alice"]
    assert in_shop["grants"] == []


# ---------------------------------------------------------------- the corpus

def _set_codes() -> frozenset[str]:
    return frozenset(r.code for r in load_rules().values() if r.scope == Scope.SET) \
        | frozenset(WITHDRAWN_BY_SET)


def _key(f: Finding) -> tuple[str, str, int, str]:
    return (f.rule.code, f.file, f.line, f.message)


def test_each_repository_alone_equals_its_part_of_the_whole_corpus() -> None:
    """Every set rule says the same about a repository scanned alone as in a
    scan of every repository plus a folder of namespace-less objects."""
    codes = _set_codes()
    repos = sorted(p for p in CORPUS.iterdir() if p.is_dir())
    assert len(repos) >= 10
    unrelated = APPS / "unrelated"
    whole = scan([*(str(r) for r in repos), str(unrelated)], select=tuple(sorted(codes)),
                 jobs=2)
    assert not whole.errors, whole.errors[:3]
    together: dict[str, set[tuple[str, str, int, str]]] = {}
    for f in whole.findings:
        if f.rule.code in codes:
            together.setdefault(_repo_of(f.file, repos, unrelated), set()).add(_key(f))
    total = 0
    for repo in repos:
        alone = scan([str(repo)], select=tuple(sorted(codes)))
        assert not alone.errors, alone.errors[:3]
        mine = {_key(f) for f in alone.findings if f.rule.code in codes}
        total += len(mine)
        assert together.get(str(repo), set()) == mine, repo.name
    assert total > 50  # the property is about real findings


def _repo_of(file: str, repos: list[Path], unrelated: Path) -> str:
    for r in (*repos, unrelated):
        if Path(file).is_relative_to(r):
            return str(r)
    raise AssertionError(file)


def test_fix_sees_the_applications_scan_sees() -> None:
    fix = APPS / "fix"
    args = ("fix", "--no-config", "--select", "KP0708", "--dry-run")
    together = kp(*args, str(fix))
    assert together.returncode == 0 and "would fix 0 of 2 files" in together.stdout
    apart = kp(*args, str(fix / "app"), str(fix / "rbac"))
    assert apart.returncode == 1 and "app.yaml: would fix KP0708" in apart.stdout
    assert codes_lines(scan([str(fix / "app"), str(fix / "rbac")], select=("KP0708",)),
                       ("KP0708",)) == [("KP0708", "app.yaml", 17)]


def test_prepare_steps_gather_once_over_every_application() -> None:
    seen: list[list[str]] = []

    def step(index: Index, ctx: Context) -> None:
        seen.append(sorted(w.ref.name for w in index.workloads))

    scan([str(TEAM_A / "app"), str(APPS / "mesh" / "shop")], prepare=[step])
    assert seen == [["api", "web"]]


def test_missing_rules_say_when_an_object_without_namespace_would_match() -> None:
    hints = APPS / "hints"
    codes = ("KP0502", "KP0503", "KP0504", "KP0505")
    result = scan([str(hints)], select=codes)
    assert codes_lines(result, codes) == [
        ("KP0502", "shop.yaml", 11), ("KP0503", "shop.yaml", 19), ("KP0504", "shop.yaml", 33),
        ("KP0505", "shop.yaml", 26)]
    tail = "without metadata.namespace matches, but it is not in namespace \"shop\": give it " \
           "one, or scan with --namespace)"
    assert [f.message.split(" (a ", 1)[1] for f in result.findings] == [
        f"pod template {tail}", f"pod template {tail}", f"Deployment {tail}", f"Service {tail}"]
    applied = scan([str(hints)], select=codes, config=Config(scan={"namespace": "shop"}))
    assert codes_lines(applied, codes) == []
