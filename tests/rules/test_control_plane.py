from tests.helpers import findings, fixture, hits

CODES = ("KP0709", "KP1406", "KP1605")


def cp(name: str) -> str:
    return fixture("control_plane", name)


def test_rules_are_cluster_scoped() -> None:
    from kubeproof.registry import load_rules

    rules = load_rules()
    assert {rules[c].scope for c in CODES} == {"cluster"}


def test_hardened_kubeadm_manifest_passes() -> None:
    for code in CODES:
        assert hits(cp("kubeadm_pass.yaml"), code) == [], code


def test_insecure_apiserver_flags_each_item() -> None:
    path = cp("insecure_fail.yaml")
    found = findings(path, "KP0709")
    assert [f.line for f in found] == [13, 14]
    assert "AlwaysAllow" in found[0].message and "RBAC" in found[0].message
    assert found[1].container == "kube-apiserver"
    assert hits(path, "KP1406") == [("KP1406", 10)]  # the command list
    kp1605 = findings(path, "KP1605")
    assert [f.line for f in kp1605] == [15]
    assert "AlwaysAdmit" in kp1605[0].message and "NodeRestriction" in kp1605[0].message


def test_space_separated_flags_and_repeated_list_flags() -> None:
    path = cp("args_form_fail.yaml")
    # modes accumulate (Node,Webhook,RBAC,AlwaysAllow): RBAC is present, AlwaysAllow too;
    # a bare --anonymous-auth means true
    assert hits(path, "KP0709") == [("KP0709", 18), ("KP0709", 19)]
    assert hits(path, "KP1406") == [("KP1406", 11)]  # no policy: the args list
    assert hits(path, "KP1605") == [("KP1605", 17)]  # disabled NodeRestriction


def test_image_only_apiserver_uses_defaults() -> None:
    path = cp("image_only_fail.yaml")
    kp0709 = findings(path, "KP0709")
    assert [(f.line, f.path) for f in kp0709] == [(14, "spec.containers[0].args")]
    assert "AlwaysAllow" in kp0709[0].message
    assert hits(path, "KP1406") == [("KP1406", 14)]
    assert hits(path, "KP1605") == [("KP1605", 16)]


def test_hyperkube_authorization_config_and_last_values() -> None:
    path = cp("hyperkube_fail.yaml")
    # --authorization-config replaces --authorization-mode; anonymous still checked
    assert hits(path, "KP0709") == [("KP0709", 16)]
    assert hits(path, "KP1406") == [("KP1406", 17)]  # empty --audit-policy-file=
    assert hits(path, "KP1605") == [("KP1605", 20)]  # AlwaysAdmit in a repeated flag


def test_shell_and_legacy_forms_pass() -> None:
    for code in CODES:
        assert hits(cp("shell_pass.yaml"), code) == [], code


def test_other_containers_are_not_apiservers() -> None:
    for code in CODES:
        assert hits(cp("not_apiserver_pass.yaml"), code) == [], code
