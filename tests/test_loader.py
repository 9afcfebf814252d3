"""The loader: every input shape, every location, every refusal (one error, no loss)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kubeproof.api import scan
from kubeproof.sources.files import LoadOptions

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return str(p)


def located(result: object) -> list[tuple[str, int, int]]:
    return [(f.name, f.line, f.column) for f in result.findings  # type: ignore[attr-defined]
            if f.rule.code == "KP0401"]


def test_multi_document_yaml_locates_each_document(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", CM.format(name="a") + "---\n" + CM.format(name="b"))
    result = scan([path], select=["KP0401"])
    assert located(result) == [("a", 5, 3), ("b", 11, 3)]
    assert result.objects == 2


def test_broken_document_loses_nothing_else(tmp_path: Path) -> None:
    text = (CM.format(name="a") + "---\napiVersion: v1\nkind: [unclosed\n---\n"
            + CM.format(name="c"))
    path = write(tmp_path, "broken.yaml", text)
    result = scan([path], select=["KP0401"])
    assert located(result) == [("a", 5, 3), ("c", 14, 3)]
    assert len(result.errors) == 1
    err = result.errors[0]
    assert err.file == path and err.line in (8, 9) and "invalid YAML" in err.message


def test_json_file_and_list_items_are_located(tmp_path: Path) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "a", "namespace": "default"}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "b", "namespace": "default"}}]}
    path = write(tmp_path, "list.json", json.dumps(doc, indent=2))
    result = scan([path], select=["KP0401"])
    text = Path(path).read_text().splitlines()
    lines = [i + 1 for i, ln in enumerate(text) if '"namespace": "default"' in ln]
    assert [(n, ln) for n, ln, _ in located(result)] == [("a", lines[0]), ("b", lines[1])]


def test_yaml_list_kind_and_flow_style(tmp_path: Path) -> None:
    text = ("apiVersion: v1\nkind: ConfigMapList\nitems:\n"
            "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: default}}\n"
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n"
            "    namespace: default\n")
    path = write(tmp_path, "list.yaml", text)
    result = scan([path], select=["KP0401"])
    flow = text.splitlines()[3]
    assert located(result) == [("a", 4, flow.index("namespace") + 1), ("b", 9, 5)]


def test_tabs_in_json_are_fine(tmp_path: Path) -> None:
    text = '{\n\t"apiVersion": "v1",\n\t"kind": "ConfigMap",\n\t"metadata": {\n' \
           '\t\t"name": "t",\n\t\t"namespace": "default"\n\t}\n}\n'
    path = write(tmp_path, "tabs.json", text)
    assert located(scan([path], select=["KP0401"])) == [("t", 6, 3)]


def test_non_kubernetes_yaml_is_skipped_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "values.yaml", "replicaCount: 2\nimage:\n  tag: v1\n---\n- a\n")
    result = scan([path])
    assert result.objects == 0 and result.skipped_documents == 2
    assert not result.errors and not result.findings


def test_equals_scalar_is_a_string(tmp_path: Path) -> None:
    # PyYAML maps a bare '=' to the !!value tag (yaml/pyyaml#89); kubectl reads a string.
    path = write(tmp_path, "crd.yaml", CM.format(name="eq") + "data:\n  op: =\n")
    result = scan([path], select=["KP0401"])
    assert not result.errors and located(result) == [("eq", 5, 3)]


def test_merge_keys_and_anchors(tmp_path: Path) -> None:
    text = ("base: &b {namespace: default}\n---\napiVersion: v1\nkind: ConfigMap\n"
            "metadata: &m\n  name: x\n  <<: {namespace: default}\n")
    path = write(tmp_path, "anchors.yaml", text)
    result = scan([path], select=["KP0401"])
    assert not result.errors
    assert [(n, ln) for n, ln, _ in located(result)] == [("x", 5)]


def test_yaml_bomb_is_refused(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        levels.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 10)}]")
    bomb = write(tmp_path, "bomb.yaml", "\n".join(levels) + "\n")
    good = write(tmp_path, "good.yaml", CM.format(name="ok"))
    result = scan([bomb, good], select=["KP0401"])
    assert [e.file for e in result.errors] == [bomb]
    assert "YAML bomb" in result.errors[0].message
    assert located(result) == [("ok", 5, 3)]


def test_object_constructing_tags_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "evil.yaml",
                 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                 "  name: !!python/object/apply:os.system ['true']\n")
    result = scan([path])
    assert len(result.errors) == 1 and result.errors[0].line == 4
    assert "tag" in result.errors[0].message and not result.objects


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.yaml", b"apiVersion: v1\nkind: ConfigMap\n# caf\xe9\n")
    result = scan([path])
    assert [(e.line, "UTF-8" in e.message) for e in result.errors] == [(3, True)]


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "u16.yaml", CM.format(name="w").encode("utf-16"))
    result = scan([path], select=["KP0401"])
    assert not result.errors and located(result) == [("w", 5, 3)]


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "blob.yaml", b"\x7fELF\x00\x01\x02" * 100)
    result = scan([path])
    assert len(result.errors) == 1 and "binary" in result.errors[0].message


def test_oversize_file_is_refused_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as fh:
        fh.write(b"# padding\n" * (5 * 1024 * 1024 + 1))  # 50 MiB
    result = scan([str(path)], options=LoadOptions())
    assert len(result.errors) == 1
    assert "over the 16 MiB limit" in result.errors[0].message


def test_empty_file_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.yaml", "")
    result = scan([path])
    assert not result.errors and [w.message for w in result.warnings] == [
        "empty file, nothing to scan"]


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = scan([str(tmp_path / "nope.yaml"), str(tmp_path / "empty")])
    assert sorted(e.message for e in result.errors) == [
        "no manifests found (*.yaml, *.yml, *.json) in this directory",
        "no such file or directory"]


def test_folder_walk_skips_hidden_and_ignored(tmp_path: Path) -> None:
    write(tmp_path, "app/a.yaml", CM.format(name="a"))
    write(tmp_path, "app/b.yml", CM.format(name="b"))
    write(tmp_path, "app/c.json", json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": "c", "namespace": "default"}}))
    write(tmp_path, "app/notes.txt", "not a manifest")
    write(tmp_path, ".git/x.yaml", CM.format(name="hidden"))
    write(tmp_path, "vendor/v.yaml", CM.format(name="vendored"))
    write(tmp_path, "app/gen/g.yaml", CM.format(name="generated"))
    write(tmp_path, ".kubeproofignore", "vendor/\n# comment\ngen\n")
    result = scan([str(tmp_path)], select=["KP0401"])
    assert sorted(n for n, _, _ in located(result)) == ["a", "b", "c"]


def test_kustomize_folder_points_at_source_documents(tmp_path: Path) -> None:
    write(tmp_path, "base/kustomization.yaml", "resources:\n- cm.yaml\n")
    write(tmp_path, "base/cm.yaml", CM.format(name="cfg"))
    write(tmp_path, "prod/kustomization.yaml", "namePrefix: prod-\nresources:\n- ../base\n")
    result = scan([str(tmp_path / "prod")], select=["KP0401"])
    assert not result.errors
    [f] = result.findings
    assert (f.name, f.file.endswith("base/cm.yaml"), f.line, f.source) == (
        "prod-cfg", True, 5, "kustomize")
    assert f.rendered_from == str(tmp_path / "prod" / "kustomization.yaml")


def test_kustomize_failure_is_one_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "k/kustomization.yaml", "resources:\n- missing.yaml\n")
    good = write(tmp_path, "good.yaml", CM.format(name="ok"))
    result = scan([str(tmp_path / "k"), good], select=["KP0401"])
    [err] = result.errors
    assert err.file.endswith("k/kustomization.yaml") and "kubectl kustomize failed" in err.message
    assert located(result) == [("ok", 5, 3)]


def test_helm_missing_says_how_to_proceed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    write(tmp_path, "chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
    write(tmp_path, "chart/templates/cm.yaml", "{{ .Values.x }}\n")
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))
    # and no Helm SDK (the kubeproof[helm] extra): None in sys.modules blocks an import
    monkeypatch.setitem(sys.modules, "helm_python", None)
    result = scan([str(tmp_path / "chart")])
    [err] = result.errors
    assert "helm is not installed" in err.message and "helm template" in err.message
    assert "pip install 'kubeproof[helm]'" in err.message


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "rec.yaml", "a: &a [*a]\n")
    result = scan([path])
    assert [("YAML bomb" in e.message, e.line) for e in result.errors] == [(True, 1)]


DEEP = "refused: nesting deeper than 200 levels"


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, DEEP),          # crashes libyaml (SIGSEGV) unguarded
    ("- " * 30_000 + "a\n", DEEP),
    ("a:\n" + "".join(" " * i + "- b:\n" for i in range(0, 2000, 2)), DEEP),
    ("? " * 5_000 + "a\n", DEEP),
    # a flow sequence where a mapping key is due: libyaml stops before nesting it
    ("x: 1\n" + "[" * 300 + "]" * 300 + "\n",
     "invalid YAML: while scanning a simple key, could not find expected ':'"),
])
def test_absurd_nesting_is_refused_not_crashed(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "deep.yaml", text)
    good = write(tmp_path, "good.yaml", CM.format(name="ok"))
    result = scan([path, good], select=["KP0401"])
    assert [e.message for e in result.errors] == [message]
    assert located(result) == [("ok", 5, 3)]


def test_nesting_is_counted_from_the_parser_not_from_characters(tmp_path: Path) -> None:
    # brackets and "- " inside strings do not nest: the file is read, not refused
    value = "[- {" * 5_000
    path = write(tmp_path, "strings.yaml", CM.format(name="ok")
                 + f"data:\n  a: '{value}'\n  b: \"{value}\"\n  c: |\n    {value}\n")
    result = scan([path], select=["KP0401"])
    assert result.errors == []
    assert located(result) == [("ok", 5, 3)]


def test_a_deep_document_loses_only_itself(tmp_path: Path) -> None:
    deep = "kind: ConfigMap\ndata: {a: " + "[" * 300 + "]" * 300 + "}\n"
    path = write(tmp_path, "mixed.yaml", CM.format(name="a") + "---\n" + deep + "---\n"
                 + CM.format(name="b"))
    result = scan([path], select=["KP0401"])
    assert [e.message for e in result.errors] == [DEEP]
    assert [name for name, _line, _col in located(result)] == ["a", "b"]


def test_helm_chart_is_rendered_with_values_and_sets(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # helm cannot be installed on these machines: a stand-in on PATH records its
    # arguments and prints what `helm template` would, to test our side of it.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helm = bindir / "helm"
    helm.write_text("#!/bin/sh\n"
                    f"echo \"$@\" > {tmp_path}/args\n"
                    "printf -- '---\\n# Source: c/templates/cm.yaml\\n"
                    "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: rendered\\n"
                    "  namespace: default\\n'\n")
    helm.chmod(0o755)
    write(tmp_path, "chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
    write(tmp_path, "chart/templates/cm.yaml", "{{ .Values.x }}\n")
    values = write(tmp_path, "prod.yaml", "x: 1\n")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    opts = LoadOptions(helm_values=(values,), helm_set=("a=b",))
    result = scan([str(tmp_path / "chart")], select=["KP0401"], options=opts)
    assert not result.errors
    [f] = result.findings
    assert (f.name, f.source, f.file, f.line) == (
        "rendered", "helm", str(tmp_path / "chart" / "templates" / "cm.yaml"), 1)
    assert f.rendered_from == str(tmp_path / "chart" / "Chart.yaml")
    args = (tmp_path / "args").read_text().split()
    assert args == ["template", "kubeproof", str(tmp_path / "chart"), "--values", values,
                    "--set", "a=b"]
