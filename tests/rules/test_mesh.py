from tests.helpers import findings, fixture, hits


def test_mesh_injection_disabled_flags_istio_label_and_annotation() -> None:
    path = fixture("mesh", "istio_label_fail.yaml")
    assert hits(path, "KP1502") == [("KP1502", 14), ("KP1502", 16)]
    label, annotation = findings(path, "KP1502")
    assert label.path == "spec.template.metadata.labels['sidecar.istio.io/inject']"
    assert label.message == ('Deployment "batch-worker" sets label '
                             'sidecar.istio.io/inject: "false"')
    assert "annotation sidecar.istio.io/inject" in annotation.message


def test_mesh_injection_disabled_flags_linkerd_cronjob_and_bare_pod() -> None:
    path = fixture("mesh", "linkerd_annotation_fail.yaml")
    assert hits(path, "KP1502") == [("KP1502", 13), ("KP1502", 26), ("KP1502", 28)]
    messages = [f.message for f in findings(path, "KP1502")]
    assert messages[0] == 'CronJob "nightly" sets annotation linkerd.io/inject: disabled'
    assert messages[1] == 'Pod "legacy" sets label istio.io/dataplane-mode: none'


def test_mesh_injection_disabled_passes_enabled_and_object_level_settings() -> None:
    # the opt-out on the Deployment's own metadata and on a Service does nothing
    assert hits(fixture("mesh", "injection_pass.yaml"), "KP1502") == []
