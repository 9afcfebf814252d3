"""KP1003 stays linear in its input: adversarial values cost ten times more
when ten times longer, not a hundred (issue #9: ``"key=" * 10000`` took 25 s).

Timing is compared between two sizes in the same run (best of three each),
never against an absolute figure, so a loaded machine slows both alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kubeproof.api import scan
from kubeproof.rules.p10_secrets import detection as secrets

SMALL = 8_000
LARGE = 80_000  # below MAX_ASSIGNMENTS * 4, so the budget does not flatten the curve

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "overlapping assignments": lambda n: "key=" * (n // 4),
    "shifted assignments": lambda n: "".join(f"key={i % 10}" for i in range(n // 5)),
    "unclosed quoted values": lambda n: '"token":"' * (n // 9),
    "template decoys": lambda n: "password=${" * (n // 11),
    "jwt prefixes": lambda n: "eyJ-" * (n // 4),
    "capital placeholder words": lambda n: "KEY" * (n // 3) + "a",
    "url passwords": lambda n: "://a:" + "b:" * (n // 2),
}


def _best_of_three(value: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        secrets._scan_value(value)
        secrets.named_secret("API_TOKEN", value)
        secrets.named_secret(value[-300:], "x" * 30)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("make", ADVERSARIAL.values(), ids=list(ADVERSARIAL))
def test_value_scan_work_grows_linearly(make: Callable[[int], str]) -> None:
    small, large = _best_of_three(make(SMALL)), _best_of_three(make(LARGE))
    # Linear: about 10x. Quadratic (the old code): about 100x. The floor keeps
    # sub-millisecond timings from turning noise into a ratio.
    assert large <= max(30 * small, 0.05), (small, large)


def test_too_many_assignments_is_reported_not_silently_skipped() -> None:
    decoys = "".join(f"k{i}_key=short " for i in range(secrets.MAX_ASSIGNMENTS + 10))
    found = secrets._scan_value(decoys + "db_password=hunter22")
    assert found is not None and "not all inspected" in found
    assert "hunter22" not in found


def test_credential_after_a_long_value_is_still_found() -> None:
    text = "comment = " + "lorem ipsum " * 20_000 + "\ndb_password = hunter22\n"
    assert secrets._scan_value(text) == 'a literal credential for "db_password"'


def test_a_long_literal_is_still_a_literal() -> None:
    value = "s3cr3t" * 200  # longer than the part of a value that is read
    assert secrets._scan_value(f"password={value}") == 'a literal credential for "password"'
    assert secrets._scan_value(f'password="{value}"') == 'a literal credential for "password"'


def test_key_order_is_text_order_and_shown_keys_are_bounded() -> None:
    text = " ".join(f"k{i}_password=hunter22" for i in range(10))
    assert secrets._scan_value(text) == (
        'a literal credential for "k0_password", "k1_password", "k2_password" ...')


def test_three_mib_configmap_scans_in_bounded_time(tmp_path: Path) -> None:
    """A 3 MiB adversarial ConfigMap through the real scan, next to a benign one
    of the same size: the adversarial one costs a small multiple, not hours."""
    def configmap(value: str) -> str:
        return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n"
                f"data:\n  app.conf: '{value}'\n")

    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(configmap("key=" * (3 << 18)))
    benign = tmp_path / "benign.yaml"
    benign.write_text(configmap("lorem ipsum " * (1 << 18)))
    start = time.perf_counter()
    benign_result = scan([str(benign)], select=("KP1003",))
    benign_time = time.perf_counter() - start
    start = time.perf_counter()
    result = scan([str(hostile)], select=("KP1003",))
    hostile_time = time.perf_counter() - start
    assert benign_result.findings == []
    assert [f.rule.code for f in result.findings] == ["KP1003"]
    assert hostile_time <= max(5 * benign_time, 2.0), (benign_time, hostile_time)


def test_many_large_values_share_one_budget_per_object(tmp_path: Path) -> None:
    """48 env values of 64 KiB of decoy assignments (a 3 MiB AdmissionReview's
    worth): the work is bounded per object, and what was not inspected is said."""
    env = "".join(f"            - name: K{i}\n              value: '{'key=' * (1 << 14)}'\n"
                  for i in range(48))
    path = tmp_path / "deploy.yaml"
    path.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: big\nspec:\n"
                    "  template:\n    spec:\n      containers:\n        - name: app\n"
                    f"          image: nginx:1.27\n          env:\n{env}")
    result = scan([str(path)], select=("KP1003",))
    messages = [f.message for f in result.findings]
    assert messages and all("not all inspected" in m for m in messages)
    assert len(messages) < 48  # the first values were inspected in full


def test_a_megabyte_key_is_shortened_in_the_message() -> None:
    key = "a" * (1 << 20) + "_password"
    found = secrets._scan_value(f"{key}=hunter22")
    assert found is not None and len(found) < 300 and found.endswith('_password"')
    assert '...' in found
