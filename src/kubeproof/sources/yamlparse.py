"""Safe, fast YAML/JSON parsing that keeps node positions for free.

Why this shape (measured on the full shared corpus of real manifests, 18 MB, 3,428 documents):
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

import math
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kubeproof.sources.scalarlines import scalar_position

MAX_EXPANDED_NODES = 1_000_000
# libyaml's composer recurses in C and crashes the process (SIGSEGV) past
# ~20,000 levels; Kubernetes objects nest a few dozen (CRD schemas ~40).
MAX_DEPTH = 200
# Cheap triggers for the exact depth check below: only text that could nest
# this deep (many brackets, long runs of compact "- - -" / "? " / ": "
# indicators, very deep indentation) pays for a pass over the parser's events.
_BRACKETS = re.compile(r"[\[\]{}]")
_MANY_INDICATORS = re.compile(rf"(?:[-?:][ \t]+){{{MAX_DEPTH // 10}}}")
_DEEP_INDENT = re.compile(rf"^[ \t]{{{MAX_DEPTH}}}", re.M)
# Integers are refused past what the API server's decoder keeps (int64 and
# uint64); their text is checked before Python converts it (its int/str
# conversion is quadratic and refuses more than 4,300 digits).
MAX_INT_TEXT = 40
INT_MIN, INT_MAX = -(2**63), 2**64 - 1

_T = "tag:yaml.org,2002:"
STR, MAP, SEQ = _T + "str", _T + "map", _T + "seq"
INT, FLOAT, BOOL, NULL = _T + "int", _T + "float", _T + "bool", _T + "null"
MERGE, VALUE, TIMESTAMP, BINARY = _T + "merge", _T + "value", _T + "timestamp", _T + "binary"
_STRINGISH = frozenset({STR, VALUE, TIMESTAMP, BINARY})
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False,
          "y": True, "n": False}
# A document marker starts a line; a line may end in "\r" alone (old Mac files).
_DOC_START = re.compile(r"(?:^|(?<=\r))---(?=\s|$)", re.M)


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
    # JSON paths of keys given twice in one mapping (at the later key; the data
    # keeps the later value, as every YAML reader here does)
    duplicate_keys: tuple[tuple[str | int, ...], ...] = ()


def _scalar_value(node: ScalarNode) -> Any:
    tag = node.tag
    if tag in _STRINGISH:
        return node.value
    if tag == BOOL:
        return _BOOLS.get(node.value.lower(), node.value)
    if tag == NULL:
        return None
    if tag in (INT, FLOAT):
        return _number(node, tag)
    raise YamlError(_tag_problem(tag), node.start_mark.line + 1)


def _number(node: ScalarNode, tag: str) -> int | float | str:
    """An int or float scalar, refused (never echoed: it may be a secret) where
    the API server would refuse it: integers out of int64/uint64, infinities and
    NaN (JSON has none), or text that does not match its explicit tag."""
    line = node.start_mark.line + 1
    kind = tag.rsplit(":", 1)[-1]
    if len(node.value) > MAX_INT_TEXT and tag == INT:
        raise YamlError("an integer is out of range (the API server accepts 64 bits)", line)
    try:
        value = (_scalar.construct_yaml_int(node) if tag == INT
                 else _scalar.construct_yaml_float(node))
    except (ValueError, IndexError):  # IndexError: PyYAML on an empty !!int or !!float
        raise YamlError(f"a value does not match its YAML tag !!{kind}", line) from None
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise YamlError("an integer is out of range (the API server accepts 64 bits)", line)
    if isinstance(value, float) and not math.isfinite(value):
        if node.value.lower().lstrip("+-") not in (".inf", ".nan"):
            # Go YAML (the API server's reader) keeps a float that overflows as
            # its text: "1e400" is then a string (a valid quantity, say)
            return node.value
        raise YamlError("a number is infinite or not a number (JSON, and so the API server, "
                        "has neither)", line)
    return value


def _tag_problem(tag: str) -> str:
    """What is wrong with an explicit tag, without its text (``!Sup3rS3cret``
    is as likely a password written unquoted as a tag)."""
    if tag.startswith(_T):
        return "unsupported YAML tag (a !! standard tag kubeproof does not construct)"
    return "unsupported YAML tag (a local or custom ! tag; quote the value if it is text)"


def _key(node: Node, built: Any) -> str:
    """A mapping key as the API server reads it (sigs.k8s.io/yaml turns int,
    float and bool keys into their text and refuses every other kind)."""
    if isinstance(built, str):
        return built
    if isinstance(built, bool):
        return "true" if built else "false"
    if isinstance(built, (int, float)):
        return node.value if isinstance(node, ScalarNode) else str(built)
    what = "null" if built is None else "a " + type(built).__name__.replace("dict", "mapping")\
        .replace("list", "sequence")
    raise YamlError(f"a mapping key must be a string, number or boolean, not {what}",
                    node.start_mark.line + 1)


class _Aliased(Exception):
    """Raised when a document builds more containers than its text could hold."""


def _build(node: Node, budget: list[int], dups: list[Node]) -> Any:
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
            raise YamlError(_tag_problem(node.tag), node.start_mark.line + 1)
        out: dict[Any, Any] = {}
        merges: list[Node] = []
        for k, v in node.value:
            if k.tag == MERGE:
                merges.append(v)
                continue
            key = k.value if k.tag == STR else _key(k, _build(k, budget, dups))
            out[key] = _build(v, budget, dups)
        if len(out) + len(merges) < len(node.value):
            dups.append(node)  # a key given twice: found by path afterwards (rare)
        if merges:
            _merge(out, merges, lambda n: _build(n, budget, dups))
        return out
    if cls is SequenceNode:
        if node.tag not in (SEQ, _T + "set", _T + "omap"):
            raise YamlError(_tag_problem(node.tag), node.start_mark.line + 1)
        return [_build(x, budget, dups) for x in node.value]
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


def _build_shared(node: Node, memo: dict[int, Any], dups: list[Node]) -> Any:
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
            value[_key(k, _build_shared(k, memo, dups))] = _build_shared(v, memo, dups)
        if len(value) + len(merges) < len(node.value):
            dups.append(node)
        if merges:
            _merge(value, merges, lambda n: _build_shared(n, memo, dups))
    elif cls is SequenceNode:
        value = []
        memo[key] = value
        value.extend(_build_shared(x, memo, dups) for x in node.value)
    else:
        raise YamlError("unsupported YAML node", node.start_mark.line + 1)
    memo[key] = value
    return value


def _problem(exc: yaml.YAMLError, chunk: str) -> tuple[str, int]:
    """One line saying what is wrong, and the 1-based line in ``chunk``.

    libyaml's own text has continuation lines (``in "<unicode string>", ...``);
    the reader's errors carry a character position and no line.
    """
    if isinstance(exc, yaml.reader.ReaderError):
        position = max(0, min(int(exc.position), len(chunk)))
        char = exc.character
        code = ord(char) if isinstance(char, str) else int(char)
        return (f"invalid YAML: control character U+{code:04X} is not allowed (quote it as "
                f"an escape in a double-quoted string)", chunk.count("\n", 0, position) + 1)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or "the text is not YAML"
    context = getattr(exc, "context", None)
    text = f"{context}, {problem}" if context and problem and context not in problem else problem
    return f"invalid YAML: {' '.join(str(text).split())}", (mark.line + 1 if mark else 1)


def _brackets_may_nest(chunk: str) -> bool:
    """Whether the running balance of flow brackets passes :data:`MAX_DEPTH`
    (brackets inside strings count too: this only decides whether to count
    exactly)."""
    if chunk.count("[") + chunk.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for m in _BRACKETS.finditer(chunk):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def _too_deep(chunk: str) -> int | None:
    """The line where nesting passes :data:`MAX_DEPTH`, counted from the parser's
    events (brackets and dashes inside strings do not nest), or None.

    libyaml's composer recurses in C and crashes the process far deeper than
    any object nests, so this runs before composing, and only on text that
    could nest this deep at all. A syntax error stops the count: composing
    reports it.
    """
    if (not _brackets_may_nest(chunk) and not _MANY_INDICATORS.search(chunk)
            and not _DEEP_INDENT.search(chunk)):
        return None
    loader = Loader(chunk)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return int(mark.line) + 1 if mark is not None else 1
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None


def parse_yaml(text: str) -> Iterator[Document | YamlError]:
    """Yield every document of a YAML stream, or one error for each broken one.

    The whole stream is parsed in one go while it is well formed. A syntax
    error ends libyaml's stream, so from the first problem on the rest is cut
    at its document markers (``---`` at the start of a line always starts a
    document in YAML) and each part is parsed on its own: every broken
    document gives exactly one error, the loader always moves forward, and the
    work stays linear in the text however many documents are broken.
    """
    resume = yield from _parse_part(text, 0)
    if resume is None:
        return
    line = text.count("\n", 0, resume)
    starts = [resume] + [m.start() for m in _DOC_START.finditer(text, resume + 1)]
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        yield from _parse_part(text[start:end], line)
        line += text.count("\n", start, end)


def _parse_part(chunk: str, offset: int) -> Generator[Document | YamlError, None, int | None]:
    """Parse ``chunk`` (its first line is line ``offset + 1`` of the file).

    Returns None when the chunk was read to its end, else the index in the
    chunk from which the rest must be read one document at a time: the start
    of the first document marker after the error (or the chunk's start when
    nothing of it was read yet).
    """
    deep = _too_deep(chunk)
    if deep is not None:
        if _DOC_START.search(chunk, 1) is not None:
            return 0  # several documents: refuse only the deep one, judging each alone
        yield YamlError(f"refused: nesting deeper than {MAX_DEPTH} levels", deep + offset)
        return None
    loader = Loader(chunk)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            doc = _document(node, chunk, offset)
            yield doc
        return None
    except yaml.YAMLError as exc:
        message, line = _problem(exc, chunk)
        yield YamlError(message, line + offset)
        m = _DOC_START.search(chunk, max(_nth_line_start(chunk, line), 1))
        return None if m is None else m.start()
    finally:
        loader.dispose()


def _document(node: Node, chunk: str, offset: int) -> Document | YamlError:
    """Build one composed document into plain data, or the one error it has."""
    line = node.start_mark.line + offset + 1
    dups: list[Node] = []
    try:
        try:
            data = _build(node, [len(chunk) + 16], dups)
        except _Aliased:
            if _expanded_size(node) > MAX_EXPANDED_NODES:
                return YamlError("refused: alias expansion exceeds "
                                 f"{MAX_EXPANDED_NODES:,} nodes (YAML bomb?)", line)
            dups.clear()
            data = _build_shared(node, {}, dups)
    except YamlError as err:
        err.line = (err.line or 1) + offset
        return err
    except (ValueError, yaml.YAMLError):
        # never echo the value: it may be a secret
        return YamlError("a value does not match its explicit YAML tag", line)
    except RecursionError:
        return YamlError(f"refused: nesting deeper than {MAX_DEPTH} levels", line)
    return Document(data, node, line, node.start_mark.column + 1, offset,
                    _duplicate_key_paths(node, dups) if dups else ())


def _duplicate_key_paths(root: Node, dups: list[Node]) -> tuple[tuple[str | int, ...], ...]:
    """The path of each key given again in a mapping of ``dups`` (each node is
    walked once, aliases included, so the walk is linear in the document)."""
    wanted = {id(n) for n in dups}
    found: list[tuple[str | int, ...]] = []
    seen: set[int] = set()
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            keys: set[str] = set()
            for k, v in node.value:
                if not isinstance(k, ScalarNode) or k.tag == MERGE:
                    continue
                if id(node) in wanted and k.value in keys:
                    found.append((*path, k.value))
                keys.add(k.value)
                stack.append((v, (*path, k.value)))
        elif isinstance(node, SequenceNode):
            stack.extend((v, (*path, i)) for i, v in enumerate(node.value))
    return tuple(sorted(found, key=lambda p: tuple(map(str, p))))


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


def locate(node: Node | None, path: tuple[str | int, ...], line_offset: int = 0,
           value_offset: int | None = None, lines: Sequence[str] | None = None
           ) -> tuple[int, int] | None:
    """Line and column (1-based) of ``path`` in ``node``, or its closest parent.

    With ``value_offset`` and the source ``lines`` (split at ``\\n``), a path
    to a scalar that spans several lines gives the position of that character
    of its value when it is exactly known (:mod:`kubeproof.sources.scalarlines`).
    """
    if node is None:
        return None
    best = node.start_mark
    cur: Node = node
    reached = True
    for seg in path:
        reached = False
        if isinstance(cur, MappingNode):
            # the last occurrence: a key given twice keeps its later value
            for k, v in reversed(cur.value):
                if k.value == seg or (isinstance(seg, str) and str(k.value) == seg):
                    best = k.start_mark
                    cur = v
                    reached = True
                    break
            else:
                break
        elif isinstance(cur, SequenceNode) and isinstance(seg, int):
            if 0 <= seg < len(cur.value):
                cur = cur.value[seg]
                best = cur.start_mark
                reached = True
            else:
                break
        else:
            break
    if reached and value_offset is not None and lines is not None \
            and isinstance(cur, ScalarNode):
        inside = scalar_position(cur, lines, line_offset, value_offset)
        if inside is not None:
            return inside
    return best.line + 1 + line_offset, best.column + 1
