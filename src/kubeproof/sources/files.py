"""Manifests from files, folders and stdin: one :class:`LoadedFile` per input.

Folders are walked recursively for ``*.yaml``, ``*.yml`` and ``*.json``,
skipping hidden folders and whatever ``.kubeproofignore`` files list
(gitignore-style globs, relative to the folder holding the ignore file). A
folder with a ``kustomization.yaml`` is rendered with ``kubectl kustomize``; a
folder with a ``Chart.yaml`` with ``helm template`` (see ``render.py``).
Dockerfiles met on the walk are handed to the Dockerfile reader.

Every refusal (missing path, binary, too large, not UTF-8, broken YAML, YAML
bomb) is an :class:`InputError` for that file or document only.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path as FsPath

from kubeproof.k8s.kinds import CLUSTER_SCOPED
from kubeproof.model import InputError, Resource
from kubeproof.sources import dockerfile

# what one input yields lives in documents (render, dockerfile and cluster build on
# it); re-exported so that callers import every loading name from here
from kubeproof.sources.documents import DEFAULT_MAX_FILE_BYTES as DEFAULT_MAX_FILE_BYTES
from kubeproof.sources.documents import KUSTOMIZATION_FILES as KUSTOMIZATION_FILES
from kubeproof.sources.documents import MANIFEST_SUFFIXES as MANIFEST_SUFFIXES
from kubeproof.sources.documents import MAX_OBJECTS_PER_FILE as MAX_OBJECTS_PER_FILE
from kubeproof.sources.documents import ORIGIN_LOCATOR as ORIGIN_LOCATOR
from kubeproof.sources.documents import STDIN as STDIN
from kubeproof.sources.documents import FileLocator as FileLocator
from kubeproof.sources.documents import LoadedFile as LoadedFile
from kubeproof.sources.documents import LoadOptions as LoadOptions
from kubeproof.sources.documents import Located as Located
from kubeproof.sources.documents import Locator as Locator
from kubeproof.sources.documents import OriginLocator as OriginLocator
from kubeproof.sources.documents import load_text as load_text


def discover(paths: list[str], opts: LoadOptions) -> Iterator[tuple[str, str]]:
    """Yield (kind, path) pairs: ``file``, ``stdin``, ``kustomize``, ``helm``,
    ``dockerfile`` or ``missing``/``empty-dir`` for errors."""
    for p in paths:
        if p == STDIN:
            yield "stdin", p
            continue
        fp = FsPath(p)
        if fp.is_dir():
            found = False
            for item in _walk_dir(fp, opts):
                found = True
                yield item
            if not found:
                yield "empty-dir", p
        elif fp.is_file():
            yield ("dockerfile" if is_dockerfile(fp.name) else "file"), p
        elif fp.exists():
            yield "not-regular", p
        else:
            yield "missing", p


# ``Dockerfile.<suffix>`` names a variant (Dockerfile.prod, Dockerfile.alpine),
# except for these suffixes, which name documentation, code or data about it.
_NOT_DOCKERFILE_SUFFIXES = frozenset({
    "md", "txt", "rst", "adoc", "html", "go", "py", "js", "ts", "sh", "json", "yaml", "yml",
    "toml", "tmpl", "tpl", "j2", "template", "orig", "bak", "swp", "lock", "sum", "mod",
})


def is_dockerfile(name: str) -> bool:
    low = name.lower()
    if low in ("dockerfile", "containerfile") or low.endswith((".dockerfile", ".containerfile")):
        return True
    if low.startswith(("dockerfile.", "containerfile.")):
        return low.rsplit(".", 1)[1] not in _NOT_DOCKERFILE_SUFFIXES
    return False


def _root_kind(d: FsPath) -> str | None:
    if any((d / k).is_file() for k in KUSTOMIZATION_FILES):
        return "kustomize"
    if (d / "Chart.yaml").is_file():
        return "helm"
    return None


def _walk_dir(root: FsPath, opts: LoadOptions) -> Iterator[tuple[str, str]]:
    kind = _root_kind(root) if opts.render else None
    if kind:
        yield kind, str(root)
        return
    ignores: list[tuple[FsPath, list[str]]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = FsPath(dirpath)
        if ".kubeproofignore" in filenames:
            ignores.append((here, _read_ignore(here / ".kubeproofignore")))
        keep = []
        for d in sorted(dirnames):
            sub = here / d
            if d.startswith(".") or _ignored(sub, ignores, is_dir=True):
                continue
            sub_kind = _root_kind(sub) if opts.render else None
            if sub_kind:
                yield sub_kind, str(sub)
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            fp = here / f
            if f.startswith(".") or _ignored(fp, ignores, is_dir=False):
                continue
            if f.endswith(MANIFEST_SUFFIXES):
                yield _regular("file", fp)
            elif is_dockerfile(f):
                yield _regular("dockerfile", fp)


def _regular(kind: str, path: FsPath) -> tuple[str, str]:
    """A walked file is read only when it is a regular file (through links):
    a FIFO, socket or device named ``*.yaml`` would block the walk or never end."""
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        regular = True  # reading it reports the problem
    return (kind if regular else "not-regular"), str(path)


def _read_ignore(path: FsPath) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _ignored(path: FsPath, ignores: list[tuple[FsPath, list[str]]], *, is_dir: bool) -> bool:
    for base, patterns in ignores:
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            continue
        for pat in patterns:
            dir_only = pat.endswith("/")
            pat = pat.rstrip("/")
            if dir_only and not is_dir:
                # a file inside an ignored dir is skipped when the dir is
                continue
            anchored = pat.startswith("/") or "/" in pat
            pat = pat.lstrip("/")
            if anchored:
                if fnmatch.fnmatch(rel, pat):
                    return True
            elif fnmatch.fnmatch(path.name, pat):
                return True
    return False


# ---------------------------------------------------------------- reading

def read_bytes(path: str, opts: LoadOptions) -> tuple[bytes | None, InputError | None]:
    try:
        if path == STDIN:
            data = sys.stdin.buffer.read(opts.max_file_bytes + 1)
        else:
            # O_NONBLOCK: a FIFO swapped in after the walk cannot block the open
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with open(fd, "rb") as fh:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    return None, InputError(
                        path, None, "not read: not a regular file (a FIFO, socket or device)")
                if info.st_size > opts.max_file_bytes:
                    return None, InputError(path, None, _too_large(info.st_size, opts))
                data = fh.read(opts.max_file_bytes + 1)
    except OSError as exc:
        return None, InputError(path, None, f"cannot read: {exc.strerror or exc}")
    if len(data) > opts.max_file_bytes:
        return None, InputError(path, None, _too_large(len(data), opts))
    return data, None


def _too_large(size: int, opts: LoadOptions) -> str:
    return (f"refused: file is {size / 1048576:.1f} MiB, over the "
            f"{opts.max_file_bytes / 1048576:.0f} MiB limit (--max-file-size)")


def decode(path: str, data: bytes) -> tuple[str | None, InputError | None]:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, InputError(path, None, "refused: binary file (contains NUL bytes)")
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16"), None
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, InputError(
            path, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})")


def is_namespaced(kind: str) -> bool:
    """Whether ``kubectl apply -n`` gives objects of ``kind`` a namespace: every
    kind but the built-in cluster-scoped ones and custom ``Cluster*`` kinds."""
    return bool(kind) and kind not in CLUSTER_SCOPED and not kind.startswith("Cluster")


def default_namespace(resources: Iterable[Resource], namespace: str | None) -> None:
    """Give namespaced objects without ``metadata.namespace`` ``namespace``, as
    ``kubectl apply -n`` does (None or empty: leave them without one)."""
    if not namespace:
        return
    for res in resources:
        meta = res.obj.get("metadata")
        if isinstance(meta, dict) and meta.get("namespace") in (None, "") \
                and is_namespaced(res.kind):
            meta["namespace"] = namespace


# Helm charts and Kustomize folders rendered ahead of the scan that reads them
# (policies.scanned looks for policies in them first): (kind, path) -> (the
# options, the rendered file). The scan's own load takes the rendering instead
# of rendering again; ``forget_rendered`` drops what no load took.
_RENDERED: dict[tuple[str, str], tuple[LoadOptions, LoadedFile]] = {}


def render_ahead(kind: str, path: str, opts: LoadOptions) -> LoadedFile:
    """``load_path`` of a Helm or Kustomize input, kept for the next load of it."""
    loaded = load_path(kind, path, opts)
    _RENDERED[(kind, path)] = (opts, loaded)
    return loaded


def forget_rendered() -> None:
    _RENDERED.clear()


def load_path(kind: str, path: str, opts: LoadOptions) -> LoadedFile:
    """Load one discovered input; never raises for bad input. Objects without a
    namespace get ``opts.namespace`` (as ``kubectl apply -n`` gives them)."""
    loaded = _load_path(kind, path, opts)
    if opts.namespace:
        default_namespace((located.resource for located in loaded.objects), opts.namespace)
    return loaded


def _load_path(kind: str, path: str, opts: LoadOptions) -> LoadedFile:
    if kind == "missing":
        return LoadedFile(path, errors=[InputError(path, None, "no such file or directory")])
    if kind == "not-regular":
        return LoadedFile(path, errors=[InputError(
            path, None, "not read: not a regular file (a FIFO, socket or device)")])
    if kind == "empty-dir":
        return LoadedFile(path, errors=[InputError(
            path, None, "no manifests found (*.yaml, *.yml, *.json) in this directory")])
    if kind in ("kustomize", "helm"):
        ahead = _RENDERED.pop((kind, path), None)
        if ahead is not None and ahead[0] == opts:
            return ahead[1]
        # start-up: the renderers load subprocess, tempfile and Helm's SDK probe (~14 ms
        # of imports after the engine, perf_counter, best of 5); most scans render nothing
        from kubeproof.sources import render

        return render.load_rendered(kind, path, opts)
    data, err = read_bytes(path, opts)
    if err is not None or data is None:
        return LoadedFile(path, errors=[err] if err else [])
    text, err = decode("<stdin>" if path == STDIN else path, data)
    if err is not None or text is None:
        return LoadedFile(path, errors=[err] if err else [])
    if kind == "dockerfile":
        return dockerfile.load_dockerfile(path, text)
    if path == STDIN:
        return load_text("<stdin>", text, data, source="stdin",
                         force_json=text.lstrip()[:1] in ("{", "["))
    return load_text(path, text, data)
