"""Keep secret values out of what kubeproof prints about a file's text.

Reports never hold values (rules name keys), but ``kubeproof fix --diff``
prints lines of the user's file as diff context, and a hunk next to a
hard-coded credential or a Secret's ``data`` would show it in a CI log; the
HTML report shows the lines around each finding (:func:`masked_if_parsed`).

Masking is by position, from the parsed structure, never by searching the
text for the values: a search misses values written differently from how they
parse (block and folded scalars, numbers, escapes) and hides every innocent
occurrence of a short password (``mysql`` in image and object names). The
spans masked are exactly those of

- every scalar under a Secret's ``data`` / ``stringData`` (Secrets inside a
  ``kind: List`` too, whatever the scalar's type or style), and
- every provider key's ``secret`` of an ``EncryptionConfiguration`` (the
  keys that encrypt Secrets at rest: aescbc, aesgcm, secretbox), and
- every value KP1003 (hard-coded credential) flags, run on the text itself
  (inline ignores and config do not apply: masking more is the safe side).

Each masked line keeps its indentation and its text before the value; the
value becomes :data:`MASK`. The diff is then for reading, not for ``patch``
(the note printed with it says so).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kubeproof.core.config import Config
from kubeproof.core.context import Context
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.model import NO_TEMPLATES, Origin, Path, Resource
from kubeproof.rules.p10_secrets.manifests import hardcoded_secret
from kubeproof.sources.yamlparse import Document, parse_yaml

# the custom pod-template kinds of the run (``Context.pod_templates``): their
# containers' values are masked as those of the built-in workloads
Templates = Mapping[str, Path]

MASK = "********"
Span = tuple[int, int]


def secret_spans(text: str, templates: Templates = NO_TEMPLATES) -> list[Span]:
    """Character spans (start, end) in ``text`` of every secret value, sorted, disjoint."""
    return _secret_spans(text, templates)[0]


def masked_if_parsed(text: str, templates: Templates = NO_TEMPLATES) -> str | None:
    """``text`` with its secret values masked, or None when a document of it does not
    parse: the values in that document cannot be found, so no line is safe to show."""
    spans, broken = _secret_spans(text, templates)
    return None if broken else mask(text, spans)


def _secret_spans(text: str, templates: Templates) -> tuple[list[Span], bool]:
    """The spans, and whether some document did not parse."""
    spans: list[Span] = []
    broken = False
    for doc in parse_yaml(text):
        if not isinstance(doc, Document):
            broken = True
            continue
        if doc.node is None:
            continue
        base = _line_start(text, doc.line_offset)  # parse_yaml restarts chunks at a line
        for obj, node in _objects(doc.data, doc.node):
            for path in _secret_paths(obj, templates):
                target = _node_at(node, path)
                if target is not None:
                    spans.extend((base + a, base + b) for a, b in _scalar_spans(target))
    return _merged(spans), broken


def mask(text: str, spans: list[Span]) -> str:
    """``text`` with each span's value replaced by :data:`MASK`, line by line:
    newlines and the indentation of continuation lines are kept."""
    out: list[str] = []
    pos = 0
    for start, end in spans:
        out.append(text[pos:start])
        out.append(_mask_segment(text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def masked(text: str, templates: Templates = NO_TEMPLATES) -> tuple[str, bool]:
    """``text`` with its secret values masked, and whether anything was."""
    spans = secret_spans(text, templates)
    return (mask(text, spans), True) if spans else (text, False)


def _mask_segment(segment: str) -> str:
    lines = segment.split("\n")
    for i, line in enumerate(lines):
        body = line.lstrip(" \t")
        if body.strip():
            lines[i] = line[:len(line) - len(body)] + MASK
    return "\n".join(lines)


def _line_start(text: str, lines_before: int) -> int:
    """Index where line ``lines_before + 1`` starts (0 for the first line)."""
    pos = 0
    for _ in range(lines_before):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return pos


def _objects(data: Any, node: Node) -> Iterator[tuple[dict[str, Any], Node]]:
    """The document's object, or the items of a ``kind: List``, with their nodes."""
    if not isinstance(data, dict):
        return
    kind = data.get("kind")
    items = data.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        items_node = _node_at(node, ("items",))
        if isinstance(items_node, SequenceNode):
            for item, item_node in zip(items, items_node.value, strict=False):
                if isinstance(item, dict):
                    yield item, item_node
        return
    yield data, node


def _secret_paths(obj: dict[str, Any], templates: Templates) -> Iterator[Path]:
    """Paths of the values to mask in one object."""
    if obj.get("kind") == "Secret":
        for field in ("data", "stringData"):
            values = obj.get(field)
            if isinstance(values, dict):
                yield from ((field, key) for key in values)
            elif values is not None:
                yield (field,)  # hostile shapes: mask the whole section
    elif obj.get("kind") in ENCRYPTION_KINDS:
        yield from _encryption_key_paths(obj)
    yield from _kp1003_paths(obj, templates)


ENCRYPTION_KINDS = frozenset({"EncryptionConfiguration", "EncryptionConfig"})


def _encryption_key_paths(obj: dict[str, Any]) -> Iterator[Path]:
    """``resources[i].providers[j].<provider>.keys[k].secret`` of an
    EncryptionConfiguration; a ``keys`` of another shape is masked whole."""
    resources = obj.get("resources")
    for i, entry in enumerate(resources if isinstance(resources, list) else []):
        providers = entry.get("providers") if isinstance(entry, dict) else None
        for j, provider in enumerate(providers if isinstance(providers, list) else []):
            if not isinstance(provider, dict):
                continue
            for name, settings in provider.items():
                keys = settings.get("keys") if isinstance(settings, dict) else None
                base: Path = ("resources", i, "providers", j, name, "keys")
                if isinstance(keys, list):
                    yield from ((*base, k, "secret") for k, key in enumerate(keys)
                                if isinstance(key, dict) and "secret" in key)
                elif keys is not None:
                    yield base



def _kp1003_paths(obj: dict[str, Any], templates: Templates) -> Iterator[Path]:
    ctx = Context(config=Config(), kube_version=DEFAULT_KUBE_VERSION)
    res = Resource(obj, Origin("<redact>", 0, 0), templates=templates)  # type: ignore[arg-type]
    for violation in hardcoded_secret(res, ctx):
        yield violation.path


def _node_at(node: Node, path: Path) -> Node | None:
    """The node at ``path`` (keys compared as text, ``<<`` merges followed), or None."""
    cur: Node | None = node
    for seg in path:
        if isinstance(cur, MappingNode):
            cur = _value_of(cur, str(seg))
        elif isinstance(cur, SequenceNode) and isinstance(seg, int) \
                and 0 <= seg < len(cur.value):
            cur = cur.value[seg]
        else:
            return None
        if cur is None:
            return None
    return cur


def _value_of(mapping: MappingNode, key: str) -> Node | None:
    """The value node of ``key``: its own entry first, else the mappings merged in
    with ``<<`` (in order), as the loader builds it. Bounded: each node once."""
    pending: list[MappingNode] = [mapping]
    seen: set[int] = set()
    while pending:
        cur = pending.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        merges: list[MappingNode] = []
        for k, value in cur.value:
            if not isinstance(k, ScalarNode):
                continue
            if k.value == key and k.tag != "tag:yaml.org,2002:merge":
                return value
            if k.tag == "tag:yaml.org,2002:merge" or k.value == "<<":
                items = value.value if isinstance(value, SequenceNode) else [value]
                merges.extend(m for m in items if isinstance(m, MappingNode))
        pending.extend(merges)
    return None


def _scalar_spans(node: Node) -> Iterator[Span]:
    """Spans of every scalar at or under ``node`` (iterative: depth is hostile)."""
    stack = [node]
    seen: set[int] = set()
    while stack:
        cur = stack.pop()
        if id(cur) in seen:  # aliases share nodes
            continue
        seen.add(id(cur))
        if isinstance(cur, ScalarNode):
            yield cur.start_mark.index, cur.end_mark.index
        elif isinstance(cur, MappingNode):
            stack.extend(v for _, v in cur.value)
        elif isinstance(cur, SequenceNode):
            stack.extend(cur.value)


def _merged(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
