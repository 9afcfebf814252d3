"""KP1003 worst cases: adversarial values, old detection next to the new one.

Each generator builds a value designed against one part of secret detection
(``key=`` repeated: overlapping assignments; ``eyJ-`` repeated: the JWT
pattern; capital runs: name splitting and upper-case placeholders; decoy
placeholders; many distinct keys). Each is timed through the rule's value scan
(``_scan_value`` and ``_named_secret``, what every env value, arg, annotation
and ConfigMap value goes through) at 40 KB, 80 KB, 1 MiB and 3 MiB, and once as
a whole 3 MiB AdmissionReview object scanned (KP1003 only).

The old detection is loaded from a git revision (``--old REV``, default the
parent of the commit that made it linear) into a temporary module; it is run
only up to ``--old-max`` bytes because it is quadratic. Read the ratios and
MiB/s, not the seconds: these machines are shared.

Usage: python bench/secrets_bench.py [--old REV] [--old-max 81920]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SIZES = (40_000, 80_000, 1 << 20, 3 << 20)


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: unit * (size // len(unit))


GENERATORS: dict[str, Callable[[int], str]] = {
    "key= repeated": _repeat("key="),
    "key:\" repeated": _repeat('"token":"'),
    "password=${ repeated": _repeat("password=${"),
    "eyJ- repeated": _repeat("eyJ-"),
    "KEY repeated + a": lambda size: "KEY" * (size // 3) + "a",
    "capital run": lambda size: "A" * size,
    "distinct keys": lambda size: "".join(f"k{i}key=x " for i in range(size // 10)),
    "config lines": _repeat("db.password = ${DB_PASSWORD}\nlog.level = info\n"),
}


def load_old(rev: str) -> ModuleType | None:
    """``kubeproof.rules.p10_secrets`` as it was at ``rev`` (None when git cannot say)."""
    try:
        text = subprocess.run(["git", "show", f"{rev}:src/kubeproof/rules/p10_secrets.py"],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    text = text.replace('@rule("', '@_no_rule("')  # do not register the rules twice
    text = text.replace("from kubeproof.core.catalogue import rule",
                        "def _no_rule(*a, **k):\n    return lambda f: f")
    path = Path(tempfile.mkdtemp()) / "old_secrets.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("old_secrets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_value(module: ModuleType, value: str) -> float:
    """Seconds to judge ``value`` as a ConfigMap value under a secret-like name."""
    start = time.perf_counter()
    module._scan_value(value)
    # ``named_secret`` was private (``_named_secret``) before the family became a package
    named_secret = getattr(module, "named_secret", None) or module._named_secret
    named_secret(value[:4096], value)
    return time.perf_counter() - start


def admission_review(size: int) -> bytes:
    """A Deployment AdmissionReview of about ``size`` bytes, the bulk in env values."""
    import orjson

    per = 64 * 1024
    env = [{"name": f"K{i}", "value": GENERATORS["key= repeated"](per)}
           for i in range(size // per)]
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "big", "namespace": "default"},
              "spec": {"template": {"spec": {"containers": [
                  {"name": "app", "image": "ghcr.io/acme/app:1.0", "env": env}]}}}}
    return orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                         "request": {"uid": "1", "operation": "CREATE", "object": deploy}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", default="3716d2f", help="git revision of the old detection")
    parser.add_argument("--old-max", type=int, default=80_000,
                        help="largest input given to the old (quadratic) detection")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from kubeproof.rules.p10_secrets import detection as new

    old = load_old(args.old)
    print(f"{'input':24} {'size':>9} {'new s':>8} {'MiB/s':>8} {'old s':>8} {'old/new':>8}")
    for name, make in GENERATORS.items():
        for size in SIZES:
            value = make(size)
            t_new = time_value(new, value)
            line = f"{name:24} {len(value):>9} {t_new:8.3f} {len(value) / t_new / 2**20:8.1f}"
            if old is not None and len(value) <= args.old_max:
                t_old = time_value(old, value)
                line += f" {t_old:8.3f} {t_old / t_new:8.0f}"
            print(line, flush=True)
    body = admission_review(3 << 20)
    import orjson

    from kubeproof.api import scan

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "object.json"
        path.write_bytes(orjson.dumps(orjson.loads(body)["request"]["object"]))
        start = time.perf_counter()
        scan([str(path)], select=("KP1003",))
        took = time.perf_counter() - start
    print(f"3 MiB AdmissionReview object, scan --select KP1003: {took:.3f} s "
          f"({len(body) / took / 2**20:.1f} MiB/s)")

if __name__ == "__main__":
    main()
