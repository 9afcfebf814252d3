from pathlib import Path

from tests.helpers import findings

KP0906 = Path(__file__).parent / "KP0906"


def test_snippet_annotations_and_controller_configmaps() -> None:
    found = findings(KP0906 / "fail-snippets.yaml", "KP0906")
    assert len(found) == 8
    key = "nginx.ingress.kubernetes.io/configuration-snippet"
    assert found[0].path == f"metadata.annotations['{key}']"
    assert all("CVE-2021-25742" in f.message for f in found)
    assert "edge-ingress-nginx-controller" in found[5].message


def test_rule_is_an_object_rule() -> None:
    from kubeproof.core.catalogue import load_rules

    rule = load_rules()["KP0906"]
    assert (rule.scope, rule.severity.label, rule.family) == ("object", "high", "ingress")
