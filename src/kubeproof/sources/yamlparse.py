"""Safe, fast YAML/JSON parsing that keeps node positions for free.

Why this shape (measured on ../shared/corpus, 18 MB, 3,428 documents):
``yaml.load_all(CSafeLoader)`` takes 5.1 s, of which 3.0 s is libyaml composing
the node tree in C and 2.1 s is PyYAML's Python constructor. Composing with
libyaml and building plain dicts with the small builder below takes 3.5 s in
all, and the node tree it leaves behind gives every finding its line and column
at no extra parse. So we are faster than the plain-parse floor and still exact.

Safety: only the standard YAML tags are accepted (no object construction);
aliases are shared, never copied, and a document whose alias expansion would
exceed :data:`MAX_EXPANDED_NODES` is refused (billion-laughs); files over a size
limit and binary files are refused by the caller before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_EXPANDED_NODES = 1_000_000
# libyaml's composer recurses in C and crashes the process (SIGSEGV) past
# ~20,000 levels; Kubernetes objects nest a few dozen (CRD schemas ~40).
MAX_DEPTH = 200
_BRACKETS = re.compile(r"[\[\]{}]")
_DEEP_DASHES = re.compile(rf"(?:-[ \t]+){{{MAX_DEPTH}}}")
_DEEP_INDENT = re.compile(rf"^ {{{MAX_DEPTH * 50}}}", re.M)

_T = "tag:yaml.org,2002:"
STR, MAP, SEQ = _T + "str", _T + "map", _T + "seq"
INT, FLOAT, BOOL, NULL = _T + "int", _T + "float", _T + "bool", _T + "null"
MERGE, VALUE, TIMESTAMP, BINARY = _T + "merge", _T + "value", _T + "timestamp", _T + "binary"
_STRINGISH = frozenset({STR, VALUE, TIMESTAMP, BINARY})
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False,
          "y": True, "n": False}
_DOC_START = re.compile(r"^---(?=\s|$)", re.M)


_base_resolve = yaml.resolver.Resolver.resolve
_FIRST_CHARS = frozenset(yaml.resolver.Resolver.yaml_implicit_resolvers)
_RESOLVED: dict[str, str] = {}


class Loader(yaml.CSafeLoader):
    """libyaml's safe loader; we only use its composer and resolver.

    libyaml composes in C but asks the Python resolver for the tag of every
    node (half a million calls on the corpus). Plain scalars whose first
    character starts no implicit type are strings, and the answers for short
    plain scalars (keys, mostly) are cached; path resolvers are unused.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if not implicit[0]:
                return STR
            if value and value[0] not in _FIRST_CHARS:
                return STR
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = _base_resolve(self, kind, value, implicit)
                if len(value) < 64 and len(_RESOLVED) < 100_000:
                    _RESOLVED[value] = tag
            return tag
        return SEQ if kind is SequenceNode else MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


# PyYAML resolves a bare ``=`` to the legacy ``!!value`` tag (yaml/pyyaml#89);
# Go YAML (kubectl) reads it as a string, as we do.
def _construct_str(loader: Loader, node: yaml.Node) -> Any:
    return loader.construct_yaml_str(node)


Loader.add_constructor(VALUE, _construct_str)
_scalar = yaml.SafeLoader("")


class YamlError(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(slots=True)
class Document:
    """One parsed document: the plain data, its node tree and its first line."""

    data: Any
    node: Node | None
    line: int
    column: int
    line_offset: int


def _scalar_value(node: ScalarNode) -> Any:
    tag = node.tag
    if tag in _STRINGISH:
        return node.value
    if tag == BOOL:
        return _BOOLS.get(node.value.lower(), node.value)
    if tag == NULL:
        return None
    if tag in (INT, FLOAT):
        try:
            if tag == INT:
                return _scalar.construct_yaml_int(node)
            return _scalar.construct_yaml_float(node)
        except ValueError:
            # never echo the value: it may be a secret
            raise YamlError(f"a value does not match its YAML tag {tag.rsplit(':', 1)[-1]!r}",
                            node.start_mark.line + 1) from None
    raise YamlError(f"unsupported YAML tag {tag!r}", node.start_mark.line + 1)


class _Aliased(Exception):
    """Raised when a document builds more containers than its text could hold."""


def _build(node: Node, budget: list[int]) -> Any:
    """Plain builder (the fast path): aliases are copied out.

    ``budget`` counts down the containers built. A document without aliases
    cannot hold more containers than it has characters, so running out means
    aliases are multiplying the document: the caller then measures the full
    expansion (refusing YAML bombs) and builds with shared aliases instead.
    """
    cls = node.__class__
    if cls is ScalarNode:
        return node.value if node.tag == STR else _scalar_value(node)  # type: ignore[arg-type]
    budget[0] -= 1
    if budget[0] < 0:
        raise _Aliased
    if cls is MappingNode:
        if node.tag != MAP:
            raise YamlError(f"unsupported YAML tag {node.tag!r}", node.start_mark.line + 1)
        out: dict[Any, Any] = {}
        merges: list[Node] = []
        for k, v in node.value:
            if k.tag == MERGE:
                merges.append(v)
                continue
            key = k.value if k.tag == STR else _build(k, budget)
            if isinstance(key, (dict, list)):
                raise YamlError("a mapping key must be a scalar", k.start_mark.line + 1)
            out[key] = _build(v, budget)
        if merges:
            _merge(out, merges, lambda n: _build(n, budget))
        return out
    if cls is SequenceNode:
        if node.tag not in (SEQ, _T + "set", _T + "omap"):
            raise YamlError(f"unsupported YAML tag {node.tag!r}", node.start_mark.line + 1)
        return [_build(x, budget) for x in node.value]
    raise YamlError("unsupported YAML node", node.start_mark.line + 1)


def _merge(out: dict[Any, Any], merges: list[Node], build: Any) -> None:
    for m in merges:
        sources = [build(x) for x in m.value] if isinstance(m, SequenceNode) else [build(m)]
        for src in sources:
            if not isinstance(src, dict):
                raise YamlError("merge key '<<' needs a mapping", m.start_mark.line + 1)
            for k, v in src.items():
                out.setdefault(k, v)


def _expanded_size(root: Node) -> int:
    """Number of nodes the document would have with every alias copied out.

    A recursive alias (a node containing itself) has no finite expansion and
    counts as over the limit.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if isinstance(node, MappingNode):
            children = [x for kv in node.value for x in kv]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        else:
            sizes[key] = 1
            continue
        if done:
            visiting.discard(key)
            total = 1
            for c in children:
                total += sizes[id(c)]
            sizes[key] = min(total, MAX_EXPANDED_NODES + 1)
            continue
        if key in sizes:
            continue
        if key in visiting:
            return MAX_EXPANDED_NODES + 1  # recursive alias
        visiting.add(key)
        stack.append((node, True))
        for c in children:
            cid = id(c)
            if cid in visiting:
                return MAX_EXPANDED_NODES + 1
            if cid not in sizes:
                stack.append((c, False))
    return sizes.get(id(root), 1)


def _build_shared(node: Node, memo: dict[int, Any]) -> Any:
    """Builder for documents with anchors: each aliased node is built once."""
    key = id(node)
    if key in memo:
        return memo[key]
    cls = node.__class__
    if cls is ScalarNode:
        value = node.value if node.tag == STR else _scalar_value(node)  # type: ignore[arg-type]
    elif cls is MappingNode:
        value = {}
        memo[key] = value
        merges: list[Node] = []
        for k, v in node.value:
            if k.tag == MERGE:
                merges.append(v)
                continue
            kv = _build_shared(k, memo)
            if isinstance(kv, (dict, list)):
                raise YamlError("a mapping key must be a scalar", k.start_mark.line + 1)
            value[kv] = _build_shared(v, memo)
        if merges:
            _merge(value, merges, lambda n: _build_shared(n, memo))
    elif cls is SequenceNode:
        value = []
        memo[key] = value
        value.extend(_build_shared(x, memo) for x in node.value)
    else:
        raise YamlError("unsupported YAML node", node.start_mark.line + 1)
    memo[key] = value
    return value


def _problem(exc: yaml.YAMLError) -> tuple[str, int | None]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"{context}, {problem}" if context and problem and context not in problem else problem
    return f"invalid YAML: {text}", (mark.line + 1 if mark is not None else None)


def _too_deep(text: str) -> int | None:
    """The line where nesting passes :data:`MAX_DEPTH`, checked before libyaml
    sees the text (flow brackets, compact ``- - -`` sequences, indentation)."""
    if text.count("[") + text.count("{") > MAX_DEPTH:
        depth = 0
        for m in _BRACKETS.finditer(text):
            depth += 1 if m.group() in "[{" else -1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, m.start()) + 1
    for pattern in (_DEEP_DASHES, _DEEP_INDENT):
        deep = pattern.search(text) if ("- " * 8 in text or pattern is _DEEP_INDENT) else None
        if deep:
            return text.count("\n", 0, deep.start()) + 1
    return None


def parse_yaml(text: str) -> Iterator[Document | YamlError]:
    """Yield every document of a YAML stream, or an error for each broken one.

    A syntax error ends libyaml's stream, so we restart after the next
    ``---`` marker: the documents after a broken one are still scanned.
    """
    deep = _too_deep(text)
    if deep is not None:
        yield YamlError(f"refused: nesting deeper than {MAX_DEPTH} levels", deep)
        return
    offset = 0  # line offset of the current chunk within the file
    chunk = text
    while True:
        loader = Loader(chunk)
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    continue
                line = node.start_mark.line + offset + 1
                try:
                    try:
                        data = _build(node, [len(chunk) + 16])
                    except _Aliased:
                        if _expanded_size(node) > MAX_EXPANDED_NODES:
                            yield YamlError(
                                "refused: alias expansion exceeds "
                                f"{MAX_EXPANDED_NODES:,} nodes (YAML bomb?)", line)
                            continue
                        data = _build_shared(node, {})
                except YamlError as err:
                    if err.line is not None:
                        err.line += offset
                    yield err
                    continue
                except (ValueError, yaml.YAMLError):
                    # never echo the value: it may be a secret
                    yield YamlError("a value does not match its explicit YAML tag", line)
                    continue
                except RecursionError:
                    yield YamlError(f"refused: nesting deeper than {MAX_DEPTH} levels", line)
                    continue
                yield Document(data, node, line, node.start_mark.column + 1, offset)
            return
        except yaml.YAMLError as exc:
            message, line = _problem(exc)
            err_line = (line or 1) + offset
            yield YamlError(message, err_line)
            # resume at the first document marker after the error
            lines_before = err_line - offset
            pos = _nth_line_start(chunk, lines_before)
            m = _DOC_START.search(chunk, pos)
            if m is None:
                return
            offset += chunk.count("\n", 0, m.start())
            chunk = chunk[m.start():]
        finally:
            loader.dispose()


def _nth_line_start(text: str, n: int) -> int:
    """Index of the start of line ``n`` (1-based) in ``text``."""
    pos = 0
    for _ in range(n - 1):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return pos


def compose_first(text: str) -> Node | None:
    """The node tree of the first document of ``text`` (positions only), or None."""
    loader = Loader(text)
    try:
        return loader.get_node() if loader.check_node() else None
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def compose_positions(text: str) -> list[Node | None]:
    """Node trees of every document, for position lookups only (JSON input)."""
    loader = Loader(text.replace("\t", " "))
    try:
        out: list[Node | None] = []
        while loader.check_node():
            out.append(loader.get_node())
        return out
    except yaml.YAMLError:
        return []
    finally:
        loader.dispose()


def locate(node: Node | None, path: tuple[str | int, ...], line_offset: int = 0
           ) -> tuple[int, int] | None:
    """Line and column (1-based) of ``path`` in ``node``, or its closest parent."""
    if node is None:
        return None
    best = node.start_mark
    cur: Node = node
    for seg in path:
        if isinstance(cur, MappingNode):
            for k, v in cur.value:
                if k.value == seg or (isinstance(seg, str) and str(k.value) == seg):
                    best = k.start_mark
                    cur = v
                    break
            else:
                break
        elif isinstance(cur, SequenceNode) and isinstance(seg, int):
            if 0 <= seg < len(cur.value):
                cur = cur.value[seg]
                best = cur.start_mark
            else:
                break
        else:
            break
    return best.line + 1 + line_offset, best.column + 1
