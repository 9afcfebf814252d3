"""``kubeproof fix`` as a user meets it: real subprocesses, exit codes, files on
disk, and everything outside the fixed spots kept byte for byte."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from kubeproof.fix.files import detect_indent, fix_text, replay
from kubeproof.sources.yamlparse import Document, parse_yaml
from tests.fix.test_fixers import unsafe
from tests.support.cli import invoke
from tests.support.cli import kp as run_kubeproof

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  containers:
  - name: web
    image: ghcr.io/acme/web:1.0.0
"""
FIXED_POD_TAIL = """\
    securityContext:
      readOnlyRootFilesystem: true
"""

MULTI = """\
# Shop manifests -- keep this header
---
apiVersion: v1
kind: ConfigMap   # untouched document
metadata:
  name: cfg
  namespace: shop
data:
  greeting: "hello"      # odd spacing stays
  list: [a,   b]
---
# the worker
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: shop
spec:
  replicas:    2
  selector: {matchLabels: {app: worker}}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
        - name: worker   # main container
          image: 'ghcr.io/acme/worker:1.0.0'
          args: ["--fast",   "--quiet"]
          # mounts below
          volumeMounts:
            - name: tmp
              mountPath: /tmp
        # sidecar next
        - name: side
          image: ghcr.io/acme/side:1.0.0
      volumes:
        - name: tmp
          emptyDir: {}
...
---
# a trailing document with only a comment
"""


FIX = ("fix", "--no-config", "--unsafe-fixes")
# ``kubeproof fix`` with every fixer: in this process (click's runner, to keep the
# tests fast; a crash raises), or as a real process
kp = partial(invoke, *FIX, reraise=True)
kp_process = partial(run_kubeproof, *FIX)


def test_diff_prints_and_changes_nothing_exit_1_then_0(tmp_path: Path) -> None:
    target = tmp_path / "pod.yaml"
    target.write_text(POD)
    proc = kp_process("--diff", "--select", "KP0821", str(target))
    assert proc.returncode == 1, proc.stderr
    assert target.read_text() == POD
    assert proc.stdout.startswith(f"--- a/{target}\n+++ b/{target}\n@@ ")
    assert [ln for ln in proc.stdout.splitlines() if ln.startswith("+ ")] == [
        "+    securityContext:", "+      readOnlyRootFilesystem: true"]
    assert proc.stderr == ""

    proc = kp("--select", "KP0821", str(target))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{target}: fixed KP0821\nfixed 1 of 1 file\n"
    assert target.read_text() == POD + FIXED_POD_TAIL

    proc = kp("--diff", "--select", "KP0821", str(target))
    assert (proc.returncode, proc.stdout) == (0, "")


def test_dry_run_reports_and_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "pod.yaml"
    target.write_text(POD)
    proc = kp("--dry-run", "--select", "pss-privilege-escalation,KP0821", str(target))
    assert proc.returncode == 1
    assert proc.stdout == f"{target}: would fix KP0813, KP0821\nwould fix 1 of 1 file\n"
    assert target.read_text() == POD


def test_multi_document_file_is_kept_byte_for_byte_outside_the_fixes(tmp_path: Path) -> None:
    target = tmp_path / "shop.yaml"
    target.write_text(MULTI)
    proc = kp("--select", "KP0813", str(target))
    assert proc.returncode == 0, proc.stderr
    fixed = target.read_text()
    added = ["          securityContext:\n", "            allowPrivilegeEscalation: false\n"]
    lines = fixed.splitlines(keepends=True)
    # the new keys follow args, and the comment above volumeMounts stays there
    first = lines.index("""          args: ["--fast",   "--quiet"]\n""") + 1
    assert lines[first:first + 3] == [*added, "          # mounts below\n"]
    second = lines.index("          image: ghcr.io/acme/side:1.0.0\n") + 1
    assert lines[second:second + 2] == added
    del lines[second:second + 2]
    del lines[first:first + 2]
    assert "".join(lines) == MULTI


def test_crlf_and_missing_final_newline_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "pod.yaml"
    target.write_bytes(POD.rstrip("\n").replace("\n", "\r\n").encode())
    assert kp("--select", "KP0821", str(target)).returncode == 0
    expected = (POD + FIXED_POD_TAIL).rstrip("\n").replace("\n", "\r\n")
    assert target.read_bytes() == expected.encode()


def test_malformed_file_in_a_folder_exit_2_and_the_rest_is_fixed(tmp_path: Path) -> None:
    (tmp_path / "a-broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: [\n")
    (tmp_path / "b-pod.yaml").write_text(POD)
    (tmp_path / "c-clean.yaml").write_text(POD + FIXED_POD_TAIL)
    proc = kp_process("--select", "KP0821", str(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = proc.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path / 'a-broken.yaml'}:4: ")
    assert (tmp_path / "b-pod.yaml").read_text() == POD + FIXED_POD_TAIL
    assert proc.stdout.splitlines()[-1] == "fixed 1 of 3 files"


def test_json_helm_and_kustomize_are_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "pod.json").write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": '
                                       '{"name": "j"}, "spec": {"containers": []}}')
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    proc = kp(str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert f"{chart}: note: skipped, a Helm chart is rendered output" in proc.stderr
    assert f"{tmp_path / 'pod.json'}: note: skipped, fix rewrites YAML files only" in proc.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    proc = kp("--select", "KP0803", str(tmp_path))
    assert proc.returncode == 2 and "no fixer for KP0803" in proc.stderr
    proc = kp("--select", "KP9999x", str(tmp_path))
    assert proc.returncode == 2 and "unknown rule 'KP9999x'" in proc.stderr
    proc = kp(str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2 and "no such file or directory" in proc.stderr
    proc = kp("-")
    assert proc.returncode == 2 and "cannot read stdin" in proc.stderr
    proc = kp("-n", "Not_A_Namespace", str(tmp_path))
    assert proc.returncode == 2 and "not a valid namespace name" in proc.stderr


def test_exemptions_are_honoured(tmp_path: Path) -> None:
    exempt = POD.replace("  namespace: shop\n",
                         "  namespace: shop\n  annotations:\n"
                         "    kubeproof.dev/ignore: KP0821\n")
    target = tmp_path / "pod.yaml"
    target.write_text(exempt)
    assert kp("--select", "KP0821", str(target)).returncode == 0
    assert target.read_text() == exempt


def test_namespace_fixer_needs_the_flag(tmp_path: Path) -> None:
    target = tmp_path / "cm.yaml"
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    target.write_text(text)
    assert kp("--select", "KP0402", str(target)).returncode == 0
    assert target.read_text() == text
    assert kp("--select", "KP0402", "-n", "shop", str(target)).returncode == 0
    assert target.read_text() == text + "  namespace: shop\n"


def test_indentation_is_detected() -> None:
    assert detect_indent(POD) == (2, 2, 0)
    assert detect_indent(MULTI) == (2, 4, 2)
    assert detect_indent("a:\n    b:\n        - x: 1\n          y: 2\n") == (4, 6, 4)
    assert detect_indent("a: 1\n") == (2, 4, 2)


def test_four_space_mappings_get_four_space_keys() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n    name: p\nspec:\n    containers:\n"
            "    -   name: c\n        image: x:1\n")
    fixed = fix_text(text, unsafe(), lambda first, end: {"KP0821": {None}}).text
    assert fixed == text + "        securityContext:\n            readOnlyRootFilesystem: true\n"


def test_replay_keeps_what_ruamel_rewrote_and_falls_back_when_it_must() -> None:
    original = "a:   1\nb: 2\n"
    before = "a: 1\nb: 2\n"
    assert replay(original, before, "a: 1\nb: 2\nc: 3\n") == "a:   1\nb: 2\nc: 3\n"
    # a line ruamel re-spaced is replaced by the edit's rendering
    assert replay(original, before, "a: 5\nb: 2\n") == "a: 5\nb: 2\n"
    # an edit inside lines ruamel merged or split cannot be placed
    assert replay("a: [1,\n  2]\nb: 2\n", "a: [1, 2]\nb: 2\n", "a: [1]\nb: 2\n") is None


def test_an_odd_line_that_is_edited_takes_ruamels_spacing_the_rest_stays() -> None:
    text = POD.replace("  - name: web\n", "  - name:    web\n    securityContext:\n"
                       "      readOnlyRootFilesystem:    false   # was writable\n")
    fixed = fix_text(text, unsafe(), lambda first, end: {"KP0821": {None}})
    assert not fixed.whole
    assert fixed.text == text.replace("readOnlyRootFilesystem:    false   #",
                                      "readOnlyRootFilesystem: true       #")  # comment column kept


def test_an_inline_ignore_keeps_its_container_untouched(tmp_path: Path) -> None:
    text = POD.replace("  - name: web\n", "  - name: web  # kubeproof:ignore KP0821 writes /\n")
    text = text.replace("web:1.0.0\n", "web:1.0.0\n  - name: side\n    image: side:1.0.0\n")
    target = tmp_path / "pod.yaml"
    target.write_text(text)
    proc = kp("--select", "KP0821", str(target))
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == text + FIXED_POD_TAIL


def test_list_items_are_fixed_each(tmp_path: Path) -> None:
    text = ("apiVersion: v1\nkind: List\nitems:\n"
            "- apiVersion: v1\n  kind: Pod\n  metadata: {name: a, namespace: shop}\n"
            "  spec:\n    containers:\n    - {name: a, image: 'x:1'}\n"
            "- apiVersion: v1\n  kind: Pod\n  metadata: {name: b, namespace: shop}\n"
            "  spec:\n    containers:\n    - name: b\n      image: x:1\n"
            "      securityContext: {readOnlyRootFilesystem: true}\n")
    target = tmp_path / "list.yaml"
    target.write_text(text)
    proc = kp("--select", "KP0821", str(target))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{target}: fixed KP0821\n")
    assert target.read_text() == text.replace(
        "    - {name: a, image: 'x:1'}\n",
        "    - {name: a, image: 'x:1', securityContext: {readOnlyRootFilesystem: true}}\n")


def test_mixed_sequence_indentation_still_gets_a_minimal_edit() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: shop\nspec:\n"
            "  containers:\n  - name: c\n    image: x:1\n    volumeMounts:\n"
            "      - name: v\n        mountPath: /v\n  volumes:\n    - name: v\n"
            "      emptyDir: {}")
    fixed = fix_text(text, unsafe(), lambda first, end: {"KP0816": {None}})
    assert not fixed.whole
    assert fixed.text == text + ("\n  securityContext:\n    seccompProfile:\n"
                                 "      type: RuntimeDefault")


def test_an_edit_inside_a_reindented_block_is_never_misplaced() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: shop\nspec:\n"
            "  containers:\n  - name: c\n    image: x:1\n    volumeMounts:\n"
            "      - name: s\n        mountPath: /s\n  - name: d\n    image: x:1\n"
            "  volumes:\n  - name: s\n    secret: {secretName: s}\n")
    fixed = fix_text(text, unsafe(), lambda first, end: {"KP1002": {None}})
    [doc] = list(parse_yaml(fixed.text))
    assert isinstance(doc, Document)
    mounts = doc.data["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "s", "mountPath": "/s", "readOnly": True}]
    # placed at the block's own indentation, not ruamel's
    assert not fixed.whole
    assert fixed.text == text.replace("/s\n", "/s\n        readOnly: true\n", 1)


def test_custom_kinds_with_a_configured_pod_template_are_fixed(tmp_path: Path) -> None:
    (tmp_path / "kp.yaml").write_text("workloads:\n  podTemplatePaths: {Rollout: spec.template}\n")
    text = ("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r, namespace: s}\n"
            "spec:\n  template:\n    spec:\n      containers:\n      - name: r\n"
            "        image: x:1\n")
    target = tmp_path / "rollout.yaml"
    target.write_text(text)
    invoke("fix", "--unsafe-fixes", "--config", str(tmp_path / "kp.yaml"),
           "--select", "KP0821", str(target), expect=0)
    assert target.read_text() == text + ("        securityContext:\n"
                                         "          readOnlyRootFilesystem: true\n")


def test_config_scan_ignore_and_disabled_rules_are_not_fixed(tmp_path: Path) -> None:
    (tmp_path / "kp.yaml").write_text("rules:\n  disable: [KP0813]\n"
                                      "scan:\n  ignore: [writable-root-filesystem]\n")
    target = tmp_path / "pod.yaml"
    target.write_text(POD)
    result = invoke("fix", "--unsafe-fixes", "--config", str(tmp_path / "kp.yaml"),
                    "--select", "KP0813,KP0821,KP0816", str(target), expect=0)
    assert result.stdout.startswith(f"{target}: fixed KP0816\n")


def test_blank_lines_between_blocks_stay_between_them() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n\nspec:\n  containers:\n"
            "  - name: a\n    image: x:1\n\n  - name: b\n    image: y:1\n\n# end\n")
    fixed = fix_text(text, unsafe(namespace="s"),
                     lambda first, end: {"KP0821": {None}, "KP0402": {None}})
    sc = "    securityContext:\n      readOnlyRootFilesystem: true\n"
    assert fixed.text == (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: s\n\nspec:\n"
        f"  containers:\n  - name: a\n    image: x:1\n{sc}\n  - name: b\n    image: y:1\n"
        f"{sc}\n# end\n")


def test_a_symlinked_manifest_is_skipped_with_a_note_never_written_through(
        tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    real = outside / "real.yaml"
    real.write_text(POD)
    tree = tmp_path / "tree"
    tree.mkdir()
    link = tree / "link.yaml"
    link.symlink_to(real)
    run = kp("--select", "KP0821", str(tree))
    assert run.returncode == 0
    assert link.is_symlink()
    assert real.read_text() == POD
    assert f"{link}: note: skipped, it is a symbolic link" in run.stderr


def test_what_cannot_be_fixed_is_said(tmp_path: Path) -> None:
    target = tmp_path / "priv.yaml"
    text = POD.replace("    image: ghcr.io/acme/web:1.0.0\n",
                       "    image: ghcr.io/acme/web:1.0.0\n    securityContext:\n"
                       "      privileged: true\n")
    target.write_text(text)
    proc = kp("--select", "KP0813", str(target))
    assert proc.returncode == 0
    assert proc.stdout == f"{target}: not fixed: KP0813\nfixed 0 of 1 file\n"
    assert target.read_text() == text
