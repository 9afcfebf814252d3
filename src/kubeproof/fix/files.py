"""Fix one YAML file's text and change nothing else in it.

Each document that has something to fix (the file is cut at its ``---``
markers) is loaded with ruamel.yaml's round-trip loader, its objects are
fixed in place (:func:`kubeproof.fix.apply.fix_object`) and it is dumped again
with the file's own indentation (detected, not assumed). Even so ruamel
normalizes a few things on the way out (spacing after colons, blank lines,
odd indentation), so its output is never written as is: the edits between
ruamel's dump of the *unfixed* document and its dump of the fixed one are
replayed onto the original text, anchored on the lines the original shares
with the first dump. Everything the fixers did not touch stays byte for
byte, including ``---`` separators, the trailing newline, CRLF line ends and
a byte-order mark. Only when an edit falls where ruamel rewrote the original
beyond recognition is its dump of that document used as a whole.

A fix that ``creates`` an object (KP0707's points a workload at a
ServiceAccount of its own name) has it appended when the fixed files do not
hold it yet: the ones it creates are appended to the workload's file as new
documents (once per namespace and name across the whole run), dumped with the
file's indentation and line ends.

Nothing is lost on the way: a node an ``*alias`` shares is copied before an
edit reaches it (:func:`unshare`), a document rewritten in full keeps its
``---``, and the fixed text is parsed again and compared with the original
(:func:`verify`: same documents in order, selectors unchanged, no key or list
item removed) before it is handed back; a file that fails is an error.
"""

from __future__ import annotations

import copy
import io
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from itertools import pairwise
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.anchor import Anchor
from ruamel.yaml.comments import CommentedBase
from ruamel.yaml.constructor import ConstructorError
from ruamel.yaml.error import YAMLError

from kubeproof.api import scan
from kubeproof.core.catalogue import fixes
from kubeproof.core.fixing import FixSettings
from kubeproof.fix.apply import fix_object
from kubeproof.fix.yamlnumbers import keep_number_text
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.model import CreateFn, Origin, Resource
from kubeproof.sources.yamlparse import Document, YamlError, parse_yaml

if TYPE_CHECKING:
    from kubeproof.core.config import Config


class EditError(Exception):
    """A file ruamel cannot load or dump; the message is one line."""


@dataclass(slots=True)
class ObjectFix:
    line: int  # 1-based line of the object's first key
    kind: str
    name: str
    wanted: list[str]  # codes asked for (the scan's findings on this object)
    applied: list[str]  # codes that changed something


@dataclass(slots=True)
class FixedText:
    text: str
    objects: list[ObjectFix] = field(default_factory=list)
    whole: bool = False  # ruamel's dump replaced a document: its edits could not be placed
    added: list[str] = field(default_factory=list)  # objects appended: "ServiceAccount ns/name"

    @property
    def applied(self) -> Counter[str]:
        """How many objects each code changed."""
        return Counter(code for o in self.objects for code in o.applied)

    @property
    def not_fixed(self) -> list[str]:
        return sorted({c for o in self.objects for c in o.wanted if c not in o.applied})


@dataclass(slots=True)
class ServiceAccounts:
    """The ServiceAccounts of the fixed set by (namespace or "", name): those its
    files hold and those the KP0707 fix added, so that each is added once."""

    known: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def in_text(cls, text: str) -> ServiceAccounts:
        """The ServiceAccounts one YAML text holds (documents and List items)."""
        book = cls()
        for doc in parse_yaml(text):
            data = doc.data if isinstance(doc, Document) else None
            items = data.get("items") if isinstance(data, dict) else None
            for obj in items if isinstance(items, list) else [data]:
                res = Resource(obj, Origin("<fix>", 0, 0)) if isinstance(obj, dict) else None
                if res is not None and res.kind == "ServiceAccount" and res.api_version == "v1":
                    book.known.add((res.namespace or "", res.name))
        return book

    def claim(self, namespace: str | None, name: str) -> bool:
        """Whether the ServiceAccount is to be added (it then counts as there)."""
        key = (namespace or "", name)
        if key in self.known:
            return False
        self.known.add(key)
        return True


@dataclass(slots=True)
class FileFix:
    path: str
    original: str = ""
    fixed: FixedText | None = None  # None: nothing to fix in it
    error: str | None = None  # one line, naming the file


def fix_files(files: list[str], codes: Collection[str], config: Config,
              settings: FixSettings, *, kube_version: tuple[int, int] = DEFAULT_KUBE_VERSION,
              pss_level: str = "restricted", arguments: Mapping[str, str] | None = None,
              ) -> Iterator[FileFix]:
    """Scan ``files`` for the rules ``codes`` and fix, in memory, what each object
    was found to break (the caller writes). Files the scan cannot read or parse
    come back with their error and nothing else. ``arguments``: the folder
    argument each file was found under (its application, as ``scan`` sees it)."""
    if not files or not codes:
        return
    result = scan(files, config=config, select=sorted(codes), kube_version=kube_version,
                  pss_level=pss_level, arguments=arguments)
    broken: dict[str, str] = {}
    for err in result.errors:
        broken.setdefault(err.file, str(err))
    found: dict[str, list[tuple[int, str, str | None]]] = defaultdict(list)
    for f in result.findings:
        found[f.file].append((f.line, f.code, f.container))
    accounts = ServiceAccounts()
    for obj in result.checked:
        if obj.kind == "ServiceAccount" and obj.api_version == "v1":
            accounts.known.add((obj.namespace or "", obj.name))
            if not obj.namespace and settings.namespace \
                    and any(fixes()[c].needs_namespace for c in codes if c in fixes()):
                accounts.known.add((settings.namespace, obj.name))  # a fix sets it
    for path in files:
        if path in broken:
            yield FileFix(path, error=broken[path])
            continue
        hits = found.get(path)
        if not hits:
            yield FileFix(path)
            continue

        def codes_at(first: int, end: int, hits: list[tuple[int, str, str | None]] = hits
                     ) -> dict[str, set[str | None]]:
            found: dict[str, set[str | None]] = defaultdict(set)
            for line, code, container in hits:
                if first <= line < end:
                    found[code].add(container)
            return found

        try:
            text = FsPath(path).read_bytes().decode("utf-8")
            yield FileFix(path, text, fix_text(text, settings, codes_at, accounts))
        except OSError as exc:
            yield FileFix(path, error=f"{path}: cannot read: {exc.strerror or exc}")
        except UnicodeDecodeError:
            yield FileFix(path, error=f"{path}: not valid UTF-8")
        except EditError as exc:
            yield FileFix(path, error=f"{path}: cannot edit: {exc}")
        except Exception as exc:  # a ruamel failure on odd input: one line, go on; its
            # message may quote a value, so only its kind is said
            yield FileFix(path, error=f"{path}: cannot edit: {type(exc).__name__}")


# The fixers to run on the object spanning lines [first, end) (1-based), each
# with the names of the containers it may change (a None among them: all of
# them); None runs every object fixer on every container.
CodesAt = Callable[[int, int], Mapping[str, Collection[str | None]] | None]


def fix_text(text: str, settings: FixSettings, codes_at: CodesAt,
             accounts: ServiceAccounts | None = None) -> FixedText:
    """The fixed text and what changed; ``codes_at`` chooses the fixers per object.

    Each YAML document is loaded, fixed, dumped and replayed on its own, and
    only when some object in it has fixers to run: the cost follows the
    documents that change, not the size of the file (CRD bundles of megabytes
    hold a few workloads). The ServiceAccounts KP0707 points workloads at are
    appended unless ``accounts`` (default: those of ``text``) holds them."""
    newline = "\r\n" if "\r\n" in text else "\n"
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):].replace("\r\n", "\n")
    lines = body.splitlines(keepends=True)
    yaml = _yaml(body)
    result = FixedText(text)
    edits: list[tuple[int, int, str]] = []
    # objects a fix pointed at an object it creates (KP0707), with what creates it
    repointed: list[tuple[MutableMapping[str, Any], FixSettings, CreateFn]] = []
    for lo, hi in _segments(lines):
        wanted = codes_at(lo + 1, hi + 1)
        if wanted is not None and not wanted:
            continue  # no finding anywhere in this document
        segment = "".join(lines[lo:hi])
        try:
            docs = list(yaml.load_all(segment))
            plan = _plan([(line + lo, obj) for line, obj in _objects(docs)], hi + 1, settings,
                         codes_at)
            if not plan:
                continue
            before = _dump(yaml, docs)
            shared = unshare(docs)
            fixed = [ObjectFix(line, str(obj.get("kind", "")), _name(obj), sorted(codes or ()),
                               fix_object(obj, here, codes)) for line, obj, here, codes in plan]
            reshare(shared)
            result.objects += fixed
            if not any(f.applied for f in fixed):
                continue
            repointed += [(obj, here, create) for (_, obj, here, _), done
                          in zip(plan, fixed, strict=True) for create in _creators(done.applied)]
            after = _dump(yaml, docs)
        except YAMLError as exc:
            raise EditError(_problem(exc, lo)) from None
        merged = replay(segment, before, after)
        if merged is None or not _same_data(merged, after):
            result.whole = True
            merged = _keep_marker(segment, after)
        _refuse_if_lost(segment, merged, lo, settings.namespace)
        edits.append((lo, hi, merged))
    if not edits:
        return result
    out = list(lines)
    for lo, hi, merged in reversed(edits):
        out[lo:hi] = [merged]
    joined = "".join(out)
    added: list[MutableMapping[str, Any]] = []
    if repointed:
        book = accounts if accounts is not None else ServiceAccounts.in_text(text)
        added = [a for obj, here, create in repointed
                 for a in _new_account(obj, here, create, book)]
    if added:
        appended = "".join("---\n" + _dump(yaml, [doc]) for doc in added)
        problem = verify("", appended, len(added), settings.namespace)
        if problem is not None:
            raise EditError(f"not written, the appended objects failed verification: {problem}")
        joined += ("" if joined.endswith("\n") or not joined else "\n") + appended
        result.added = [f"ServiceAccount {_where(doc)}" for doc in added]
    result.text = bom + (joined.replace("\n", newline) if newline != "\n" else joined)
    return result


def _refuse_if_lost(segment: str, merged: str, lo: int, namespace: str | None) -> None:
    """Raise EditError when the fixed document ``merged`` would lose data of
    ``segment`` (lines from ``lo``, 0-based): see :func:`verify`. Only edited
    documents are checked (the others are kept byte for byte), so the cost
    follows the edits, not the file; the ``---`` and the final line end that
    keep it apart from its neighbours are checked too."""
    problem = verify(segment, merged, 0, namespace, line_offset=lo)
    if problem is None and bool(_DOC_START.match(segment)) != bool(_DOC_START.match(merged)):
        problem = f"the --- separator at line {lo + 1} was lost"
    if problem is None and segment.endswith("\n") and not merged.endswith("\n"):
        problem = f"the line end of the document at line {lo + 1} was lost"
    if problem is not None:
        raise EditError(f"not written, the fixed text failed verification: {problem}")


def _creators(applied: list[str]) -> list[CreateFn]:
    """What creates the objects the fixes ``applied`` point their object at."""
    known = fixes()
    return [create for c in applied if (create := known[c].creates) is not None]


def _new_account(obj: MutableMapping[str, Any], settings: FixSettings, create: CreateFn,
                 accounts: ServiceAccounts) -> list[MutableMapping[str, Any]]:
    """The ServiceAccount to append for ``obj`` (a fix that creates it changed it), if any."""
    account: MutableMapping[str, Any] | None = create(obj, settings)
    if account is None:
        return []
    meta = account["metadata"]
    return [account] if accounts.claim(meta.get("namespace"), meta["name"]) else []


def _where(obj: MutableMapping[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _same_data(text: str, expected: str) -> bool:
    """Whether ``text`` holds the same data as ``expected`` (ruamel's dump): the
    replayed edit must mean what the fixers did, whatever the layout."""
    got = [d.data if isinstance(d, Document) else d for d in parse_yaml(text)]
    want = [d.data if isinstance(d, Document) else d for d in parse_yaml(expected)]
    return not any(isinstance(d, YamlError) for d in got) and \
        [d for d in got if d is not None] == [d for d in want if d is not None]


_DOC_START = re.compile(r"^---(?=\s|$)")


def _keep_marker(segment: str, dump: str) -> str:
    """ruamel's dump of a whole document, behind the segment's own ``---`` line.

    ruamel prints no ``---`` for a single document; without it a rewritten
    document after the first would merge into the one before it (and that
    object would vanish from the file)."""
    if not _DOC_START.match(segment) or _DOC_START.match(dump):
        return dump
    marker = segment.split("\n", 1)[0].rstrip()
    rest = marker[3:].strip()
    head = marker if not rest or rest.startswith("#") else "---"
    return head + "\n" + dump


def _segments(lines: list[str]) -> list[tuple[int, int]]:
    """The line ranges [lo, hi) of the documents, each from its ``---`` on
    (a ``---`` at column 0 is always a document marker in block YAML)."""
    cuts = [i for i, line in enumerate(lines) if i and _DOC_START.match(line)]
    bounds = [0, *cuts, len(lines)]
    return list(pairwise(bounds))


Plan = list[tuple[int, MutableMapping[str, Any], FixSettings, list[str] | None]]


def _plan(objects: list[tuple[int, MutableMapping[str, Any]]], end: int,
          settings: FixSettings, codes_at: CodesAt) -> Plan:
    """(line, object, settings, codes) of the objects that have fixers to run."""
    out: Plan = []
    for i, (line, obj) in enumerate(objects):
        chosen = codes_at(line, objects[i + 1][0] if i + 1 < len(objects) else end)
        if chosen is not None and not chosen:
            continue
        here = settings if chosen is None else replace(settings, containers={
            code: frozenset(n for n in names if n is not None)
            for code, names in chosen.items() if None not in names})
        out.append((line, obj, here, sorted(chosen) if chosen is not None else None))
    return out


def _objects(docs: list[Any]) -> Iterator[tuple[int, MutableMapping[str, Any]]]:
    """(1-based first line, object) of every object: documents and List items."""
    for doc in docs:
        if not isinstance(doc, MutableMapping):
            continue
        items = doc.get("items")
        if isinstance(doc.get("kind"), str) and doc["kind"].endswith("List") \
                and isinstance(items, list):
            for item in items:
                if isinstance(item, MutableMapping):
                    yield _line(item), item
        else:
            yield _line(doc), doc


def _line(node: Any) -> int:
    lc = getattr(node, "lc", None)
    return (lc.line if lc is not None and lc.line is not None else 0) + 1


def _name(obj: MutableMapping[str, Any]) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, MutableMapping) else None
    return str(name) if name is not None else ""


def _problem(exc: YAMLError, offset: int) -> str:
    """Where and what kind of YAML problem, never the text around it: ruamel
    quotes values and tags (``failed to construct timestamp from "..."``) and
    a value may be a secret."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1 + offset}: " if mark is not None else ""
    if isinstance(exc, ConstructorError):
        return f"{where}a value does not match its YAML tag"
    return f"{where}invalid YAML ({type(exc).__name__})"


# ---------------------------------------------------------------- aliases

# (container, key or index, the shared node, its private copy)
Shared = list[tuple[Any, Any, Any, Any]]


def unshare(docs: list[Any]) -> Shared:
    """Give every place that repeats a node (``*alias`` of an ``&anchor``) a
    private copy of it, so that an edit reaches only the place it was made in.

    With ``labels: &l {...}`` and ``selector: {matchLabels: *l}`` a label added
    to the labels would otherwise change the immutable selector too. The
    copies are returned for :func:`reshare`. Bounded: each node is walked once."""
    seen: set[int] = set()
    shared: Shared = []
    stack: list[Any] = [d for d in docs if isinstance(d, (MutableMapping, list))]
    for doc in stack:
        seen.add(id(doc))
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, MutableMapping) else range(len(node))
        for key in keys:
            child = node[key]
            if not isinstance(child, (MutableMapping, list)):
                continue
            if id(child) in seen:
                private = copy.deepcopy(child)
                _drop_anchors(private)
                node[key] = private
                shared.append((node, key, child, private))
                continue
            seen.add(id(child))
            stack.append(child)
    return shared


def reshare(shared: Shared) -> None:
    """Put the alias back wherever the fixes left both places equal (the file
    keeps its ``*alias``); where they now differ the copy stays, written out."""
    for container, key, node, private in reversed(shared):
        if private == node:
            container[key] = node


def _drop_anchors(node: Any) -> None:
    """Clear the anchors of a copied tree (a second ``&l`` would clash)."""
    stack = [node]
    while stack:
        here = stack.pop()
        if isinstance(here, CommentedBase):
            setattr(here, Anchor.attrib, Anchor())
        if isinstance(here, MutableMapping):
            stack.extend(v for v in here.values() if isinstance(v, (MutableMapping, list)))
        elif isinstance(here, list):
            stack.extend(v for v in here if isinstance(v, (MutableMapping, list)))


# ---------------------------------------------------------------- verification

# Keys whose values select objects: changing them breaks ``kubectl apply``
# (immutable) or silently re-targets a Service, PDB or NetworkPolicy.
_SELECTOR_KEYS = frozenset({"selector", "matchLabels", "matchExpressions", "podSelector",
                            "namespaceSelector", "labelSelector"})
_MAX_WALK = 1_000_000  # nodes visited per document: bounded on any input


def verify(original: str, fixed: str, appended: int, namespace: str | None, *,
           line_offset: int = 0) -> str | None:
    """Why ``fixed`` must not replace ``original``, or None when it may.

    The fixed text must parse, hold the same documents in the same order
    (apiVersion, kind, name; the namespace may only be set where it was
    missing, to ``namespace``), plus ``appended`` new documents at the end,
    and every selector that was there must be unchanged. The message names
    positions and kinds, never values (they may be secrets); ``line_offset``
    is added to the lines it names (a document cut from a longer file)."""
    before = [d for d in parse_yaml(original)]
    after = [d for d in parse_yaml(fixed)]
    broken = next((d for d in after if isinstance(d, YamlError)), None)
    if broken is not None and not any(isinstance(d, YamlError) for d in before):
        return f"it does not parse (line {broken.line + line_offset})" if broken.line \
            else "it does not parse"
    if len(after) != len(before) + appended:
        return f"{len(before)} documents became {len(after) - appended}"
    for index, (old, new) in enumerate(zip(before, after, strict=False), start=1):
        if isinstance(old, YamlError) or isinstance(new, YamlError):
            if type(old) is not type(new):
                return f"document {index} changed from parsed to broken"
            continue
        problem = _same_object(old.data, new.data, namespace)
        if problem is not None:
            return f"document {index} (line {new.line + line_offset}): {problem}"
    return None


def _same_object(old: Any, new: Any, namespace: str | None) -> str | None:
    """What differs in identity or selectors between two versions of a document."""
    if type(old) is not type(new):
        return "its type changed"
    if not isinstance(old, dict):
        return None if old == new else "it changed"
    for key in ("apiVersion", "kind"):
        if old.get(key) != new.get(key):
            return f"its {key} changed"
    old_meta, new_meta = old.get("metadata"), new.get("metadata")
    old_meta = old_meta if isinstance(old_meta, dict) else {}
    new_meta = new_meta if isinstance(new_meta, dict) else {}
    if old_meta.get("name") != new_meta.get("name"):
        return "its metadata.name changed"
    if old_meta.get("namespace") != new_meta.get("namespace") and not (
            old_meta.get("namespace") is None and new_meta.get("namespace") == namespace):
        return "its metadata.namespace changed"
    new_selectors = dict(_selectors(new))
    for path, value in _selectors(old):
        if new_selectors.get(path, _MISSING) != value:
            return f"the selector at {'.'.join(map(str, path))} changed"
    if isinstance(old.get("items"), list) and isinstance(new.get("items"), list) \
            and len(old["items"]) != len(new["items"]):
        return "its items were added or removed"
    return _lost(old, new)


# The one place a fixer removes list items: baseline capabilities a manifest
# adds (KP0817 with --unsafe-fixes).
_SHRINKABLE = ("capabilities", "add")


def _lost(old: Any, new: Any) -> str | None:
    """Where ``new`` lost data ``old`` had: fixers add keys and items and
    change values, they never remove a key, empty a mapping or shorten a list
    (but for :data:`_SHRINKABLE`). Bounded by :data:`_MAX_WALK` nodes."""
    stack: list[tuple[tuple[Any, ...], Any, Any]] = [((), old, new)]
    visited = 0
    while stack and visited < _MAX_WALK:
        path, was, now = stack.pop()
        visited += 1
        where = ".".join(map(str, path)) or "the top"
        if isinstance(was, dict):
            if not isinstance(now, dict):
                return f"the mapping at {where} was replaced"
            gone = next((i for i, key in enumerate(was) if key not in now), None)
            if gone is not None:
                return f"a key (number {gone + 1}) of the mapping at {where} was removed"
            stack.extend(((*path, k), v, now[k]) for k, v in was.items())
        elif isinstance(was, list):
            if not isinstance(now, list):
                return f"the list at {where} was replaced"
            if len(now) < len(was):
                if path[-2:] != _SHRINKABLE:
                    return f"items of the list at {where} were removed"
                continue
            stack.extend(((*path, i), v, now[i]) for i, v in enumerate(was))
    return None


_MISSING = object()


def _selectors(data: Any) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every selector in ``data`` (at any depth, in List items too)."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    visited = 0
    while stack and visited < _MAX_WALK:
        path, here = stack.pop()
        visited += 1
        if isinstance(here, dict):
            for key, value in here.items():
                if key in _SELECTOR_KEYS:
                    yield (*path, key), value
                else:
                    stack.append(((*path, key), value))
        elif isinstance(here, list):
            stack.extend(((*path, i), v) for i, v in enumerate(here))


# ---------------------------------------------------------------- ruamel

def _yaml(text: str) -> YAML:
    yaml = keep_number_text(YAML(typ="rt"))
    yaml.preserve_quotes = True
    yaml.width = 1 << 16  # never fold long lines
    yaml.allow_duplicate_keys = True
    mapping, sequence, offset = detect_indent(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, docs: list[Any]) -> str:
    out = io.StringIO()
    yaml.dump_all(docs, out)
    return out.getvalue()


_KEY_ONLY = re.compile(r"^(\s*)(-\s+)*([^\s#'\"][^#]*?|'[^']*'|\"[^\"]*\"):\s*(#.*)?$")
_DASH = re.compile(r"^(\s*)-(\s+)\S")


def detect_indent(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) most used in ``text``, in
    ruamel's terms: ``containers:`` / ``  - name: x`` is (2, 4, 2) and
    ``containers:`` / ``- name: x`` is (2, 2, 0)."""
    maps: Counter[int] = Counter()
    seqs: Counter[tuple[int, int]] = Counter()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for cur, nxt in pairwise(lines):
        m = _KEY_ONLY.match(cur)
        if m is None or cur.rstrip().endswith(("|", ">", "|-", ">-")):
            continue
        key_col = len(cur) - len(cur.lstrip(" -")) if m.group(2) else len(m.group(1))
        indent = len(nxt) - len(nxt.lstrip(" "))
        dash = _DASH.match(nxt)
        if dash:
            offset = indent - key_col
            if offset >= 0:
                seqs[(offset, offset + 1 + len(dash.group(2)))] += 1
        elif indent > key_col:
            maps[indent - key_col] += 1
    mapping = maps.most_common(1)[0][0] if maps else 2
    offset, sequence = seqs.most_common(1)[0][0] if seqs else (2, 4)
    return mapping, max(sequence, offset + 2), offset


# ---------------------------------------------------------------- replay

def replay(original: str, before: str, after: str) -> str | None:
    """Apply the edits that turn ``before`` into ``after`` to ``original``,
    which ``before`` is a re-rendering of; None when they cannot be placed."""
    orig = original.splitlines(keepends=True)
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    if orig and not orig[-1].endswith("\n"):
        orig[-1] += "\n"  # compare like with like; restored below
    align = _Alignment(old, orig)
    edits: list[tuple[int, int, list[str]]] = []  # (orig start, orig end, new lines)
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        place = align.lines(i1, i2) if i2 > i1 else align.gap(i1)
        if place is None:
            return None
        edits.append((*place, align.reindent(old, orig, i2 - 1 if i2 > i1 else i1 - 1,
                                             new[j1:j2])))
    out = list(orig)
    for start, end, lines in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out[start:end] = lines
    text = "".join(out)
    if not original.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _level(line: str) -> int:
    """The column of a line's content: after the dashes of sequence items."""
    return len(line) - len(line.lstrip(" -"))


def _shift(line: str, delta: int) -> str:
    """``line`` indented ``delta`` columns further (or less, when it can)."""
    if not line.strip() or delta == 0:
        return line
    if delta > 0:
        return " " * delta + line
    return line[-delta:] if _indent(line) >= -delta else line


class _Alignment:
    """Where the lines of ``before`` (ruamel's rendering) are in the original:
    lines it kept or re-indented (mixed indentation), lines it re-spaced one for
    one (``a:   1``: an edit then replaces them with its own rendering), and
    the edges of the blocks it rewrote otherwise, between which new lines can go."""

    def __init__(self, old: list[str], orig: list[str]) -> None:
        self.line: dict[int, int] = {}
        self.edge: dict[int, int] = {}
        # compared without leading and trailing blanks: a block ruamel re-indented
        # still pairs up line by line, in order
        plain_old = [ln.strip() for ln in old]
        plain_orig = [ln.strip() for ln in orig]
        for tag, i1, i2, j1, j2 in SequenceMatcher(None, plain_old, plain_orig,
                                                   autojunk=False).get_opcodes():
            if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
                for k in range(i2 - i1):
                    self.line[i1 + k] = j1 + k
            self.edge.setdefault(i1, j1)
            self.edge.setdefault(i2, j2)

    def lines(self, i1: int, i2: int) -> tuple[int, int] | None:
        """The original lines that ``before`` lines [i1, i2) stand for, if in order."""
        first = self.line.get(i1)
        if first is None or any(self.line.get(i) != first + i - i1 for i in range(i1, i2)):
            return None
        return first, first + i2 - i1

    def reindent(self, old: list[str], orig: list[str], k: int, lines: list[str]) -> list[str]:
        """New ``lines`` following ``before`` line ``k``, each shifted as the
        closest line above it at its level or shallower (new lines first)."""
        placed: list[tuple[int, int]] = []  # (level, shift) of the lines done
        out: list[str] = []
        for line in lines:
            if not line.strip() or line.lstrip().startswith("#"):
                out.append(line)
                continue
            level = _level(line)
            delta = next((d for lv, d in reversed(placed) if lv <= level), None)
            if delta is None:
                delta = self.indent_delta(old, orig, k, level)
            placed.append((level, delta))
            out.append(_shift(line, delta))
        return out

    def indent_delta(self, old: list[str], orig: list[str], k: int, level: int) -> int:
        """How much further the original indents the block that a line at
        ``level`` following ``before`` line ``k`` belongs to (mixed indentation):
        the shift of the closest line above at that level or shallower."""
        for i in range(k, -1, -1):
            j = self.line.get(i)
            text = old[i]
            if j is None or not text.strip() or text.lstrip().startswith("#"):
                continue
            if _level(text) <= level:
                return _level(orig[j]) - _level(text)
        return 0

    def gap(self, i: int) -> tuple[int, int] | None:
        """Where lines inserted before ``before`` line ``i`` go: right after the
        line they follow, else at a block edge, else right before the next line."""
        prev = self.line.get(i - 1) if i > 0 else -1
        if prev is not None:
            return prev + 1, prev + 1
        at = self.edge.get(i, self.line.get(i))
        return (at, at) if at is not None else None
