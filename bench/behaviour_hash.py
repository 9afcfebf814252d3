"""Behaviour hashes: one sha256 per category of kubeproof's observable output.

Issue #11 (a behaviour-preserving refactor) asks that the JSON reports over the
corpus, the PSS fixtures, ``examples/``, the audit of the fake cluster and the
/validate + /mutate answers over 400 corpus reviews hash the same before and
after. This script computes those hashes through PUBLIC interfaces only, so it
survives the refactor unchanged:

- the CLI as a subprocess (``sys.executable -m kubeproof ...``, run from the
  repository root with this process's environment, PYTHONPATH included);
- HTTPS to a real ``kubeproof webhook serve`` process;
- the fake API server of the tests (``tests.support.fakeapi``, else
  ``tests.audit.fakeapi``), also used to make the TLS material.

Nothing is imported from ``kubeproof.*``. Every command gets ``--no-config``
(where it has it) and ``-j 1`` (scan), so neither a stray .kubeproof.yaml nor
the machine's core count / load average can change the result.

Categories (each hashed separately, plus ``combined``, the hash of them all):

``corpus``
    ``scan --no-config -f json --fail-on none -j 1`` over each top-level folder
    of tests/data/corpus (relative paths), then over tests/data/corpus as one
    argument.
``pss``
    ``scan --no-config -f json -j 1 --pss-level LEVEL --kube-version 1.N`` over
    the files of each (level, version) of tests/conformance/pss/index.csv (both
    levels, v1.0 ... v1.37: 76 scans), as tests/test_pss_conformance.py groups
    them, with every rule (not only the PSS ones).
``examples``
    ``scan --no-config -f json -j 1`` over examples/ and each of its subfolders.
``sarif``
    ``scan --no-config -f sarif -j 1`` over examples/: the findings with the
    rules' metadata and documentation (a change of a rule's docs shows here and
    in ``rules``, not in the report categories).
``audit``
    ``audit --no-config -f json --fail-on none`` against the fake API server
    loaded with tests/audit/fixtures/cluster.yaml (as tests/audit/conftest.py
    does: its CA, a token kubeconfig).
``webhook``
    Two real servers, ``kubeproof webhook serve --host 127.0.0.1 --namespace
    kubeproof-system``: ``safe`` (``--no-config``: the default fixers, the safe
    ones) and ``all`` (config ``webhook.fixers: all``, as tests/webhook/
    test_mutate.py uses). The first 400 objects (dict documents with a kind) of
    the *.yaml/*.yml files of tests/data/corpus, files in sorted path order,
    become AdmissionReview v1 CREATE requests with fixed uids; each is POSTed to
    /validate and /mutate of both servers. The HTTP status and the JSON body of
    every answer are recorded, ``response.patch`` decoded from base64 (see
    below for its order) plus ``response.patchedObject``: the request's object
    with the patch applied in the order served (or why it does not apply).
``rules``
    ``rules -f json``.

For every CLI command the record is: argv, exit code, stdout (parsed JSON when
it is JSON, else text) and stderr text.

Normalization (only what legitimately varies from run to run):

- tool version strings: ``tool.version`` of JSON reports and
  ``runs[].tool.driver.version`` / ``semanticVersion`` of SARIF become
  ``<version>``;
- temp paths: the temporary folder of this run (kubeconfig, certificates,
  config) becomes ``<tmp>`` wherever it appears in a string;
- ports: ``127.0.0.1:PORT`` / ``localhost:PORT`` for the ports of this run
  (fake API server, webhooks) become ``127.0.0.1:<port>`` / ``localhost:<port>``;
- certificate material: the CA is never in any output; the kubeconfig holding
  it is a temp file (above).
- order that varies from run to run (found by diffing two runs' --dump):
  * audit ``run.checked`` is sorted: the objects are listed in the order their
    (concurrent, ``--max-requests``) list calls came back;
  * the operations of a /mutate JSONPatch are sorted (by canonical JSON): the
    patch comes from ``jsonpatch.make_patch``, which walks dict keys through a
    Python ``set``, so sibling operations come in an order that depends on
    PYTHONHASHSEED (random per process). ``patchedObject`` (above) still
    checks that the order served applies and what it makes.
- timestamps and durations: none of the outputs above holds any at this
  commit (two runs are identical without it); none is removed.

Canonical JSON text: ``json.dumps(sort_keys=True, ensure_ascii=False,
separators=(",", ":"))`` (object key order and whitespace are not behaviour;
list order is kept).

Usage (from the repository root)::

    python3 bench/behaviour_hash.py                   # table category -> hash
    python3 bench/behaviour_hash.py --dump DIR        # every normalized output, one file each
    python3 bench/behaviour_hash.py --write bench/behaviour_hashes.json
    python3 bench/behaviour_hash.py --check bench/behaviour_hashes.json   # exit 1 on change

Timing per category goes to stderr.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import hashlib
import http.client
import importlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonpatch  # type: ignore[import-untyped]
import jsonpointer  # type: ignore[import-untyped]
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CORPUS = "tests/data/corpus"
PSS_DIR = "tests/conformance/pss"
EXAMPLES = "examples"
CLUSTER = "tests/audit/fixtures/cluster.yaml"
REVIEWS = 400
CATEGORIES = ("corpus", "pss", "examples", "audit", "webhook", "sarif", "rules")
WEBHOOK_CONFIGS: dict[str, str | None] = {"safe": None, "all": "webhook:\n  fixers: all\n"}
CLUSTER_SCOPED = {"Namespace", "Node", "PersistentVolume", "ClusterRole",
                  "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass",
                  "PriorityClass", "IngressClass", "RuntimeClass", "APIService",
                  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                  "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                  "PodSecurityPolicy", "CSIDriver", "VolumeSnapshotClass"}

Record = dict[str, Any]


def fakeapi() -> ModuleType:
    """The fake API server module of the tests, wherever the refactor puts it."""
    try:
        return importlib.import_module("tests.support.fakeapi")
    except ModuleNotFoundError as exc:
        if exc.name not in ("tests.support", "tests.support.fakeapi"):
            raise
        return importlib.import_module("tests.audit.fakeapi")


# ---------------------------------------------------------------- normalization

class Normalizer:
    """Replaces this run's temp folder and ports in strings, and tool versions."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = [str(tmp), str(tmp.resolve())]
        self.ports: set[int] = set()

    def text(self, s: str) -> str:
        for t in self.tmp:
            s = s.replace(t, "<tmp>")
        for port in self.ports:
            s = re.sub(rf"\b(127\.0\.0\.1|localhost):{port}\b", r"\1:<port>", s)
        return s

    def value(self, v: Any) -> Any:
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            return {self.text(k): self.value(x) for k, x in v.items()}
        return v

    def report(self, doc: Any) -> Any:
        """A JSON report (scan/audit JSON, SARIF) with its tool version removed."""
        doc = self.value(doc)
        if isinstance(doc, dict):
            tool = doc.get("tool")
            if isinstance(tool, dict) and "version" in tool:
                tool["version"] = "<version>"
            for run in doc.get("runs") or []:
                driver = run.get("tool", {}).get("driver", {}) if isinstance(run, dict) else {}
                for key in ("version", "semanticVersion"):
                    if key in driver:
                        driver[key] = "<version>"
        return doc


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sha256(obj: Any) -> str:
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- running the CLI

def child_env() -> dict[str, str]:
    """This environment (PYTHONPATH included), minus what would steer the server."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PROMETHEUS_MULTIPROC_DIR", "POD_NAMESPACE", "KUBECONFIG")}


def cli(norm: Normalizer, *args: str) -> Record:
    """``kubeproof ARGS`` from the repository root: argv, exit code, stdout, stderr."""
    proc = subprocess.run([sys.executable, "-m", "kubeproof", *args], capture_output=True,
                          text=True, cwd=ROOT, env=child_env(), timeout=300, check=False)
    try:
        out: Any = norm.report(json.loads(proc.stdout))
    except json.JSONDecodeError:
        out = norm.text(proc.stdout)
    return {"argv": [norm.text(a) for a in args], "rc": proc.returncode, "stdout": out,
            "stderr": norm.text(proc.stderr)}


# ---------------------------------------------------------------- categories

Outputs = list[tuple[str, Record]]  # (dump file name, record)


def cat_corpus(norm: Normalizer, tmp: Path) -> Outputs:
    folders = sorted(p.name for p in (ROOT / CORPUS).iterdir() if p.is_dir())
    out: Outputs = []
    for target in [f"{CORPUS}/{f}" for f in folders] + [CORPUS]:
        rec = cli(norm, "scan", "--no-config", "-f", "json", "--fail-on", "none", "-j", "1",
                  target)
        out.append((target.removeprefix("tests/data/").replace("/", "__"), rec))
    return out


def cat_pss(norm: Normalizer, tmp: Path) -> Outputs:
    with (ROOT / PSS_DIR / "index.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    groups: dict[tuple[str, int], set[str]] = {}
    for r in rows:
        minor = int(r["version"].split(".", 1)[1])
        groups.setdefault((r["level"], minor), set()).add(f"{PSS_DIR}/{r['blob']}")
    out: Outputs = []
    for (level, minor), blobs in sorted(groups.items()):
        rec = cli(norm, "scan", "--no-config", "-f", "json", "-j", "1", "--pss-level", level,
                  "--kube-version", f"1.{minor}", *sorted(blobs))
        out.append((f"{level}-v1.{minor:02d}", rec))
    return out


def cat_examples(norm: Normalizer, tmp: Path) -> Outputs:
    subs = sorted(p.name for p in (ROOT / EXAMPLES).iterdir() if p.is_dir())
    out: Outputs = []
    for target in [f"{EXAMPLES}/"] + [f"{EXAMPLES}/{s}" for s in subs]:
        rec = cli(norm, "scan", "--no-config", "-f", "json", "-j", "1", target)
        out.append((f"json-{target.rstrip('/').replace('/', '__')}", rec))
    return out


def cat_sarif(norm: Normalizer, tmp: Path) -> Outputs:
    return [("sarif-examples",
             cli(norm, "scan", "--no-config", "-f", "sarif", "-j", "1", f"{EXAMPLES}/"))]


def cat_audit(norm: Normalizer, tmp: Path) -> Outputs:
    fa = fakeapi()
    tls = fa.make_tls(tmp / "api-tls")
    cluster = fa.FakeCluster()
    cluster.add_all(fa.load_manifests([ROOT / CLUSTER]))
    with fa.FakeApiServer(cluster, tls) as server:
        norm.ports.add(int(server.url.rsplit(":", 1)[1]))
        kubeconfig = fa.write_kubeconfig(tmp / "kubeconfig", server.url, tls.ca_pem,
                                         cluster.token)
        rec = cli(norm, "audit", "--no-config", "--kubeconfig", str(kubeconfig),
                  "-f", "json", "--fail-on", "none")
    # run.checked lists the objects in the order their list calls came back (the calls
    # run concurrently, --max-requests): sorted here, as that order varies run to run
    run = rec["stdout"].get("run") if isinstance(rec["stdout"], dict) else None
    if isinstance(run, dict) and isinstance(run.get("checked"), list):
        run["checked"] = sorted(run["checked"], key=canonical)
    return [("audit-json", rec)]


def cat_rules(norm: Normalizer, tmp: Path) -> Outputs:
    return [("rules-json", cli(norm, "rules", "-f", "json"))]


# ---------------------------------------------------------------- the webhook

def corpus_objects(limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` dict documents with a kind of the corpus, files in sorted order
    (a file that does not parse to its end gives the documents before the error)."""
    files = sorted((p for p in (ROOT / CORPUS).rglob("*") if p.is_file()
                    and p.suffix in (".yaml", ".yml")),
                   key=lambda p: p.relative_to(ROOT).as_posix())
    objs: list[dict[str, Any]] = []
    for path in files:
        with contextlib.suppress(yaml.YAMLError):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if isinstance(doc, dict) and doc.get("kind"):
                    # JSON as the API server would send it (YAML dates become strings)
                    objs.append(json.loads(json.dumps(doc, default=str)))
                    if len(objs) == limit:
                        return objs
    return objs


def plural(kind: str) -> str:
    k = kind.lower()
    if k.endswith("y") and not k.endswith(("ay", "ey", "oy", "uy")):
        return k[:-1] + "ies"
    if k.endswith(("s", "x", "ch", "sh")):
        return k + "es"
    return k + "s"


def admission_review(obj: dict[str, Any], n: int) -> dict[str, Any]:
    """An AdmissionReview v1 CREATE request for ``obj`` (uid fixed by ``n``)."""
    api_version = str(obj.get("apiVersion") or "v1")
    group, _, version = api_version.rpartition("/")
    kind = str(obj["kind"])
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    namespace = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or "default")
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": plural(kind)}
    return {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": f"00000000-0000-4000-8000-{n:012d}",
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": str(meta.get("name") or ""), "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "jane@example.com", "uid": "014fbff9a07c",
                         "groups": ["system:authenticated", "shop-devs"]},
            "object": obj, "oldObject": None, "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def webhook_server(norm: Normalizer, tmp: Path, name: str, config: str | None,
                   cert: str, key: str, ctx: ssl.SSLContext) -> Iterator[int]:
    """``kubeproof webhook serve`` in a subprocess; yields its port once /readyz is 200."""
    port = free_port()
    norm.ports.add(port)
    cmd = [sys.executable, "-m", "kubeproof", "webhook", "serve", "--tls-cert", cert,
           "--tls-key", key, "--host", "127.0.0.1", "--port", str(port),
           "--namespace", "kubeproof-system"]
    if config is None:
        cmd.append("--no-config")
    else:
        cfg = tmp / f"webhook-{name}.yaml"
        cfg.write_text(config, encoding="utf-8")
        cmd += ["--config", str(cfg)]
    log = tmp / f"webhook-{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
                                env=child_env())
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"webhook exited {proc.returncode}: {log.read_text()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=2)
                try:
                    conn.request("GET", "/readyz")
                    if conn.getresponse().status == 200:
                        break
                finally:
                    conn.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"webhook not ready: {log.read_text()}")
            time.sleep(0.1)
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def post(conn: http.client.HTTPSConnection, path: str, review: dict[str, Any]
         ) -> tuple[int, Any]:
    """(HTTP status, JSON body) of one POST; a JSONPatch in the body is decoded, its
    operations sorted, and the object it makes (applied in the order served) added."""
    conn.request("POST", path, body=json.dumps(review).encode(),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    try:
        doc: Any = json.loads(data)
    except json.JSONDecodeError:
        doc = data.decode("utf-8", "replace")
    if isinstance(doc, dict) and isinstance(doc.get("response"), dict):
        patch = doc["response"].get("patch")
        if isinstance(patch, str):
            ops = json.loads(base64.b64decode(patch))
            try:
                patched: Any = jsonpatch.JsonPatch(ops).apply(review["request"]["object"])
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                patched = f"patch does not apply: {type(exc).__name__}: {exc}"
            doc["response"]["patch"] = sorted(ops, key=canonical)
            doc["response"]["patchedObject"] = patched
    return resp.status, doc


def cat_webhook(norm: Normalizer, tmp: Path) -> Outputs:
    tls = fakeapi().make_tls(tmp / "webhook-tls")
    ca_file = tmp / "webhook-tls" / "ca.pem"
    ca_file.write_bytes(tls.ca_pem)
    ctx = ssl.create_default_context(cafile=str(ca_file))
    bodies = [admission_review(obj, n) for n, obj in enumerate(corpus_objects(REVIEWS))]
    if len(bodies) != REVIEWS:
        raise RuntimeError(f"the corpus gave {len(bodies)} objects, not {REVIEWS}")
    out: Outputs = []
    for name, config in WEBHOOK_CONFIGS.items():
        with webhook_server(norm, tmp, name, config, tls.cert_file, tls.key_file,
                            ctx) as port:
            conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
            try:
                for path in ("/validate", "/mutate"):
                    answers = []
                    for body in bodies:
                        status, doc = post(conn, path, body)
                        answers.append({"status": status, "body": norm.value(doc)})
                    out.append((f"{name}{path.replace('/', '-')}",
                                {"server": name, "config": config, "path": path,
                                 "answers": answers}))
            finally:
                conn.close()
    return out


RUNNERS: dict[str, Callable[[Normalizer, Path], Outputs]] = {
    "corpus": cat_corpus, "pss": cat_pss, "examples": cat_examples, "audit": cat_audit,
    "webhook": cat_webhook, "sarif": cat_sarif, "rules": cat_rules,
}


# ---------------------------------------------------------------- main

def compute(dump: Path | None) -> dict[str, str]:
    hashes: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="kp-behaviour-") as name:
        tmp = Path(name)
        norm = Normalizer(tmp)
        for category in CATEGORIES:
            started = time.monotonic()
            outputs = RUNNERS[category](norm, tmp)
            hashes[category] = sha256([[n, rec] for n, rec in outputs])
            print(f"{category:<9} {len(outputs):4d} outputs  {time.monotonic() - started:6.1f} s",
                  file=sys.stderr)
            if dump is not None:
                folder = dump / category
                folder.mkdir(parents=True, exist_ok=True)
                for n, rec in outputs:
                    (folder / f"{n}.json").write_text(
                        json.dumps(rec, sort_keys=True, ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
    hashes["combined"] = sha256({c: hashes[c] for c in CATEGORIES})
    return hashes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dump", type=Path, metavar="DIR",
                        help="write every normalized output to DIR (one file per command)")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="write {category: hash} JSON to FILE")
    parser.add_argument("--check", type=Path, metavar="FILE",
                        help="compare with FILE; exit 1 naming the categories that differ")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    started = time.monotonic()
    hashes = compute(args.dump)
    print(f"total     {time.monotonic() - started:6.1f} s", file=sys.stderr)
    for category, digest in hashes.items():
        print(f"{category:<10} {digest}")
    if args.write:
        args.write.write_text(json.dumps(hashes, indent=2) + "\n", encoding="utf-8")
    if args.check:
        expected = json.loads(args.check.read_text(encoding="utf-8"))
        differ = [c for c in sorted(set(expected) | set(hashes))
                  if expected.get(c) != hashes.get(c)]
        if differ:
            print(f"behaviour changed: {', '.join(differ)}", file=sys.stderr)
            return 1
        print("behaviour unchanged", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
