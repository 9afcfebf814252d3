"""Conformance with upstream pod-security-admission, fixture for fixture.

``tests/conformance/pss`` holds upstream's 4537 test fixtures: one Pod each,
allowed or denied at one level (baseline/restricted) and one policy version
(v1.0 … v1.37). Upstream repeats each fixture in every version directory, so
each distinct file is stored once (``blobs/``) and ``index.csv`` names the blob
of each (level, version, path) row (see that folder's README). Every fixture is
checked at its own level and version:

* ``allow``: no Pod Security finding at all (KP0801–KP0819, after the engine's
  level filter);
* ``deny``: the code of the fixture's check is among the findings. For the four
  restricted twins, kubeproof reports what the baseline check already flags under
  the baseline code (see ``kubeproof.rules.p08_pod_security``), so a restricted
  fixture that sets, e.g., ``seccompProfile.type: Unconfined`` may be reported as
  KP0810 rather than KP0816.

The files of each (level, version) are scanned together once, in-process, as
upstream's version directory would be, and the per-file findings are cached.
The v1.37 fixtures are also re-checked wrapped in a Deployment and a CronJob
(as upstream's runner does with a controller), which must give the same codes
as the bare Pod.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from pathlib import Path

import pytest
import yaml

from kubeproof.api import scan

PSS_DIR = Path(__file__).resolve().parent / "conformance" / "pss"
INDEX = PSS_DIR / "index.csv"
EXPECTED_FIXTURES = 4537

PSS = tuple(f"KP08{n:02d}" for n in range(1, 20))
CHECK_CODES = {
    "windowsHostProcess": "KP0801",
    "hostNamespaces": "KP0802",
    "privileged": "KP0803",
    "capabilities_baseline": "KP0804",
    "hostPathVolumes": "KP0805",
    "hostPorts": "KP0806",
    "appArmorProfile": "KP0807",
    "seLinuxOptions": "KP0808",
    "procMount": "KP0809",
    "seccompProfile_baseline": "KP0810",
    "sysctls": "KP0811",
    "restrictedVolumes": "KP0812",
    "allowPrivilegeEscalation": "KP0813",
    "runAsNonRoot": "KP0814",
    "runAsUser": "KP0815",
    "seccompProfile_restricted": "KP0816",
    "capabilities_restricted": "KP0817",
    "hostProbesAndHostLifecycle": "KP0818",
    "procMount_restricted": "KP0819",
}
# restricted twin -> the baseline code that reports what the baseline check flags
TWINS = {"KP0812": "KP0805", "KP0817": "KP0804", "KP0816": "KP0810", "KP0819": "KP0809"}


def _rows() -> list[dict[str, str]]:
    if not INDEX.is_file():
        return []
    with INDEX.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


ROWS = _rows()


def _minor(version: str) -> int:
    return int(version.split(".", 1)[1])


@functools.cache
def _codes_by_file(level: str, version: str) -> dict[str, set[str]]:
    """Scan the files of one level/version together; PSS codes found per (resolved) blob."""
    blobs = [str(PSS_DIR / r["blob"]) for r in ROWS
             if r["level"] == level and r["version"] == version]
    result = scan(blobs, select=PSS, kube_version=(1, _minor(version)), pss_level=level)
    assert not result.errors, result.errors
    out: dict[str, set[str]] = {}
    for f in result.findings:
        out.setdefault(str(Path(f.file).resolve()), set()).add(f.rule.code)
    return out


def _codes(row: dict[str, str]) -> set[str]:
    by_file = _codes_by_file(row["level"], row["version"])
    return by_file.get(str((PSS_DIR / row["blob"]).resolve()), set())


def test_fixture_index_is_complete() -> None:
    assert INDEX.is_file(), f"missing {INDEX}"
    assert len(ROWS) == EXPECTED_FIXTURES
    assert {r["check_id"] for r in ROWS if r["check_id"]} == set(CHECK_CODES)
    for blob in {r["blob"] for r in ROWS}:  # content-addressed: name says the bytes
        digest = hashlib.sha256((PSS_DIR / blob).read_bytes()).hexdigest()
        assert blob.endswith(f"-{digest[:12]}.yaml"), blob
    # within one (level, version) each fixture has its own content (metadata.name is
    # the file stem), so findings map back to exactly one row
    keys = {(r["level"], r["version"], r["blob"]) for r in ROWS}
    assert len(keys) == EXPECTED_FIXTURES


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_fixture(row: dict[str, str]) -> None:
    codes = _codes(row)
    if row["expected"] == "allow":
        assert codes == set(), f"{row['path']} must be allowed, got {sorted(codes)}"
        return
    assert row["expected"] == "deny"
    code = CHECK_CODES[row["check_id"]]
    accepted = {code, TWINS.get(code, code)}
    assert codes & accepted, (
        f"{row['path']} must be denied by {row['check_id']} ({code}), got {sorted(codes)}")


LATEST = [r for r in ROWS if r["version"] == "v1.37"]


def _wrap(pod: dict, kind: str) -> dict:
    meta = pod.get("metadata") or {}
    name = str(meta.get("name", "pod")).replace("_", "-")
    template = {"metadata": {k: v for k, v in meta.items() if k != "name"},
                "spec": pod.get("spec")}
    template["metadata"]["labels"] = {"app": name}
    if kind == "Deployment":
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                "spec": {"selector": {"matchLabels": {"app": name}}, "template": template}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}}


@pytest.fixture(scope="module")
def wrapped_codes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], set]:
    """PSS codes of every v1.37 fixture wrapped in a Deployment and a CronJob."""
    out: dict[tuple[str, str, str], set] = {}
    for level in ("baseline", "restricted"):
        root = tmp_path_factory.mktemp(f"wrapped-{level}")
        sources: dict[str, str] = {}
        for row in LATEST:
            if row["level"] != level:
                continue
            pod = yaml.safe_load((PSS_DIR / row["blob"]).read_text(encoding="utf-8"))
            for kind in ("Deployment", "CronJob"):
                target = root / f"{kind}-{row['path'].replace('/', '-')}"
                target.write_text(yaml.safe_dump(_wrap(pod, kind)), encoding="utf-8")
                sources[str(target.resolve())] = row["path"]
                out[(row["path"], kind, level)] = set()
        result = scan([str(root)], select=PSS, kube_version=(1, 37), pss_level=level)
        assert not result.errors, result.errors
        for f in result.findings:
            resolved = str(Path(f.file).resolve())
            out[(sources[resolved], f.kind, level)].add(f.rule.code)
    return out


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
@pytest.mark.parametrize("row", LATEST, ids=[r["path"] for r in LATEST])
def test_fixture_as_workload_template(row: dict[str, str], kind: str,
                                      wrapped_codes: dict[tuple[str, str, str], set]) -> None:
    bare = _codes(row)
    assert wrapped_codes[(row["path"], kind, row["level"])] == bare
