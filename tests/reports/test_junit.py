import xml.etree.ElementTree as ET

from kubeproof.model import InputError
from kubeproof.reports import render
from tests.reports.helpers import (
    BAD,
    TRICKY,
    TRICKY_NAME,
    WEB,
    fixture_scan,
    make_finding,
    make_objects,
    make_result,
    make_rule,
)


def _parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def _cases(root: ET.Element, suite: str) -> dict[str, ET.Element]:
    (el,) = [s for s in root.iter("testsuite") if s.get("name") == suite]
    return {tc.get("name", ""): tc for tc in el.iter("testcase")}


def test_junit_one_case_per_object_and_family() -> None:
    result = fixture_scan()
    root = _parse(render("junit", result, tool_version="1.2.3"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "3", "1")
    cases = _cases(root, "kubeproof.namespaces")
    assert list(cases) == [
        f"Secret/default/{TRICKY_NAME} [namespaces]",
        "ConfigMap/default/settings [namespaces]",
        "Service/web [namespaces]",
        "ConfigMap/shop/clean [namespaces]",
    ]
    settings = cases["ConfigMap/default/settings [namespaces]"]
    assert settings.get("classname") == WEB
    (failure,) = settings.findall("failure")
    assert failure.get("type") == "high"
    assert failure.text is not None
    assert "KP0401 high line 5:3 default-namespace" in failure.text
    assert "fix: Create a namespace" in failure.text
    assert cases[f"Secret/default/{TRICKY_NAME} [namespaces]"].get("classname") == TRICKY
    service = cases["Service/web [namespaces]"].find("failure")
    assert service is not None and service.get("type") == "low"
    clean = cases["ConfigMap/shop/clean [namespaces]"]
    assert list(clean) == []  # passing
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "kubeproof.namespaces")
    assert (suite.get("tests"), suite.get("failures")) == ("4", "3")


def test_junit_input_errors_are_error_cases() -> None:
    root = _parse(render("junit", fixture_scan(), tool_version="1"))
    cases = _cases(root, "kubeproof.input")
    (case,) = cases.values()
    assert case.get("name") == f"{BAD}:6"
    error = case.find("error")
    assert error is not None
    assert "invalid YAML" in (error.get("message") or "")


def test_junit_lists_checked_objects_for_the_families_that_ran_on_them() -> None:
    pss = make_rule("KP0803", "pss-privileged", 8, "high", "pod_security", pods=True)
    ns = make_rule("KP0401", "default-namespace", 4, "high", "namespaces", kinds={"ConfigMap"})
    unused = make_rule("KP1601", "webhook-covers-system", 16, "high", "admission",
                       kinds={"ValidatingWebhookConfiguration"})
    objects = (make_objects("Deployment", ["web", "api"], [pss], line=10)
               + make_objects("ConfigMap", ["settings"], [ns], line=30))
    finding = make_finding(pss, name="api", line=14)
    root = _parse(render("junit", make_result([pss, ns, unused], [finding], objects),
                         tool_version="1"))
    # no suite for a family that ran on nothing, and no summary "scan" case
    assert [s.get("name") for s in root.iter("testsuite")] == [
        "kubeproof.namespaces", "kubeproof.pod_security"]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    assert list(_cases(root, "kubeproof.namespaces")) == ["ConfigMap/shop/settings [namespaces]"]
    cases = _cases(root, "kubeproof.pod_security")
    assert list(cases) == ["Deployment/shop/web [pod_security]",
                           "Deployment/shop/api [pod_security]"]
    web, api = cases.values()
    assert list(web) == []  # passing
    assert api.find("failure") is not None
    assert (web.get("line"), api.get("line")) == ("10", "11")  # the object's line


def test_junit_fail_on_threshold_keeps_lower_findings_informational() -> None:
    root = _parse(render("junit", fixture_scan(), tool_version="1", fail_on="high"))
    service = _cases(root, "kubeproof.namespaces")["Service/web [namespaces]"]
    assert service.find("failure") is None
    out = service.find("system-out")
    assert out is not None and "KP0402" in (out.text or "")
    assert root.get("failures") == "2"


def test_junit_families_suites_and_control_characters() -> None:
    pss = make_rule("KP0803", "pss-privileged", 8, "high", "pod_security", pods=True)
    img = make_rule("KP0101", "image-tag-mutable", 1, "high", "images", pods=True)
    findings = [
        make_finding(pss, message="bad \x01 byte & <tag>", container="app", line=9),
        make_finding(pss, severity="critical", line=7),
        make_finding(img, line=3),
        make_finding(img, kind="", namespace=None, name="", line=4, file="odd.yaml"),
    ]
    result = make_result([pss, img], findings, make_objects("Deployment", ["web"], [pss, img]),
                         errors=[InputError("odd.yaml", None, "nul \x00 here")])
    root = _parse(render("junit", result, tool_version="1"))
    suites = [s.get("name") for s in root.iter("testsuite")]
    assert suites == ["kubeproof.images", "kubeproof.pod_security", "kubeproof.input"]
    pss_cases = _cases(root, "kubeproof.pod_security")
    failure = pss_cases["Deployment/shop/web [pod_security]"].find("failure")
    assert failure is not None
    assert failure.get("type") == "critical"
    text = failure.text or ""
    assert text.index("line 7") < text.index("line 9")
    assert "bad \ufffd byte & <tag>" in text
    assert "container 'app'" in text
    assert "document at line 4 [images]" in _cases(root, "kubeproof.images")
