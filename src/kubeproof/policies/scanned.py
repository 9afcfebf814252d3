"""The policies of a scan: those given with ``--policy`` and those in the
scanned set, with what they look up (namespaces, param objects), gathered
before the objects are checked.

Policies are compiled once per run and judged per object as the object rules
run, so they must be known before the first object is checked. A first,
cheap pass over the scanned files finds them: a file is parsed only when its
bytes name a policy kind (``POLICY_MARKER``); only when there are policies
(or custom rules that read ``namespaceObject``) does a second pass parse the
other files that name a Namespace or a ``paramKind`` the policies take.
Most files of a scan hold neither, so the pass reads them and parses nothing
(measured in ``bench/policies_bench.py``).

Helm charts and Kustomize folders are rendered for this pass, once: the
scan's own load takes that rendering (``sources.files.render_ahead``), so
their policies and namespaces count too. Their renderings are held from
this pass until the scan reads them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeproof.core.config import Config
from kubeproof.model import InputError, Rule
from kubeproof.policies.as_rules import policy_rules
from kubeproof.policies.kinds import is_policy_document
from kubeproof.policies.model import Policy, PolicyError, Source
from kubeproof.sources.files import (
    STDIN,
    LoadOptions,
    Located,
    decode,
    discover,
    load_text,
    read_bytes,
    render_ahead,
)
from kubeproof.sources.yamlparse import locate

# starts with the literal: the regex engine then skips to each "kind" (measured:
# 26x faster over the corpus than with an optional quote first)
_KIND = rb"""kind["']?\s*:\s*["']?"""
RENDERED_KINDS = ("helm", "kustomize")
# what the bytes of a file holding a policy or a binding must match (YAML or JSON)
POLICY_MARKER = re.compile(_KIND + rb"(?:ValidatingAdmissionPolicy(?:Binding)?|ValidatingPolicy"
                           rb"|NamespacedValidatingPolicy|ClusterPolicy|Policy)\b")


def kind_marker(kinds: Iterable[str]) -> re.Pattern[bytes]:
    """What the bytes of a file holding an object of one of ``kinds`` must match."""
    names = b"|".join(re.escape(kind.encode()) for kind in sorted(kinds))
    return re.compile(_KIND + rb"(?:" + names + rb")\b")


@dataclass(slots=True)
class SetLookup:
    """The :class:`~kubeproof.policies.model.Lookup` of a scan: the set's
    namespaces and the objects of the kinds the policies take as params."""

    namespaces: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    by_kind: dict[tuple[str, str], list[Mapping[str, Any]]] = field(default_factory=dict)

    def namespace(self, name: str) -> Mapping[str, Any] | None:
        return self.namespaces.get(name)

    def objects(self, api_version: str, kind: str,
                namespace: str | None) -> Iterable[Mapping[str, Any]]:
        for obj in self.by_kind.get((api_version, kind), ()):
            meta = obj.get("metadata")
            ns = meta.get("namespace") if isinstance(meta, dict) else None
            if namespace is None or ns == namespace:
                yield obj

    def add(self, obj: Mapping[str, Any], param_kinds: set[tuple[str, str]]) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if kind == "Namespace" and isinstance(name, str):
            self.namespaces.setdefault(name, obj)
        if isinstance(kind, str) and isinstance(api_version, str) and \
                (api_version, kind) in param_kinds:
            self.by_kind.setdefault((api_version, kind), []).append(obj)


@dataclass(slots=True)
class ScanPolicies:
    """What a scan judges with: the compiled policies, their lookup, and the
    input errors met on the way (bad policies, unreadable ``--policy`` files),
    and a warning per policy that uses what cannot be evaluated offline."""

    policies: list[Policy] = field(default_factory=list)
    lookup: SetLookup = field(default_factory=SetLookup)
    errors: list[InputError] = field(default_factory=list)
    warnings: list[InputError] = field(default_factory=list)

    def rules(self, config: Config) -> list[Rule]:
        """The policies as rules of the run (``policies.as_rules``)."""
        return policy_rules(self.policies, config)


def gather(inputs: Iterable[tuple[str, str]], policy_paths: Iterable[str], opts: LoadOptions,
           kube_version: tuple[int, int] | None, *, namespaces: bool = False) -> ScanPolicies:
    """The policies of ``--policy`` paths and of ``inputs`` (plain files, Helm
    charts and Kustomize folders; not stdin, which is read once); the set's
    namespaces are gathered when there are policies, or when ``namespaces``
    says the run's custom rules read ``namespaceObject``."""
    errors: list[InputError] = []
    given = list(discover(list(policy_paths), opts))
    given_paths = {path for _, path in given}
    files: dict[str, None] = {}  # the plain files, each once, in order
    rendered: list[Located] = []  # the objects of the Helm charts and Kustomize folders
    for kind, path in [*given, *inputs]:
        if path in files:
            continue
        if kind == "file" and path != STDIN:
            files[path] = None
        elif kind in RENDERED_KINDS and path not in given_paths:
            # rendered once: the scan's own load takes this rendering
            rendered.extend(render_ahead(kind, path, opts).objects)
        elif path in given_paths:
            errors.append(InputError(path, None, "no such file or directory" if kind == "missing"
                                     else "--policy takes files and folders of plain YAML or JSON"))
    docs: list[tuple[Mapping[str, Any], Source]] = []
    nodes: dict[tuple[str, int], Located] = {}  # each policy document's node tree
    others: list[Mapping[str, Any]] = []  # the other objects of those files
    parsed: set[str] = set()

    def sort(located: Located) -> None:
        obj, origin = located.resource.obj, located.resource.origin
        if is_policy_document(obj):
            docs.append((obj, Source(origin.file, origin.line)))
            nodes[(origin.file, origin.line)] = located
        else:
            others.append(obj)

    for path, data in _read(files, opts, errors, given_paths):
        if not (b"kyverno.io/" in data or b"admissionregistration.k8s.io/" in data) \
                or not POLICY_MARKER.search(data):
            continue
        parsed.add(path)
        for located in _objects(path, data, errors if path in given_paths else None):
            sort(located)
    for located in rendered:
        if isinstance(located.resource.obj, dict):
            sort(located)
    if not docs and not namespaces:  # most scans: nothing more is parsed, no CEL loaded
        return ScanPolicies(errors=errors)
    compiled = None
    if docs:
        # start-up: the CEL runtime, its Kubernetes libraries and protobuf cost ~70 ms of
        # imports (perf_counter, best of 3); only a scan that meets a policy needs them
        from kubeproof.policies.compile import compile_policies

        compiled = compile_policies(docs, kube_version)
    # the second pass: the namespaces and param objects of the other files
    param_kinds = compiled.param_kinds() if compiled is not None else set()
    lookup = SetLookup()
    for other in others:
        lookup.add(other, param_kinds)
    wanted = kind_marker({"Namespace", *(kind for _, kind in param_kinds)})
    for path, data in _read((f for f in files if f not in parsed), opts, [], set()):
        if wanted.search(data):
            for located in _objects(path, data, None):
                lookup.add(located.resource.obj, param_kinds)
    if compiled is None:
        return ScanPolicies(lookup=lookup, errors=errors)
    errors.extend(input_error(e, nodes) for e in compiled.errors)
    return ScanPolicies(compiled.policies, lookup, errors,
                        [input_error(e) for e in compiled.unsupported])


# the field a policy error is about: "... spec.validations[1].expression: why"
_FIELD = re.compile(r"(?<![\w.])(spec(?:\.[A-Za-z_][\w-]*|\[\d{1,6}\])+):")


def input_error(error: PolicyError, nodes: Mapping[tuple[str, int], Located] | None = None
                ) -> InputError:
    """``error`` as an input error, at the line of the field it names when the
    policy's document was read from a file (else at the document's line)."""
    line = error.source.line or None
    located = nodes.get((error.source.file, error.source.line)) if nodes else None
    m = _FIELD.search(error.message)
    if located is not None and m is not None:
        path = tuple(int(part) if part.isdigit() else part
                     for part in re.findall(r"[A-Za-z_][\w-]*|\d+", m.group(1)))
        found = locate(located.node, path, located.line_offset)
        line = found[0] if found is not None else line
    return InputError(error.source.file, line, error.message)


def _read(files: Iterable[str], opts: LoadOptions, errors: list[InputError],
          given_paths: set[str]) -> Iterator[tuple[str, bytes]]:
    """Each file's bytes, one at a time (a scan's files are never all held);
    a ``--policy`` file that cannot be read is an error, a scanned one is the
    scan's to report."""
    for path in files:
        data, err = read_bytes(path, opts)
        if data is not None:
            yield path, data
        elif err is not None and path in given_paths:
            errors.append(err)


def _objects(path: str, data: bytes, errors: list[InputError] | None) -> Iterator[Located]:
    """The objects of one file with their lines and nodes; its read errors go
    to ``errors`` when given (a ``--policy`` file), else the scan reports them."""
    text, err = decode(path, data)
    if text is None:
        if errors is not None and err is not None:
            errors.append(err)
        return
    loaded = load_text(path, text, data)
    if errors is not None:
        errors.extend(loaded.errors)
    for located in loaded.objects:
        if isinstance(located.resource.obj, dict):
            yield located
