from tests.helpers import fixture, hits


def test_allow_all_rules_are_flagged_at_the_rule_or_peer() -> None:
    assert hits(fixture("network", "allow_all_fail.yaml"), "KP0904") == [
        ("KP0904", 10), ("KP0904", 12), ("KP0904", 17)]


def test_narrow_peers_ports_only_rules_and_deny_all_pass() -> None:
    assert hits(fixture("network", "allow_all_pass.yaml"), "KP0904") == []
