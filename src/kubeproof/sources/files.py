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
import json
import math
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Protocol

from kubeproof.k8s.kinds import CLUSTER_SCOPED
from kubeproof.model import InputError, Origin, Resource
from kubeproof.sources.yamlparse import (
    INT_MAX,
    INT_MIN,
    MAX_INT_TEXT,
    Document,
    YamlError,
    compose_positions,
    locate,
    parse_yaml,
)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024
# Documents, and objects (List items count one each), read from one file.
# Memory grows ~4 KiB per object checked (its node tree, findings and index
# entry): 300,000 one-line ConfigMaps in a 13 MiB file took 1.26 GB. The
# largest file of the corpus holds 84 documents; at this limit one file costs
# at most ~110 MiB of RSS (measured: README).
MAX_OBJECTS_PER_FILE = 10_000
STDIN = "-"


@dataclass(slots=True)
class LoadOptions:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    helm_values: tuple[str, ...] = ()
    helm_set: tuple[str, ...] = ()
    render: bool = True
    # the namespace of namespaced objects without one (``scan --namespace``)
    namespace: str | None = None


class Locator(Protocol):
    """What the engine needs of a file to place findings and read inline ignores."""

    has_inline_ignores: bool

    def locate(self, origin: Origin, node: Any, line_offset: int, path: tuple[str | int, ...],
               value_offset: int | None = None) -> tuple[int, int]:
        """Line and column of ``path``; with ``value_offset``, of that character of
        the string value at ``path`` when the source shows exactly where it is."""
        ...

    def line_text(self, line: int) -> str: ...


class OriginLocator:
    """For objects with no source text to search (rendered objects whose source
    document was not found, live cluster objects, inputs that changed while
    scanned): every path is at the object's own origin."""

    has_inline_ignores = False

    def locate(self, origin: Origin, node: Any, line_offset: int, path: tuple[str | int, ...],
               value_offset: int | None = None) -> tuple[int, int]:
        return origin.line, origin.column

    def line_text(self, line: int) -> str:
        return ""


ORIGIN_LOCATOR = OriginLocator()


@dataclass(slots=True)
class FileLocator:
    """Resolves JSON paths of one file's objects to line and column."""

    text: str
    nodes: list[Any] | None = None  # composed lazily for JSON input
    lines: list[str] | None = None
    has_inline_ignores: bool = False
    yaml_lines: list[str] | None = None  # split at "\n", as line offsets count them

    def __post_init__(self) -> None:
        self.has_inline_ignores = "kubeproof:ignore" in self.text

    def locate(self, origin: Origin, node: Any, line_offset: int, path: tuple[str | int, ...],
               value_offset: int | None = None) -> tuple[int, int]:
        if node is None and self.nodes is None:
            self.nodes = compose_positions(self.text)
        if node is None and self.nodes is not None and origin.doc < len(self.nodes):
            root = self.nodes[origin.doc]
            if origin.item is not None:
                root = _item_node(root, origin.item)
            node = root
        if value_offset is not None and self.yaml_lines is None:
            self.yaml_lines = self.text.split("\n")
        found = locate(node, path, line_offset, value_offset, self.yaml_lines)
        return found if found else (origin.line, origin.column)

    def line_text(self, line: int) -> str:
        if self.lines is None:
            self.lines = self.text.splitlines()
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


def _item_node(root: Any, index: int) -> Any:
    from yaml.nodes import MappingNode, SequenceNode

    if isinstance(root, MappingNode):
        for k, v in root.value:
            if k.value == "items" and isinstance(v, SequenceNode) and index < len(v.value):
                return v.value[index]
    return root


@dataclass(slots=True)
class Located:
    """A resource together with the node that locates its fields."""

    resource: Resource
    node: Any
    line_offset: int


@dataclass(slots=True)
class LoadedFile:
    path: str
    objects: list[Located] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    skipped: int = 0
    warnings: list[InputError] = field(default_factory=list)
    locator: Locator | None = None
    source: str = "file"


# ---------------------------------------------------------------- discovery

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


def load_text(path: str, text: str, raw: bytes, source: str = "file",
              force_json: bool | None = None) -> LoadedFile:
    """Parse one file's text into located resources and per-document errors."""
    out = LoadedFile(path=path, source=source)
    out.locator = FileLocator(text)
    is_json = force_json if force_json is not None else path.endswith(".json")
    docs = _parse_json(path, text) if is_json else parse_yaml(text)
    for index, doc in enumerate(docs):
        if index == MAX_OBJECTS_PER_FILE or len(out.objects) >= MAX_OBJECTS_PER_FILE:
            del out.objects[MAX_OBJECTS_PER_FILE:]
            out.errors.append(InputError(
                path, doc.line, f"refused: more than {MAX_OBJECTS_PER_FILE:,} documents or "
                "objects in one file; the rest of the file is not scanned (split it)"))
            break
        if isinstance(doc, YamlError):
            out.errors.append(InputError(path, doc.line, doc.message))
            continue
        _add_document(out, doc, index, source)
    else:
        if len(out.objects) > MAX_OBJECTS_PER_FILE:  # the last document was a long List
            del out.objects[MAX_OBJECTS_PER_FILE:]
            out.errors.append(InputError(
                path, None, f"refused: more than {MAX_OBJECTS_PER_FILE:,} documents or "
                "objects in one file; the rest of the file is not scanned (split it)"))
    if not text.strip():
        if source == "stdin":  # a pipe that delivered nothing: the step before it failed
            out.errors.append(InputError(path, None, "empty input on stdin, nothing to scan"))
        else:
            out.warnings.append(InputError(path, None, "empty file, nothing to scan"))
    return out


class _JsonRefused(ValueError):
    pass


def _json_int(text: str) -> int:
    """JSON integers as the API server's decoder keeps them: 64 bits at most
    (checked on the text first: Python's int parsing is quadratic in digits)."""
    if len(text) > MAX_INT_TEXT or not INT_MIN <= (value := int(text)) <= INT_MAX:
        raise _JsonRefused("an integer is out of range (the API server accepts 64 bits)")
    return value


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonRefused("a number is too large to be finite")
    return value


def _json_constant(name: str) -> Any:
    raise _JsonRefused(f"{name} is not JSON")


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _parse_json(path: str, text: str) -> Iterator[Document | YamlError]:
    try:
        data = json.loads(text, parse_int=_json_int, parse_float=_json_float,
                          parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        yield YamlError(f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)
        return
    except _JsonRefused as exc:
        yield YamlError(f"invalid JSON: {exc}", None)
        return
    except RecursionError:
        yield YamlError("refused: JSON nested too deeply", None)
        return
    surrogate = _LONE_SURROGATE.search(text)
    if surrogate is not None and _has_lone_surrogate(data):
        yield YamlError("invalid JSON: a \\u escape names half of a surrogate pair alone "
                        "(not Unicode)", text.count("\n", 0, surrogate.start()) + 1)
        return
    first = len(text) - len(text.lstrip())
    line = text.count("\n", 0, first) + 1
    yield Document(data, None, line, 1, 0)


def _has_lone_surrogate(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _add_document(out: LoadedFile, doc: Document, index: int, source: str) -> None:
    data = doc.data
    if data is None:
        return
    if not isinstance(data, dict) or not ("apiVersion" in data or "kind" in data):
        out.skipped += 1
        return
    kind = data.get("kind")
    items = data.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        item_nodes = _list_item_nodes(doc.node)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                out.skipped += 1
                continue
            node = item_nodes[i] if item_nodes and i < len(item_nodes) else None
            line, col = ((node.start_mark.line + 1 + doc.line_offset, node.start_mark.column + 1)
                         if node is not None else (doc.line, doc.column))
            origin = Origin(out.path, index, line, col, source, out.locator, item=i)
            dups = tuple(p[2:] for p in doc.duplicate_keys if p[:2] == ("items", i))
            out.objects.append(Located(Resource(item, origin, duplicate_keys=dups), node,
                                       doc.line_offset))
        return
    origin = Origin(out.path, index, doc.line, doc.column, source, out.locator)
    out.objects.append(Located(Resource(data, origin, duplicate_keys=doc.duplicate_keys),
                               doc.node, doc.line_offset))


def _list_item_nodes(node: Any) -> list[Any] | None:
    if node is None:
        return None
    from yaml.nodes import MappingNode, SequenceNode

    if isinstance(node, MappingNode):
        for k, v in node.value:
            if k.value == "items" and isinstance(v, SequenceNode):
                return list(v.value)
    return None


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
        from kubeproof.sources import render

        return render.load_rendered(kind, path, opts)
    data, err = read_bytes(path, opts)
    if err is not None or data is None:
        return LoadedFile(path, errors=[err] if err else [])
    text, err = decode("<stdin>" if path == STDIN else path, data)
    if err is not None or text is None:
        return LoadedFile(path, errors=[err] if err else [])
    if kind == "dockerfile":
        from kubeproof.sources import dockerfile

        return dockerfile.load_dockerfile(path, text)
    if path == STDIN:
        return load_text("<stdin>", text, data, source="stdin",
                         force_json=text.lstrip()[:1] in ("{", "["))
    return load_text(path, text, data)
