"""The objects one input yields, and where each came from.

A :class:`LoadedFile` is what reading one input (a file, stdin, a rendered chart
or Kustomize folder, a Dockerfile, a cluster) gives: its objects, each with its
YAML node and a :class:`Locator` that finds a field's line again, and the errors
of that input alone. :func:`load_text` turns manifest text (YAML or JSON) into
one. The readers in this package (``files``, ``render``, ``dockerfile``,
``cluster``) all build on it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from yaml.nodes import MappingNode, SequenceNode

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

def load_text(path: str, text: str, raw: bytes, source: str = "file",
              force_json: bool | None = None, test_files: bool = False) -> LoadedFile:
    """Parse one file's text into located resources and per-document errors;
    the documents of policy tests are skipped unless ``test_files`` (what
    ``kubeproof test`` reads)."""
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
        _add_document(out, doc, index, source, test_files)
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


def _add_document(out: LoadedFile, doc: Document, index: int, source: str,
                  test_files: bool) -> None:
    data = doc.data
    if data is None:
        return
    if not isinstance(data, dict) or not ("apiVersion" in data or "kind" in data) \
            or (not test_files and _policy_test_file(data)):
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


def _policy_test_file(data: dict[str, Any]) -> bool:
    """A document of a policy test (Kyverno's ``cli.kyverno.io`` Test, Value,
    UserInfo, Context; kubeproof's ``kubeproof.dev/v1alpha1`` Test): input of
    ``kubeproof test``, never sent to an API server, so not a manifest."""
    api_version = data.get("apiVersion")
    if not isinstance(api_version, str):
        return False
    return api_version.startswith("cli.kyverno.io/") or (
        api_version == "kubeproof.dev/v1alpha1" and data.get("kind") == "Test")


def _list_item_nodes(node: Any) -> list[Any] | None:
    if node is None:
        return None

    if isinstance(node, MappingNode):
        for k, v in node.value:
            if k.value == "items" and isinstance(v, SequenceNode):
                return list(v.value)
    return None
