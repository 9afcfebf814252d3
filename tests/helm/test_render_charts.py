"""Charts rendered without the helm binary (Helm's Go SDK, kubeproof[helm]):
values files and --set as helm applies them, findings at the template named by
``# Source:``, failures reported as input errors, every run bounded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kubeproof.api import scan
from kubeproof.core.result import ScanResult
from kubeproof.sources import helmsdk, render
from kubeproof.sources.files import LoadOptions
from tests.support.cli import kp

CHARTS = Path(__file__).parent / "charts"
WEBAPP = CHARTS / "webapp"
DEPLOYMENT = str(WEBAPP / "templates" / "deployment.yaml")
DIGEST = "sha256:" + "2b" * 32


@pytest.fixture(autouse=True)
def _no_helm_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    # helm cannot be installed here; make sure a stray one is not used either
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert shutil.which("helm") is None


def _scan(chart: Path, *values: str, sets: tuple[str, ...] = ()) -> ScanResult:
    return scan([str(chart)], options=LoadOptions(helm_values=values, helm_set=sets,
                                                  namespace="web"))


def _found(result: ScanResult) -> set[tuple[str, str, int]]:
    assert result.errors == []
    # files under the working directory are shown relative to it
    return {(f.rule.code, str(Path(f.file).resolve()), f.line) for f in result.findings}


def test_findings_point_at_the_template_that_made_the_object() -> None:
    result = _scan(WEBAPP)
    found = _found(result)
    # at the template's `kind: Deployment` line
    assert {("KP0102", DEPLOYMENT, 2), ("KP1303", DEPLOYMENT, 2),
            ("KP1403", DEPLOYMENT, 2)} <= found
    assert {f.source for f in result.findings} == {"helm"}
    assert {str(Path(str(f.rendered_from)).resolve()) for f in result.findings} == {
        str(WEBAPP / "Chart.yaml")}
    # the release name and the chart's helpers made the names
    assert {f.name for f in result.findings} == {"kubeproof-webapp"}


def test_values_files_and_sets_are_applied_in_helms_order(tmp_path: Path) -> None:
    production = str(CHARTS / "webapp-production.yaml")
    codes = {code for code, _, _ in _found(_scan(WEBAPP, production))}
    assert not codes & {"KP0102", "KP1303", "KP1403", "KP1404"}
    # a later file wins over an earlier one, and --set over both
    later = tmp_path / "later.yaml"
    later.write_text("replicaCount: 1\n", encoding="utf-8")
    codes = {code for code, _, _ in _found(_scan(WEBAPP, production, str(later)))}
    assert "KP1303" in codes
    codes = {code for code, _, _ in _found(_scan(WEBAPP, production, str(later),
                                                 sets=("replicaCount=4",)))}
    assert "KP1303" not in codes
    codes = {code for code, _, _ in _found(_scan(WEBAPP, sets=(f"image.digest={DIGEST}",)))}
    assert "KP0102" not in codes and "KP1303" in codes


def test_subchart_findings_point_into_charts(tmp_path: Path) -> None:
    found = _found(_scan(CHARTS / "platform"))
    statefulset = str(CHARTS / "platform" / "charts" / "cache" / "templates"
                      / "statefulset.yaml")
    # the parent's values reach the subchart (cache.replicas: 1)
    assert ("KP1303", statefulset, 2) in found
    assert {file for _, file, _ in found} == {statefulset}


def _placed(chart: Path) -> dict[tuple[str, str], tuple[str, int]]:
    loaded = render.load_rendered("helm", str(chart), LoadOptions(namespace="web"))
    assert loaded.errors == []
    return {(o.resource.kind, o.resource.name): (str(Path(o.resource.origin.file).resolve()),
                                                 o.resource.origin.line)
            for o in loaded.objects}


def test_each_object_points_at_its_kind_line_in_a_multi_document_template() -> None:
    platform = CHARTS / "platform"
    configmaps = str(platform / "templates" / "configmap.yaml")
    assert _placed(platform) == {
        ("ConfigMap", "kubeproof-api"): (configmaps, 2),
        ("ConfigMap", "kubeproof-flags"): (configmaps, 9),
        ("StatefulSet", "kubeproof-cache"): (
            str(platform / "charts" / "cache" / "templates" / "statefulset.yaml"), 2)}


def test_kinds_the_template_does_not_spell_out_point_at_its_first_line(
        tmp_path: Path) -> None:
    chart = tmp_path / "generic"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: generic\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("kinds: [ConfigMap, Secret]\nextra: true\n")
    # kinds from values, and a `kind:` line that a condition may leave out
    (chart / "templates" / "objects.yaml").write_text(
        "{{- range .Values.kinds }}\n---\napiVersion: v1\nkind: {{ . }}\nmetadata:\n"
        "  name: {{ . | lower }}\n{{- end }}\n"
        "{{- if .Values.extra }}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n"
        "  name: a\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: b\n"
        "{{- end }}\n{{- if false }}\n---\napiVersion: v1\nkind: ServiceAccount\n"
        "metadata:\n  name: c\n{{- end }}\n")
    template = str(chart / "templates" / "objects.yaml")
    assert _placed(chart) == {("ConfigMap", "configmap"): (template, 1),
                              ("Secret", "secret"): (template, 1),
                              ("ServiceAccount", "a"): (template, 1),
                              ("ServiceAccount", "b"): (template, 1)}


def test_template_errors_are_input_errors_at_chart_yaml(tmp_path: Path) -> None:
    chart = tmp_path / "broken"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text('{{ fail "db.host \\x1b[31mis required" }}\n')
    result = scan([str(chart)])
    [error] = result.errors
    assert error.file == str(chart / "Chart.yaml")
    assert error.message.startswith("helm template (SDK) failed: ")
    assert "db.host" in error.message
    assert [f.rule.code for f in result.findings] == ["KP0003"]
    # printed, the terminal escape from the chart is escaped
    proc = kp("scan", str(chart))
    assert proc.returncode == 2 and "db.host" in proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("setting", ["a=", "=x", "a[=1", "{}", "a.b.c.d=" + "x" * 10_000])
def test_odd_sets_never_raise(setting: str) -> None:
    result = _scan(WEBAPP, sets=(setting,))
    assert result.objects == 2 or len(result.errors) == 1


def test_values_file_that_is_not_a_map_or_missing(tmp_path: Path) -> None:
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n", encoding="utf-8")
    result = _scan(WEBAPP, str(listed))
    assert result.objects == 2 or len(result.errors) == 1
    result = _scan(WEBAPP, str(tmp_path / "missing.yaml"))
    [error] = result.errors
    assert "missing.yaml" in error.message


def test_the_working_directory_cannot_stand_in_for_the_sdk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # scanning a repository from inside it: its files are not imported
    (tmp_path / "helm_python.py").write_text("raise SystemExit('hijacked')\n")
    monkeypatch.chdir(tmp_path)
    result = _scan(WEBAPP)
    assert result.errors == [] and result.objects == 2


def test_rendering_is_bounded_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "RENDER_TIMEOUT_S", 0.001)
    [error] = _scan(WEBAPP).errors
    assert error.message == "helm template (SDK) timed out after 0.001s"


def test_rendering_is_bounded_in_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "MAX_RENDER_BYTES", 100)
    [error] = _scan(WEBAPP).errors
    assert error.message == "helm template (SDK): refused, output larger than 100 bytes"


def test_template_text_is_what_helm_template_prints() -> None:
    text = helmsdk.template_text({
        "c/templates/_helpers.tpl": "", "c/templates/NOTES.txt": "hello",
        "c/templates/b.yaml": "\nkind: B\n", "c/templates/a.yaml": "kind: A\n",
        "c/templates/empty.yaml": "\n  \n"})
    assert text == ("---\n# Source: c/templates/a.yaml\nkind: A\n"
                    "---\n# Source: c/templates/b.yaml\nkind: B\n")


def test_merge_is_helms() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert helmsdk.merge(base, {"a": {"c": [3]}, "d": {"e": 1}}) == {
        "a": {"b": 1, "c": [3]}, "d": {"e": 1}}
    deep: dict[str, object] = {}
    node = deep
    for _ in range(helmsdk.MAX_DEPTH + 5):
        node["x"] = node = {}
    with pytest.raises(ValueError, match="deeper"):
        helmsdk.merge(deep, deep)
