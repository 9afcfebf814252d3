"""Every fixer, end to end: a bad manifest with comments and odd formatting is
fixed by ``kubeproof fix``, the rule stops firing on a rescan, the diff touches
exactly the lines it must, and a second run changes nothing."""

from __future__ import annotations

import difflib
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubeproof.api import scan
from kubeproof.core.catalogue import fixes, load_rules
from kubeproof.core.config import Config, load_config
from kubeproof.core.fixing import FixSettings
from kubeproof.fix.files import fix_files
from tests.support.cli import invoke

FIXTURES = Path(__file__).parent / "fixtures"
DIGEST = "sha256:" + "ab" * 32
LABELS_CONFIG = ("labels:\n  required: [app.kubernetes.io/name, team]\n"
                 "fix:\n  labels: {team: payments}\n")


@dataclass(frozen=True)
class Case:
    fixture: str
    removed: tuple[str, ...]
    added: tuple[str, ...]
    args: tuple[str, ...] = ()
    config: str | None = None


CASES: dict[str, Case] = {
    "KP0101": Case("kp0101.yaml", removed=(
        '                image: "busybox:latest"   # quoted on purpose',
        "                image: nginx",
        "                image: ghcr.io/acme/web:main",
    ), added=(
        f'                image: "busybox:latest@{DIGEST}" # quoted on purpose',
        f"                image: nginx:latest@{DIGEST}",
        f"                image: ghcr.io/acme/web:main@{DIGEST}",
    )),
    "KP0102": Case("kp0102.yaml", removed=(
        "          image: ghcr.io/acme/api:1.4.2   # the release",
    ), added=(
        f"          image: ghcr.io/acme/api:1.4.2@{DIGEST} # the release",
    )),
    "KP0402": Case("kp0402.yaml", args=("--namespace", "shop"), removed=(
        "metadata: {name: settings, labels: {tier: web}}   # flow style",
    ), added=(
        "metadata: {name: settings, namespace: shop, labels: {tier: web}} # flow style",
        "  namespace: shop",
    )),
    "KP0501": Case("kp0501.yaml", config=LABELS_CONFIG, removed=(), added=(
        "    app.kubernetes.io/name: api",
        "    team: payments",
        "        app.kubernetes.io/name: api",
        "        team: payments",
        "  labels:",
        "    app.kubernetes.io/name: api",
        "    team: payments",
    )),
    "KP0707": Case("kp0707.yaml", removed=(), added=(
        "         serviceAccountName: billing-worker",
        "---",
        "apiVersion: v1",
        "kind: ServiceAccount",
        "metadata:",
        "   name: billing-worker",
        "   namespace: shop",
        "   labels:",
        "      app.kubernetes.io/name: billing",
        "automountServiceAccountToken: false",
    )),
    "KP0708": Case("kp0708.yaml", removed=(), added=(
        "      automountServiceAccountToken: false",
    )),
    "KP0813": Case("kp0813.yaml", removed=(
        "      allowPrivilegeEscalation: true   # legacy setting",
    ), added=(
        "      allowPrivilegeEscalation: false  # legacy setting",
        "    securityContext:",
        "      allowPrivilegeEscalation: false",
    )),
    "KP0814": Case("kp0814.yaml", removed=(
        "            runAsNonRoot: false   # someone turned it off",
    ), added=(
        "        runAsNonRoot: true",
        "            runAsNonRoot: true    # someone turned it off",
    )),
    "KP0816": Case("kp0816.yaml", removed=(), added=(
        "          securityContext:",
        "            seccompProfile:",
        "              type: RuntimeDefault",
    )),
    "KP0817": Case("kp0817.yaml", removed=(
        '            add: ["CHOWN", "NET_BIND_SERVICE"]',
    ), added=(
        '            add: ["NET_BIND_SERVICE"]',
        "            - ALL",
        "        securityContext:",
        "          capabilities:",
        "            drop:",
        "            - ALL",
    )),
    "KP0821": Case("kp0821.yaml", removed=(
        "            readOnlyRootFilesystem: false   # was writable",
    ), added=(
        "        securityContext:",
        "            readOnlyRootFilesystem: true",
        "            readOnlyRootFilesystem: true    # was writable",
        "        securityContext:",
        "            readOnlyRootFilesystem: true",
    )),
    # the fixture's `readOnly: false` is stated: flipped only with --unsafe-fixes
    "KP1002": Case("kp1002.yaml", args=("--unsafe-fixes",), removed=(
        "              readOnly: false",
        "            - {name: creds, mountPath: /etc/creds}",
    ), added=(
        "              readOnly: true",
        "            - {name: creds, mountPath: /etc/creds, readOnly: true}",
    )),
    "KP1403": Case("kp1403.yaml", removed=(), added=(
        "              memory: 128Mi",
        "          resources:",
        "            requests:",
        "              cpu: 100m",
        "              memory: 128Mi",
    )),
    "KP1404": Case("kp1404.yaml", removed=(), added=(
        "            limits:",
        "              memory: 1Gi",
        "            limits:",
        "              memory: 256Mi",
    )),
}


def unsafe(**overrides: Any) -> FixSettings:
    """The settings of ``kubeproof fix --unsafe-fixes``: every fixer runs and may
    override values the manifest states."""
    return FixSettings(unsafe_fixes=True, override_explicit=True, **overrides)


def test_every_fixer_has_a_case_and_its_rule_says_fixable() -> None:
    rules = load_rules()
    assert set(CASES) == set(fixes())
    assert {c for c, r in rules.items() if r.fixable} == set(fixes())


def changed_lines(before: str, after: str) -> tuple[Counter[str], Counter[str]]:
    """(removed, added) lines of the unified diff, as multisets."""
    removed: Counter[str] = Counter()
    added: Counter[str] = Counter()
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="",
                                     n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        (removed if line[0] == "-" else added)[line[1:]] += 1
    return removed, added


def run_fix(code: str, case: Case, target: Path, tmp_path: Path) -> None:
    if code in ("KP0101", "KP0102"):  # the digest resolver is a setting (the CLI's
        # --pin-digests asks a registry: tests/images/test_pin_digests.py)
        settings = FixSettings(resolve_digest=lambda ref: DIGEST)
        for item in fix_files([str(target)], {code}, Config(), settings):
            assert item.error is None
            if item.fixed is not None:
                target.write_text(item.fixed.text)
        return
    config = ("--no-config",)
    if case.config:
        (tmp_path / "kp.yaml").write_text(case.config)
        config = ("--config", str(tmp_path / "kp.yaml"))
    unsafe = () if fixes()[code].safe else ("--unsafe-fixes",)
    result = invoke("fix", "--select", code, *config, *case.args, *unsafe, str(target),
                    expect=0)
    assert "Traceback" not in result.output


def hits(code: str, path: Path, case: Case, tmp_path: Path) -> list[int]:
    config = load_config(tmp_path / "kp.yaml") if case.config else Config()
    result = scan([str(path)], select=[code], config=config)
    assert not result.errors
    return [f.line for f in result.findings if f.code == code]


@pytest.mark.parametrize("code", sorted(CASES))
def test_fixer(code: str, tmp_path: Path) -> None:
    case = CASES[code]
    target = tmp_path / case.fixture
    shutil.copy(FIXTURES / case.fixture, target)
    original = target.read_text()
    if case.config:
        (tmp_path / "kp.yaml").write_text(case.config)
    assert hits(code, target, case, tmp_path), "the fixture must break the rule"

    run_fix(code, case, target, tmp_path)
    fixed = target.read_text()
    assert hits(code, target, case, tmp_path) == []
    removed, added = changed_lines(original, fixed)
    assert removed == Counter(case.removed)
    assert added == Counter(case.added)
    assert fixed.endswith("\n")

    run_fix(code, case, target, tmp_path)
    assert target.read_text() == fixed, "a second run must change nothing"


def test_pinning_never_touches_placeholders(tmp_path: Path) -> None:
    target = tmp_path / "templated.yaml"
    target.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - {name: a, image: '${REGISTRY}/app:latest'}\n"
        "    - {name: b, image: 'gcr.io/PROJECT_ID/app:main'}\n"
        "    - {name: c, image: $IMAGE}\n")
    asked: list[str] = []

    def resolve(ref: str) -> str:
        asked.append(ref)
        return DIGEST

    for code in ("KP0101", "KP0102"):
        items = list(fix_files([str(target)], {code}, Config(),
                               FixSettings(resolve_digest=resolve)))
        assert all(item.error is None for item in items)
        assert all(item.fixed is None or item.fixed.text == target.read_text()
                   for item in items)
    assert asked == []
