"""Kustomize folders and Helm charts, rendered by their own tools.

``kubectl kustomize DIR`` and ``helm template DIR`` produce the objects that
would be applied. Without the helm binary, charts are rendered by Helm's Go SDK
(the ``kubeproof[helm]`` extra, :mod:`kubeproof.sources.helmsdk`) in a child
process, bounded like the binary (timeout, output size). Findings on rendered
objects point back at the source when it can be found: the document in the
folder (or in a base it pulls in) with the same kind and a name that the
rendered name was built from (kustomize's ``namePrefix``/``nameSuffix``
applied); a chart's at the template its ``# Source:`` comment names; otherwise
at the rendering entry file (``kustomization.yaml`` / ``Chart.yaml``), and the
finding's ``source`` says ``kustomize`` or ``helm``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path as FsPath
from typing import Any

import yaml

if sys.platform != "win32":
    # POSIX only (the limit is set only there); imported here, not in the child
    # between fork and exec, where an import could wait on a lock held by a thread
    import resource

from kubeproof.model import InputError
from kubeproof.sources import helmsdk
from kubeproof.sources.documents import (
    KUSTOMIZATION_FILES,
    MANIFEST_SUFFIXES,
    ORIGIN_LOCATOR,
    LoadedFile,
    LoadOptions,
    load_text,
)

RENDER_TIMEOUT_S = 120
# What a renderer may print: beyond it the output is refused, not read.
MAX_RENDER_BYTES = 64 * 1024 * 1024
_HELM_SOURCE = re.compile(r"^# Source: (.+)$", re.M)
HELM_MISSING = (
    "helm is not installed, so this chart cannot be rendered: install helm "
    "(https://helm.sh/docs/intro/install/) or Helm's SDK (pip install 'kubeproof[helm]'), "
    "or pipe the output in: helm template {path} | kubeproof scan -"
)


def _limit_output() -> None:  # pragma: no cover - runs in the child, before exec
    """The renderer's files (its stdout among them) stop growing past the limit."""
    limit = MAX_RENDER_BYTES + 1
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _run(cmd: list[str], path: str, label: str | None = None
         ) -> tuple[str | None, InputError | None]:
    """Run a renderer, bounded in time and output; its stdout, or the error to
    report (its last stderr line)."""
    label = label or " ".join(cmd[:2])
    limit = _limit_output if os.name == "posix" else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    preexec_fn=limit)
        except OSError:
            return None, InputError(path, None, f"{cmd[0]} not found on PATH")
        try:
            code = proc.wait(timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None, InputError(path, None, f"{label} timed out after {RENDER_TIMEOUT_S}s")
        size = os.fstat(out.fileno()).st_size
        out.seek(0)
        stdout = out.read(MAX_RENDER_BYTES + 1)
        err.seek(max(0, os.fstat(err.fileno()).st_size - 4096))
        stderr = err.read()
    if size > MAX_RENDER_BYTES:
        return None, InputError(path, None, f"{label}: refused, output larger than "
                                f"{MAX_RENDER_BYTES:,} bytes")
    if code != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        last = lines[-1] if lines else f"exit code {code}"
        return None, InputError(path, None, f"{label} failed: {last}")
    return stdout.decode("utf-8", "replace"), None


def _render_chart(path: str, entry: str, opts: LoadOptions
                  ) -> tuple[str | None, InputError | None]:
    """``helm template`` when helm is on PATH, else Helm's SDK, else the error."""
    args: list[str] = []
    if opts.namespace is not None:  # scan --namespace is the release's namespace
        args += ["--namespace", opts.namespace]
    for values in opts.helm_values:
        args += ["--values", values]
    for setting in opts.helm_set:
        args += ["--set", setting]
    helm = shutil.which("helm")
    if helm is not None:
        return _run([helm, "template", helmsdk.RELEASE, path, *args], entry,
                    label="helm template")
    if helmsdk.available():
        # -P: the working directory (often the scanned repository) is not
        # searched for modules, so a scanned file cannot stand in for the SDK
        return _run([sys.executable, "-P", "-m", "kubeproof.sources.helmsdk", path, *args],
                    entry, label="helm template (SDK)")
    return None, InputError(entry, None, HELM_MISSING.format(path=path))


def load_rendered(kind: str, path: str, opts: LoadOptions) -> LoadedFile:
    if kind == "kustomize":
        entry = next(str(FsPath(path) / k) for k in KUSTOMIZATION_FILES
                     if (FsPath(path) / k).is_file())
        if shutil.which("kubectl") is None:
            return LoadedFile(entry, errors=[InputError(
                entry, None, "kubectl is not installed, so this Kustomize folder cannot be "
                "rendered: install kubectl or pipe `kustomize build` output into "
                "kubeproof scan -")])
        text, err = _run(["kubectl", "kustomize", path], entry)
    else:
        entry = str(FsPath(path) / "Chart.yaml")
        text, err = _render_chart(path, entry, opts)
    if err is not None or text is None:
        return LoadedFile(entry, errors=[err] if err else [], source=kind)
    rendered = load_text(entry, text, text.encode(), source=kind)
    if kind == "helm":
        _point_at_templates(rendered, text, path)
    else:
        _point_at_sources(rendered, path)
    return rendered


def _point_at_templates(rendered: LoadedFile, text: str, chart: str) -> None:
    """Helm marks each document with ``# Source: <chart>/templates/x.yaml``:
    findings point at that template, at the ``kind:`` line that made the object
    when the template spells its kinds out (the template is not YAML, so no
    closer), else at its first line."""
    sources = [(text.count("\n", 0, m.start()) + 1, m.group(1).strip())
               for m in _HELM_SOURCE.finditer(text)]
    placed: list[tuple[Any, FsPath | None]] = []
    for located in rendered.objects:
        origin = located.resource.origin
        before = [src for line, src in sources if line < origin.line]
        # the path starts with the chart's name, which need not be its folder's
        template = FsPath(chart, *FsPath(before[-1]).parts[1:]) if before else None
        placed.append((located, template))
    # the n-th object of a kind from a template is its n-th literal `kind:` line;
    # helm sorts documents by kind, but keeps a kind's documents in order
    counts: dict[tuple[FsPath | None, str], int] = {}
    for located, template in placed:
        key = (template, located.resource.kind)
        counts[key] = counts.get(key, 0) + 1
    seen: dict[tuple[FsPath | None, str], int] = {}
    kinds: dict[FsPath, dict[str, list[int]]] = {}
    for located, template in placed:
        origin = located.resource.origin
        origin.locator = ORIGIN_LOCATOR
        origin.line = origin.column = 1
        if template is None or not template.is_file():
            continue
        origin.file = _display(str(template))
        key = (template, located.resource.kind)
        index = seen[key] = seen.get(key, -1) + 1
        if template not in kinds:
            kinds[template] = _kind_lines(template)
        lines = kinds[template].get(located.resource.kind, [])
        if len(lines) == counts[key]:
            origin.line = lines[index]


_KIND_LINE = re.compile(r"kind: *([A-Za-z][A-Za-z0-9]*) *(?:#.*)?")
MAX_TEMPLATE_BYTES = 1024 * 1024


def _kind_lines(template: FsPath) -> dict[str, list[int]]:
    """kind -> the lines of a template's top-level literal ``kind: X`` lines."""
    try:
        with template.open("rb") as fh:
            raw = fh.read(MAX_TEMPLATE_BYTES)
    except OSError:
        return {}
    found: dict[str, list[int]] = {}
    for number, line in enumerate(raw.decode("utf-8", "replace").split("\n"), 1):
        match = _KIND_LINE.fullmatch(line.rstrip("\r"))
        if match:
            found.setdefault(match.group(1), []).append(number)
    return found


def _point_at_sources(rendered: LoadedFile, folder: str) -> None:
    """Re-attach each rendered object to the source document it came from."""
    sources = _source_documents(folder)
    for located in rendered.objects:
        res = located.resource
        match = _match(sources, res.kind, res.name) if sources else None
        if match is None:
            res.origin.locator = ORIGIN_LOCATOR
            res.origin.line = res.origin.column = 1
            continue
        src_file, src_loaded, src_located = match
        res.origin.file = src_file
        res.origin.line = src_located.resource.origin.line
        res.origin.column = src_located.resource.origin.column
        res.origin.doc = src_located.resource.origin.doc
        res.origin.item = src_located.resource.origin.item
        located.node = src_located.node
        located.line_offset = src_located.line_offset
        # each object remembers its own locator (the source file's)
        res.origin.locator = src_loaded.locator




def _kustomize_roots(folder: FsPath, seen: set[FsPath]) -> None:
    """The folder and every local base/component it pulls in, transitively."""
    folder = folder.resolve()
    if folder in seen or not folder.is_dir():
        return
    seen.add(folder)
    for name in KUSTOMIZATION_FILES:
        kfile = folder / name
        if not kfile.is_file():
            continue
        try:
            data = yaml.safe_load(kfile.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return
        if not isinstance(data, dict):
            return
        for key in ("resources", "bases", "components"):
            for entry in data.get(key) or []:
                if isinstance(entry, str) and "://" not in entry and not entry.startswith(
                        ("github.com/", "git@")):
                    _kustomize_roots(folder / entry, seen)
        return


def _source_documents(folder: str) -> dict[tuple[str, str], list[tuple[str, LoadedFile, Any]]]:
    index: dict[tuple[str, str], list[tuple[str, LoadedFile, Any]]] = {}
    roots: set[FsPath] = set()
    _kustomize_roots(FsPath(folder), roots)
    files: set[str] = set()
    for root in sorted(roots):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for f in filenames:
                if f.endswith(MANIFEST_SUFFIXES) and f not in KUSTOMIZATION_FILES \
                        and f != "Chart.yaml":
                    files.add(_display(os.path.join(dirpath, f)))
    for fp in sorted(files):
        try:
            raw = FsPath(fp).read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "{{" in text:  # helm templates are not objects
            continue
        loaded = load_text(fp, text, raw)
        for located in loaded.objects:
            key = (located.resource.kind, located.resource.name)
            index.setdefault(key, []).append((fp, loaded, located))
    return index


def _display(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _match(sources: dict[tuple[str, str], list[tuple[str, LoadedFile, Any]]], kind: str,
           name: str) -> tuple[str, LoadedFile, Any] | None:
    exact = sources.get((kind, name))
    if exact and len(exact) == 1:
        return exact[0]
    candidates = [v[0] for (k, n), v in sources.items()
                  if k == kind and n and n != name and n in name and len(v) == 1]
    if len(candidates) == 1:
        return candidates[0]
    return None
