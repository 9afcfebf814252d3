"""Safe and unsafe fixes, as ruff separates them: ``kubeproof fix`` applies the
safe ones unless ``--unsafe-fixes``, says how many it left out, never flips a
value the manifest states without that flag, and with ``--check-images`` the
unsafe fixers fit the image's config (user, exposed ports)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproof.api import scan
from kubeproof.core.catalogue import fixes, load_rules
from kubeproof.core.fixing import FixSettings
from kubeproof.fix.apply import fix_object
from kubeproof.images.oci import ImageInfo
from kubeproof.model import SAFE, UNSAFE
from tests.fix.test_fixers import unsafe
from tests.support.cli import invoke, kp
from tests.support.paths import ROOT

# the decision per fixer (a change here is a change of promise: README, docs/rules.md)
EXPECTED_SAFE = {"KP0101", "KP0102", "KP0402", "KP0501", "KP0708", "KP1002"}

# every unsafe fix has something to do here, and KP0501 (safe) too
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web   # no labels: KP0501
  namespace: shop
spec:
  containers:
  - name: web
    image: ghcr.io/acme/web:1.0.0
"""

# ingress-nginx's controller says these on purpose
INGRESS_NGINX = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ingress-nginx-controller
  namespace: ingress-nginx
  labels: {app.kubernetes.io/name: ingress-nginx}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: ingress-nginx}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: ingress-nginx}
    spec:
      securityContext:
        runAsNonRoot: false
      containers:
      - name: controller
        image: registry.k8s.io/ingress-nginx/controller:v1.10.0
        securityContext:
          allowPrivilegeEscalation: true
          readOnlyRootFilesystem: false
          capabilities:
            add: [NET_BIND_SERVICE, SYS_CHROOT]
            drop: [ALL]
"""


def found(path: Path) -> set[str]:
    return {f.code for f in scan([str(path)]).findings}


# ---------------------------------------------------------------- metadata

def test_every_fixer_declares_its_safety_and_why() -> None:
    assert {c for c, fx in fixes().items() if fx.safety == SAFE} == EXPECTED_SAFE
    assert {fx.safety for fx in fixes().values()} == {SAFE, UNSAFE}
    rules = load_rules()
    for code, fx in fixes().items():
        assert fx.why and "\n" not in fx.why, code
        assert (rules[code].fix_safety, rules[code].fix_safety_reason) == (fx.safety, fx.why)
    assert all(r.fix_safety is None for c, r in rules.items() if c not in fixes())


def test_rules_command_and_docs_show_fix_safety(tmp_path: Path) -> None:
    listing = invoke("rules", expect=0)
    lines = {ln.split()[0]: ln for ln in listing.stdout.splitlines()}
    assert "  unsafe  " in lines["KP0821"] and "  safe  " in lines["KP0501"]
    assert "  -  " in lines["KP0801"]
    one = invoke("rules", "KP0821")
    assert f"Fix: unsafe ({fixes()['KP0821'].why})" in one.stdout
    rows = json.loads(kp("rules", "--format", "json", cwd=tmp_path).stdout)
    by_code = {r["code"]: r for r in rows}
    assert by_code["KP0821"]["fixSafety"] == "unsafe"
    assert by_code["KP0402"]["fixSafety"] == "safe"
    assert by_code["KP0801"]["fixSafety"] is None
    docs = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert "Fixable with `kubeproof fix --unsafe-fixes`: the fix is *unsafe*" in docs
    assert "| writable-root-filesystem |" not in docs  # the index row has the fix column
    assert "| restricted | unsafe |" not in docs


# ---------------------------------------------------------------- the CLI

def test_fix_applies_safe_fixes_and_counts_the_unsafe_ones_left(tmp_path: Path) -> None:
    target = tmp_path / "pod.yaml"
    target.write_text(POD)
    before = found(target)
    unsafe_found = {c for c in before if c in fixes() and not fixes()[c].safe}
    assert "KP0501" in before and {"KP0813", "KP0821", "KP1403"} <= unsafe_found
    run = kp("fix", "--no-config", str(target), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"{target}: fixed KP0501; unsafe, not applied: " in run.stdout
    assert (f"{len(unsafe_found)} unsafe fixes not applied (they can stop a workload from "
            "running); review and apply them with --unsafe-fixes") in run.stdout
    text = target.read_text()
    assert "app.kubernetes.io/name: web" in text and "securityContext" not in text
    assert found(target) == before - {"KP0501"}

    again = kp("fix", "--no-config", "--unsafe-fixes", str(target), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "unsafe fix" not in again.stdout
    assert not unsafe_found & found(target)


def test_diff_says_the_count_on_stderr_and_select_does_not_enable_unsafe(tmp_path: Path
                                                                         ) -> None:
    target = tmp_path / "pod.yaml"
    target.write_text(POD)
    run = kp("fix", "--no-config", "--diff", "--select", "KP0821", str(target),
                    cwd=tmp_path)
    assert run.returncode == 0, run.stderr  # nothing would change
    assert run.stdout == ""
    assert "1 unsafe fix not applied" in run.stderr and "--unsafe-fixes" in run.stderr
    assert target.read_text() == POD


def test_explicit_values_are_kept_without_unsafe_fixes(tmp_path: Path) -> None:
    target = tmp_path / "ingress.yaml"
    target.write_text(INGRESS_NGINX)
    run = kp("fix", "--no-config", str(target), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert target.read_text() == INGRESS_NGINX
    left = run.stdout.splitlines()[0]
    assert left.startswith(f"{target}: unsafe, not applied: ") and "KP0813" in left
    # --unsafe-fixes is the owner's word that the decision may be overridden
    run = kp("fix", "--no-config", "--unsafe-fixes", str(target), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    text = target.read_text()
    assert "readOnlyRootFilesystem: true" in text and "allowPrivilegeEscalation: false" in text
    assert "runAsNonRoot: true" in text and "SYS_CHROOT" not in text


def controller() -> dict[str, Any]:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(INGRESS_NGINX)  # type: ignore[no-any-return]


def test_unsafe_fixers_named_without_override_keep_every_stated_value() -> None:
    """The webhook's case: unsafe fixers may run, explicit values stay."""
    obj = controller()
    keep = FixSettings(unsafe_fixes=True)
    assert fix_object(obj, keep, {"KP0813", "KP0814", "KP0817", "KP0821"}) == []
    assert obj == controller()


def test_a_safe_fixer_keeps_a_stated_value_too() -> None:
    """KP1002 is safe, but a `readOnly: false` written on a secret mount is a decision."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "volumes": [{"name": "creds", "secret": {"secretName": "creds"}}],
        "containers": [{"name": "c", "image": "x:1", "volumeMounts": [
            {"name": "creds", "mountPath": "/a", "readOnly": False},
            {"name": "creds", "mountPath": "/b"}]}]}}
    assert fix_object(pod, FixSettings(), {"KP1002"}) == ["KP1002"]
    mounts = pod["spec"]["containers"][0]["volumeMounts"]
    assert [m.get("readOnly") for m in mounts] == [False, True]
    assert fix_object(pod, unsafe(), {"KP1002"}) == ["KP1002"]
    assert [m.get("readOnly") for m in mounts] == [True, True]


def test_unsafe_fixers_do_not_run_without_unsafe_fixes() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    applied = fix_object(copy.deepcopy(pod), FixSettings(), set(fixes()))
    assert applied and all(fixes()[c].safe for c in applied)
    assert "KP0821" in fix_object(copy.deepcopy(pod), unsafe(), set(fixes()))


# ---------------------------------------------------------------- hostile input

HOSTILE = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
    | st.text(max_size=8) | st.sampled_from(["ALL", "NET_RAW", "SYS_ADMIN", "/tmp", "0"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["add", "drop", "name", "mountPath", "containerPort", "emptyDir"]),
        inner, max_size=3),
    max_leaves=8)
# the fixers whose bodies this slice owns (the type guards of KP1002, KP1403 and
# KP1404 are tested by their own owners' tests)
POD_SECURITY = {"KP0813", "KP0814", "KP0816", "KP0817", "KP0821"}
SC_KEYS = ["readOnlyRootFilesystem", "runAsNonRoot", "allowPrivilegeEscalation",
           "privileged", "capabilities", "runAsUser", "seccompProfile"]


@settings(max_examples=60, deadline=None)
@given(sc=st.dictionaries(st.sampled_from(SC_KEYS), HOSTILE, max_size=5),
       pod_sc=st.dictionaries(st.sampled_from(SC_KEYS), HOSTILE, max_size=3),
       ports=HOSTILE, mounts=HOSTILE, volumes=HOSTILE,
       user=st.none() | st.text(max_size=12) | st.sampled_from(["0", "1000:1000", "9" * 5000]),
       exposed=st.lists(st.text(max_size=10) | st.sampled_from(["80/tcp", "443"]), max_size=3))
def test_hostile_values_never_raise_and_stated_values_stay(
        sc: dict[str, Any], pod_sc: dict[str, Any], ports: Any, mounts: Any, volumes: Any,
        user: str | None, exposed: list[str]) -> None:
    container = {"name": "c", "image": "reg.example/app:1", "securityContext": sc,
                 "ports": ports, "volumeMounts": mounts}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"securityContext": pod_sc, "containers": [container], "volumes": volumes}}
    info = ImageInfo("reg.example/app:1", "reg.example", "app", "1", None, "ok", user=user,
                     exposed_ports=exposed)
    stated = {k: v for k, v in sc.items() if k in SC_KEYS[:3] and v is not None}
    pod_stated = pod_sc.get("runAsNonRoot")
    obj = copy.deepcopy(pod)
    fix_object(obj, FixSettings(unsafe_fixes=True, image_info=lambda ref: info), POD_SECURITY)
    after = obj["spec"]["containers"][0]["securityContext"]
    assert {k: after.get(k) for k in stated} == stated
    if pod_stated is not None:
        assert obj["spec"]["securityContext"]["runAsNonRoot"] == pod_stated
    # and with --unsafe-fixes everything goes too, without an exception
    fix_object(copy.deepcopy(pod), unsafe(image_info=lambda ref: info), POD_SECURITY)


# ---------------------------------------------------------------- image facts

def image(user: str | None, exposed: list[str] | None = None, outcome: str = "ok"
          ) -> ImageInfo:
    return ImageInfo("r/x:1", "r", "x", "1", None, outcome, user=user,
                     exposed_ports=exposed or [])


def three_containers() -> dict[str, Any]:
    """A pod whose images run as 1000 (port 80 exposed), root and a named user."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "s"},
            "spec": {"containers": [
                {"name": "uid", "image": "r/uid:1"},
                {"name": "root", "image": "r/root:1", "ports": [{"containerPort": 8443}]},
                {"name": "named", "image": "r/named:1"}]}}


FACTS = {"r/uid:1": image("1000:1000", ["80/tcp"]), "r/root:1": image(""),
         "r/named:1": image("nginx")}


def with_facts(facts: dict[str, ImageInfo]) -> FixSettings:
    return unsafe(image_info=facts.get)


def test_run_as_non_root_only_where_the_image_user_is_a_numeric_non_root_uid() -> None:
    pod = three_containers()
    assert fix_object(pod, with_facts(FACTS), {"KP0814"}) == ["KP0814"]
    assert "securityContext" not in pod["spec"]  # not at pod level: root would fail
    cs = pod["spec"]["containers"]
    assert cs[0]["securityContext"] == {"runAsNonRoot": True}
    assert "securityContext" not in cs[1] and "securityContext" not in cs[2]
    # a non-zero runAsUser makes any image fit; every container fits: pod level
    pod = three_containers()
    pod["spec"]["securityContext"] = {"runAsUser": 10001}
    assert fix_object(pod, with_facts(FACTS), {"KP0814"}) == ["KP0814"]
    assert pod["spec"]["securityContext"] == {"runAsUser": 10001, "runAsNonRoot": True}
    # runAsUser: 0 on a container is root whatever the image says
    pod = three_containers()
    pod["spec"]["containers"][0]["securityContext"] = {"runAsUser": 0}
    assert fix_object(pod, with_facts(FACTS), {"KP0814"}) == []


def test_without_image_facts_or_for_an_unread_image_the_manifest_alone_decides() -> None:
    pod = three_containers()
    assert fix_object(pod, unsafe(), {"KP0814", "KP0817", "KP0821"}) == [
        "KP0814", "KP0817", "KP0821"]
    assert pod["spec"]["securityContext"] == {"runAsNonRoot": True}
    assert "volumes" not in pod["spec"]
    assert all("add" not in c["securityContext"]["capabilities"]
               for c in pod["spec"]["containers"])
    # a containerPort below 1024 is in the manifest: NET_BIND_SERVICE stays without facts
    web = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"}, "spec": {"containers": [
        {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]}]}}
    assert fix_object(web, unsafe(), {"KP0817"}) == ["KP0817"]
    assert web["spec"]["containers"][0]["securityContext"]["capabilities"] == {
        "drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    failed = {ref: image("", ["80/tcp"], outcome="not-found") for ref in FACTS}
    pod2 = three_containers()
    fix_object(pod2, with_facts(failed), {"KP0814", "KP0817", "KP0821"})
    assert pod2 == pod


def test_net_bind_service_is_kept_for_ports_below_1024() -> None:
    pod = three_containers()
    pod["spec"]["containers"][2]["ports"] = [{"containerPort": 443}]
    assert fix_object(pod, with_facts(FACTS), {"KP0817"}) == ["KP0817"]
    caps = [c["securityContext"]["capabilities"] for c in pod["spec"]["containers"]]
    assert caps[0] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}  # the image exposes 80
    assert caps[1] == {"drop": ["ALL"]}  # 8443 needs nothing
    assert caps[2] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}  # containerPort 443
    assert fix_object(pod, with_facts(FACTS), {"KP0817"}) == []  # a second run: nothing


def test_a_read_only_root_gets_an_empty_dir_at_tmp_unless_tmp_is_mounted() -> None:
    pod = three_containers()
    cs = pod["spec"]["containers"]
    cs[1]["volumeMounts"] = [{"name": "scratch", "mountPath": "/tmp"}]
    pod["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}},
                              {"name": "tmp", "configMap": {"name": "tmp"}}]
    assert fix_object(pod, with_facts(FACTS), {"KP0821"}) == ["KP0821"]
    assert pod["spec"]["volumes"][2] == {"name": "tmp-2", "emptyDir": {}}  # "tmp" is taken
    assert len(pod["spec"]["volumes"]) == 3  # one volume, shared
    assert cs[0]["volumeMounts"] == [{"name": "tmp-2", "mountPath": "/tmp"}]
    assert cs[1]["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp"}]
    assert cs[2]["volumeMounts"] == [{"name": "tmp-2", "mountPath": "/tmp"}]
    assert all(c["securityContext"] == {"readOnlyRootFilesystem": True} for c in cs)
    assert fix_object(pod, with_facts(FACTS), {"KP0821"}) == []


def test_check_images_end_to_end_against_a_real_registry(tmp_path: Path) -> None:
    """``fix --unsafe-fixes --check-images`` reads the images from a real registry
    (docker-registry, as the image tests run it) and fits the unsafe fixes to them."""
    from tests.support.registry_server import Pusher, build_image, start_registry, stop_registry

    reg = start_registry(tmp_path / "registry")
    try:
        pusher = Pusher(reg)
        try:
            pusher.image("team/web", "1.0", build_image("web", user="101",
                                                        exposed_ports=("80/tcp",)))
            pusher.image("team/tool", "1.0", build_image("tool", user="root"))
        finally:
            pusher.close()
        target = tmp_path / "pod.yaml"
        target.write_text(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n"
            "  labels: {app.kubernetes.io/name: web}\nspec:\n  containers:\n"
            f"  - name: web\n    image: {reg.host}/team/web:1.0\n"
            f"  - name: tool\n    image: {reg.host}/team/tool:1.0\n")
        run = kp("fix", "--no-config", "--unsafe-fixes", "--check-images",
                        "--insecure-registry", reg.host, "--select", "KP0814,KP0817,KP0821",
                        str(target), cwd=tmp_path)
    finally:
        stop_registry(reg)
    assert run.returncode == 0, run.stderr
    assert "warning" not in run.stderr
    from ruamel.yaml import YAML

    spec = YAML(typ="safe").load(target.read_text())["spec"]
    web, tool = spec["containers"]
    assert "securityContext" not in spec  # the tool image runs as root
    assert web["securityContext"]["runAsNonRoot"] is True
    assert "runAsNonRoot" not in tool["securityContext"]
    assert web["securityContext"]["capabilities"] == {"drop": ["ALL"],
                                                      "add": ["NET_BIND_SERVICE"]}
    assert tool["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    assert web["volumeMounts"] == tool["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert "KP0814" in run.stdout  # still found on the root container: not fixed, said so


def test_check_images_without_unsafe_fixes_says_it_does_nothing(tmp_path: Path) -> None:
    target = tmp_path / "pod.yaml"
    target.write_text(POD)
    result = invoke("fix", "--no-config", "--check-images", "--insecure-registry",
                    "127.0.0.1:9", str(target), expect=0)
    assert result.stderr.splitlines()[0] == (
        "kubeproof: warning: --check-images does nothing without --unsafe-fixes "
        "(only unsafe fixes read the image config)")
    assert "app.kubernetes.io/name: web" in target.read_text()  # the safe fixes still apply
