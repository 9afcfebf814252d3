"""``kubeproof fix`` never loses or corrupts data: documents, selectors, the
file a link points to, the write itself, and a second run changes nothing."""

from __future__ import annotations

import resource
import signal
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.fix.files import verify
from kubeproof.sources.yamlparse import Document, parse_yaml
from tests.support.cli import invoke, kp

FIXTURES = Path(__file__).parent / "fixtures" / "multi"
SELECTOR_KEYS = {"selector", "matchLabels", "matchExpressions", "podSelector",
                 "namespaceSelector"}


FIX = ("fix", "--no-config", "--unsafe-fixes")
# ``kubeproof fix`` with every fixer on (unsafe ones too: the more edits, the more
# to get wrong): through click's runner (a crash raises), or a real process
fix_in_process = partial(invoke, *FIX, reraise=True)
fix_process = partial(kp, *FIX)


def documents(text: str) -> list[Any]:
    """The data of every document (a parse error fails the test)."""
    out = []
    for doc in parse_yaml(text):
        assert isinstance(doc, Document), f"does not parse: {doc}"
        out.append(doc.data)
    return out


def identity(data: Any) -> tuple[str, str, str]:
    meta = data.get("metadata") if isinstance(data, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    kind = data.get("kind") if isinstance(data, dict) else None
    return str(data.get("apiVersion") if isinstance(data, dict) else None), str(kind), str(name)


def selectors(data: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    """Every selector value in ``data`` by its path."""
    found: dict[tuple[Any, ...], Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if key in SELECTOR_KEYS:
                found[(*path, key)] = value
            else:
                found |= selectors(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found |= selectors(value, (*path, i))
    return found


def assert_kept(before: str, after: str) -> None:
    """Same documents in the same order (plus appended ServiceAccounts), the
    same selectors in each."""
    old, new = documents(before), documents(after)
    assert [identity(d) for d in new[:len(old)]] == [identity(d) for d in old]
    assert all(identity(d)[1] == "ServiceAccount" for d in new[len(old):])
    for o, n in zip(old, new, strict=False):
        for path, value in selectors(o).items():
            assert selectors(n)[path] == value


def test_helm_output_with_empty_maps_keeps_every_document_and_selector(
        tmp_path: Path) -> None:
    for fixture in sorted(FIXTURES.glob("*.yaml")):
        target = tmp_path / fixture.name
        original = fixture.read_text()
        target.write_text(original)
        run = fix_process(str(target))
        assert run.returncode == 0, run.stderr
        assert "fixed 1 of 1 file" in run.stdout
        fixed = target.read_text()
        assert_kept(original, fixed)
        assert "s3cr3t-do-not-print" not in run.stdout + run.stderr
        again = fix_process(str(target))
        assert again.returncode == 0 and "fixed 0 of 1 file" in again.stdout
        assert target.read_text() == fixed


def test_a_document_rewritten_in_full_keeps_its_separator(tmp_path: Path) -> None:
    first = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\ndata:\n  a: b\n")
    second = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: grafana\nspec:\n"
              "  selector:\n    matchLabels:\n      app: g\n  template:\n    metadata:\n"
              "      labels:\n        app: g\n    spec:\n      securityContext:\n        {}\n"
              "      containers:\n      - name: g\n        image: grafana/grafana:10.4.0\n"
              "        securityContext:\n          {}\n")
    target = tmp_path / "m.yaml"
    target.write_text(first + "---\n" + second)
    fix_in_process("--select", "KP0821", str(target), expect=0)
    fixed = target.read_text()
    assert "readOnlyRootFilesystem: true" in fixed
    assert fixed.startswith(first + "---\n")
    assert [identity(d)[2] for d in documents(fixed)] == ["first", "grafana"]


def test_an_alias_shared_with_a_selector_is_copied_not_edited(tmp_path: Path) -> None:
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "  labels: &l {app: web}\nspec:\n  selector: {matchLabels: *l}\n  template:\n"
            "    metadata:\n      labels: *l\n    spec:\n      containers:\n"
            "      - name: web\n        image: nginx:1.25.4\n")
    target = tmp_path / "web.yaml"
    target.write_text(text)
    fix_in_process("--select", "KP0501", str(target), expect=0)
    data = documents(target.read_text())[0]
    assert data["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert data["metadata"]["labels"]["app.kubernetes.io/name"] == "web"


def test_an_untouched_alias_stays_an_alias(tmp_path: Path) -> None:
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "  labels: &l {app: web}\nspec:\n  selector: {matchLabels: *l}\n  template:\n"
            "    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n"
            "      - name: web\n        image: nginx:1.25.4\n")
    target = tmp_path / "web.yaml"
    target.write_text(text)
    fix_in_process("--select", "KP0821", str(target), expect=0)
    fixed = target.read_text()
    assert "readOnlyRootFilesystem: true" in fixed
    assert "  selector: {matchLabels: *l}\n" in fixed


def test_a_planted_temporary_link_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    target = tree / "web.yaml"
    target.write_text((FIXTURES / "plain-two.yaml").read_text())
    target.chmod(0o640)
    (tree / ".web.yaml.kubeproof-fix").symlink_to(victim)
    run = fix_process(str(tree))
    assert run.returncode == 0, run.stderr
    assert victim.read_text() == "keep me\n"
    assert "fixed 1 of 1 file" in run.stdout
    assert (tree / ".web.yaml.kubeproof-fix").is_symlink()
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tree.iterdir()) == [".web.yaml.kubeproof-fix", "web.yaml"]


def _limit_file_size() -> None:
    """In the child: writes past 64 bytes fail with EFBIG instead of a signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))


def test_a_failed_write_is_an_error_not_a_fixed_file(tmp_path: Path) -> None:
    target = tmp_path / "web.yaml"
    original = (FIXTURES / "plain-two.yaml").read_text()
    target.write_text(original)
    run = fix_process(str(target), preexec_fn=_limit_file_size,
                      env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"{target}: cannot write: " in run.stderr
    assert "fixed 0 of 1 file" in run.stdout
    assert target.read_text() == original
    assert [p.name for p in tmp_path.iterdir()] == ["web.yaml"]


def test_one_run_reaches_the_fixed_point(tmp_path: Path) -> None:
    (tmp_path / "sa.yaml").write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: worker\n")
    (tmp_path / "dep.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\nspec:\n"
        "  selector:\n    matchLabels: {app: worker}\n  template:\n    metadata:\n"
        "      labels: {app: worker}\n    spec:\n      serviceAccountName: worker\n"
        "      containers:\n        - name: worker\n"
        "          image: ghcr.io/acme/worker:3.1.0\n")
    out = fix_in_process("-n", "shop", str(tmp_path), expect=0).stdout
    assert "fixed 2 of 2 files" in out
    assert "automountServiceAccountToken: false" in (tmp_path / "dep.yaml").read_text()
    snapshot = {p.name: p.read_text() for p in tmp_path.iterdir()}
    out = fix_in_process("-n", "shop", str(tmp_path), expect=0).stdout
    assert "fixed 0 of 2 files" in out
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == snapshot


def test_fix_errors_name_the_position_never_the_value_or_tag(tmp_path: Path) -> None:
    target = tmp_path / "tags.yaml"
    target.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
                      "    a: !!timestamp Zq9SECRETzz\nspec:\n  containers:\n  - name: c\n"
                      "    image: x:1\n")
    run = fix_process(str(target))
    assert run.returncode == 2
    assert "Zq9SECRETzz" not in run.stdout + run.stderr
    assert "timestamp" not in run.stderr
    assert f"{target}: cannot edit: line 6: " in run.stderr


def test_verification_refuses_lost_documents_and_changed_selectors() -> None:
    two = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n"
           "apiVersion: v1\nkind: Service\nmetadata:\n  name: b\nspec:\n"
           "  selector: {app: b}\n")
    merged = two.replace("---\n", "")
    assert verify(two, two, 0, None) is None
    assert verify(two, merged, 0, None) is not None
    assert verify(two, two.replace("{app: b}", "{app: b, x: y}"), 0, None) is not None
    assert verify(two, two.replace("name: b", "name: b\n  namespace: shop"), 0,
                  "shop") is None
    assert verify(two, two.replace("name: b", "name: b\n  namespace: x"), 0, "shop") \
        is not None
    extra = two + "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: b\n"
    assert verify(two, extra, 1, None) is None
    assert verify(two, extra, 0, None) is not None


def test_a_file_failing_verification_is_not_written_the_others_are(
        tmp_path: Path) -> None:
    """A selector that takes the labels through a merge key (``<<: *l``) would
    change with them: that file is refused, the next one is still fixed."""
    bad = tmp_path / "a-bad.yaml"
    bad_text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                "  labels: &l\n    app: web\nspec:\n  selector:\n    matchLabels:\n"
                "      <<: *l\n  template:\n    metadata:\n      labels: *l\n    spec:\n"
                "      containers:\n      - name: web\n        image: nginx:1.25.4\n")
    bad.write_text(bad_text)
    good = tmp_path / "b-good.yaml"
    good.write_text((FIXTURES / "plain-two.yaml").read_text())
    run = fix_process(str(tmp_path))
    assert run.returncode == 2
    assert bad.read_text() == bad_text
    assert run.stderr.count("\n") == 1
    assert run.stderr.startswith(f"{bad}: cannot edit: not written, the fixed text failed "
                                 "verification: document 1 (line 1): the selector at "
                                 "spec.selector changed")
    assert good.read_text() != (FIXTURES / "plain-two.yaml").read_text()
    assert "fixed 1 of 2 files" in run.stdout


# ---------------------------------------------------------------- property

_WORDS = st.sampled_from(["web", "api", "db", "cache", "x-1", "a.b"])
_LABELS = st.dictionaries(st.sampled_from(["app", "tier", "team", "env"]), _WORDS,
                          min_size=1, max_size=3)


def _flow(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}"


def _block(labels: dict[str, str], indent: int) -> str:
    return "".join(f"\n{' ' * indent}{k}: {v}" for k, v in labels.items())


@st.composite
def workload(draw: st.DrawFn, index: int) -> str:
    labels = draw(_LABELS)
    name = f"{draw(_WORDS)}-{index}"
    style = draw(st.sampled_from(["flow", "block", "alias"]))
    empty_sc = draw(st.booleans())
    kind = draw(st.sampled_from(["Deployment", "StatefulSet", "DaemonSet"]))
    if style == "alias":
        meta = f"  labels: &lab{index} {_flow(labels)}\n"
        selector, template = f"*lab{index}", f"*lab{index}"
    elif style == "flow":
        meta, selector, template = "", _flow(labels), _flow(labels)
    else:
        meta, selector, template = "", _block(labels, 6), _block(labels, 8)
    sc = "      securityContext:\n        {}\n" if empty_sc else ""
    comment = draw(st.sampled_from(["", "# a comment\n", "  # indented comment\n"]))
    return (f"{comment}apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n{meta}"
            f"spec:\n  selector:\n    matchLabels: {selector}\n  template:\n    metadata:\n"
            f"      labels: {template}\n    spec:\n{sc}      containers:\n"
            f"      - name: c\n        image: nginx:1.25.{index}\n")


@st.composite
def other(draw: st.DrawFn, index: int) -> str:
    kind = draw(st.sampled_from(["Service", "Secret", "ConfigMap", "empty", "comment"]))
    if kind == "empty":
        return ""
    if kind == "comment":
        return "# only a comment\n"
    head = f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {draw(_WORDS)}-{index}\n"
    if kind == "Service":
        return head + f"spec:\n  selector: {_flow(draw(_LABELS))}\n  ports:\n  - port: 80\n"
    if kind == "Secret":
        return head + "stringData:\n  token: Zq9-not-to-print\n"
    return head + "data:\n  key: value\n"


@st.composite
def manifest(draw: st.DrawFn) -> str:
    count = draw(st.integers(min_value=1, max_value=4))
    docs = [draw(workload(i) if draw(st.booleans()) else other(i)) for i in range(count)]
    lead = "---\n" if draw(st.booleans()) else ""
    return lead + "---\n".join(docs)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(manifest(), st.sampled_from([(), ("-n", "shop")]))
def test_property_fix_keeps_documents_and_selectors_and_is_idempotent(
        text: str, namespace: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "m.yaml"
        target.write_text(text)
        first = fix_in_process(*namespace, str(target), expect=0)
        fixed = target.read_text()
        assert_kept(text, fixed)
        assert "Zq9-not-to-print" not in first.stdout + first.stderr
        fix_in_process(*namespace, str(target), expect=0)
        assert target.read_text() == fixed


def test_verification_refuses_lost_keys_and_list_items() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
            "  - name: a\n    image: x:1\n    args: [one, two]\n  - name: b\n    image: y:1\n")
    assert verify(text, text.replace("    args: [one, two]\n", ""), 0, None) is not None
    assert verify(text, text.replace("[one, two]", "[one]"), 0, None) is not None
    assert verify(text, text.replace("  - name: b\n    image: y:1\n", ""), 0, None) \
        is not None
    problem = verify(text, text.replace("[one, two]", "SECRETX"), 0, None)
    assert problem is not None and "SECRETX" not in problem
    assert verify(text, text.replace("[one, two]", "[one, two, three]"), 0, None) is None
    assert verify(text, text.replace("image: x:1", "image: x:2"), 0, None) is None
