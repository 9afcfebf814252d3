from tests.helpers import findings, fixture, hits


def adm(name: str) -> str:
    return fixture("admission", name)


def test_covers_system_without_exclusion() -> None:
    found = findings(adm("webhooks_fail.yaml"), "KP1601")
    assert [(f.line, f.path) for f in found] == [
        (6, "webhooks[0].namespaceSelector"),  # no selector: the webhook entry
        (28, "webhooks[1].namespaceSelector"),  # opt-out label + objectSelector only
        (44, "webhooks[2].namespaceSelector"),  # selects kube-system itself
        (54, "webhooks[3].namespaceSelector"),  # NotIn without kube-system
    ]
    assert "no namespaceSelector" in found[0].message


def test_covers_system_passes_exclusions_and_cluster_scope() -> None:
    assert hits(adm("webhooks_pass.yaml"), "KP1601") == []


def test_fail_open() -> None:
    assert hits(adm("webhooks_fail.yaml"), "KP1602") == [("KP1602", 15)]
    assert hits(adm("webhooks_pass.yaml"), "KP1602") == []


def test_timeout() -> None:
    assert hits(adm("webhooks_fail.yaml"), "KP1603") == [("KP1603", 16)]
    assert hits(adm("webhooks_pass.yaml"), "KP1603") == []


def test_side_effects_some_and_missing() -> None:
    found = findings(adm("webhooks_fail.yaml"), "KP1604")
    assert [f.line for f in found] == [17, 18]
    assert "Some" in found[0].message
    assert "required" in found[1].message
    assert hits(adm("webhooks_pass.yaml"), "KP1604") == []


def test_v1beta1_defaults() -> None:
    path = adm("webhooks_v1beta1.yaml")
    assert hits(path, "KP1601") == []
    assert hits(path, "KP1602") == [("KP1602", 6)]
    assert hits(path, "KP1603") == [("KP1603", 6)]
    found = findings(path, "KP1604")
    assert [f.line for f in found] == [6]
    assert "Unknown" in found[0].message


def test_malformed_webhooks_never_crash() -> None:
    path = adm("webhooks_malformed.yaml")
    assert hits(path, "KP1601") == [("KP1601", 25)]
    assert hits(path, "KP1602") == []
    assert hits(path, "KP1603") == []
    assert hits(path, "KP1604") == [("KP1604", 19)]
