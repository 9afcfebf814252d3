"""Runs the rules over loaded files and filters what they find.

Order of work per file: parse (sources), run every applicable object rule on
every object, resolve each violation's JSON path to a line while the file's
node tree is still alive, then drop the tree. After all files: the per-
namespace Pod Security level, config exemptions, inline and annotation
suppressions, and the baseline are applied as filters.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubeproof.core.catalogue import (
    PRACTICE_APPLIES,
    WITHDRAWN_BY_SET,
    input_error_rule,
    load_rules,
    lookup,
    resolve_selection,
    unknown_rule_message,
)
from kubeproof.core.config import Config, Exemption
from kubeproof.core.index import Index
from kubeproof.model import (
    Context,
    Finding,
    InputError,
    ObjectRef,
    Origin,
    PssLevel,
    Resource,
    Rule,
    Scope,
    SetViolation,
    Violation,
    display_path,
    format_path,
    short_message,
)
from kubeproof.sources.files import (
    ORIGIN_LOCATOR,
    FileLocator,
    LoadedFile,
    LoadOptions,
    Located,
    decode,
    load_path,
    read_bytes,
)
from kubeproof.sources.yamlparse import compose_first
from kubeproof.util.gcpause import gc_paused

# inputs that cannot be read a second time to place set-rule findings: kept
NOT_REREADABLE = frozenset({"stdin", "cluster"})
PARALLEL_MIN_INPUTS = 16  # below this, starting workers costs more than it saves

IGNORE_ANNOTATION = "kubeproof.dev/ignore"
IGNORE_REASON_ANNOTATION = "kubeproof.dev/ignore-reason"
PSS_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
_INLINE = re.compile(r"#\s*kubeproof:ignore\b([^#]*)")
_CODE_LIKE = re.compile(r"(?i)KP\d{2,4}")

RENDERED = frozenset({"kustomize", "helm"})


class SelectionError(Exception):
    pass


SCAN_SCOPES = frozenset({Scope.OBJECT, Scope.CLUSTER, Scope.SET})
# scopes whose rules run once over the index after every object was read
INDEX_SCOPES = frozenset({Scope.SET, Scope.REGISTRY, Scope.REPORT})


def select_rules(config: Config, select: Iterable[str] = (), ignore: Iterable[str] = (),
                 scopes: frozenset[str] = SCAN_SCOPES) -> list[Rule]:
    rules = load_rules()
    chosen: set[str]
    select = [s for s in select if s.strip()]
    if select:
        chosen, unknown = resolve_selection(select)
        if unknown:
            raise SelectionError(unknown_rule_message(unknown[0]))
    else:
        chosen = set(rules)
    dropped, unknown = resolve_selection(ignore)
    if unknown:
        raise SelectionError(unknown_rule_message(unknown[0]))
    chosen -= dropped
    chosen -= config.disabled - config.enabled
    return [rules[c] for c in sorted(chosen) if rules[c].scope in scopes]


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    warnings: list[InputError] = field(default_factory=list)
    objects: int = 0
    files: int = 0
    skipped_documents: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    baselined: int = 0
    # the findings the baseline suppressed: accepted risks, which the scorecard counts
    accepted: list[Finding] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    namespaces_pss: dict[str, str] = field(default_factory=dict)
    # every object checked, for reports that list passes too (JUnit):
    # (file, line, apiVersion, kind, namespace, name, rule families that ran)
    checked: list[CheckedObject] = field(default_factory=list)
    # what set rules read, one index per application (applications.py; None
    # when no set rule runs); merged from worker processes
    indexes: dict[str, Index] | None = None
    # with --check-images: each registry's /v2/ answer (images.registry.RegistryStatus)
    registries: list[Any] = field(default_factory=list)
    # practices with nothing to check in the set (registry.PRACTICE_APPLIES)
    not_applicable: set[int] = field(default_factory=set)

    @property
    def index(self) -> Index | None:
        """Every application's index in one (set rules read them apart); None
        when no set rule ran."""
        if self.indexes is None:
            return None
        if len(self.indexes) == 1:
            return next(iter(self.indexes.values()))
        whole = Index(keep_credentials=any(i.keep_credentials for i in self.indexes.values()))
        for index in self.indexes.values():
            whole.merge(index)
        return whole

    def add(self, part: ScanResult) -> None:
        """Add what ``part`` (a worker's files, another saved report) found."""
        self.findings.extend(part.findings)
        self.errors.extend(part.errors)
        self.warnings.extend(part.warnings)
        self.checked.extend(part.checked)
        self.objects += part.objects
        self.files += part.files
        self.skipped_documents += part.skipped_documents
        self.baselined += part.baselined
        self.accepted.extend(part.accepted)
        self.suppressed.update(part.suppressed)
        self.kinds.update(part.kinds)
        self.namespaces_pss.update(part.namespaces_pss)
        self.not_applicable |= part.not_applicable
        known = {r.host for r in self.registries}
        self.registries.extend(r for r in part.registries if r.host not in known)


@dataclass(frozen=True, slots=True)
class CheckedObject:
    """An object the rules ran on, for reports that also list what passed.

    ``families`` are the rule families that ran on it; ``practices`` the
    practices of those rules, leaving out cluster-scope rules (they run on
    every pod but speak only about control-plane components).
    """

    file: str
    line: int
    api_version: str
    kind: str
    namespace: str | None
    name: str
    families: frozenset[str]
    practices: frozenset[int]


@dataclass(frozen=True, slots=True)
class _KindRules:
    rules: list[Rule]
    families: frozenset[str]
    practices: frozenset[int]


class Engine:
    def __init__(self, ctx: Context, rules: list[Rule], opts: LoadOptions | None = None) -> None:
        self.ctx = ctx
        self.rules = [r for r in rules if r.scope not in INDEX_SCOPES]
        self.set_rules = [r for r in rules if r.scope in INDEX_SCOPES]
        # rules of other scopes with an index half (registry.index_half): run
        # only when a prepare step gathers the facts they read
        self.index_halves = [r for r in rules if r.index_check is not None] \
            if ctx.prepare else []
        self.opts = opts or LoadOptions()
        self.result = ScanResult(rules=rules)
        # object rules the set may take findings back from (registry.WITHDRAWN_BY_SET)
        self.withdrawable = [r.code for r in self.rules if r.code in WITHDRAWN_BY_SET]
        self.result.indexes = {} if self.needs_index else None
        # each input's application (applications.py); inputs not listed: ""
        self.applications: dict[tuple[str, str], str] = {}
        # inputs that cannot be read twice (stdin), kept for set-rule locations
        self._kept: dict[tuple[str, str], LoadedFile] = {}
        self._by_kind: dict[tuple[str, bool], _KindRules] = {}

    def fresh(self) -> Engine:
        """A new engine with this one's rules, options and per-kind cache but an
        empty result (with an index only when this one has one): what the webhook
        builds per request, without partitioning the rules again (that was ~3% of
        judging one object)."""
        engine = copy.copy(self)
        engine.result = self.empty_result()
        engine._kept = {}
        return engine

    @property
    def needs_index(self) -> bool:
        return bool(self.set_rules or self.withdrawable or self.index_halves)

    def empty_result(self) -> ScanResult:
        """A result with nothing found yet, with indexes when set rules will read them."""
        return ScanResult(rules=self.result.rules,
                          indexes={} if self.result.indexes is not None else None)

    def index_for(self, source_input: tuple[str, str]) -> Index | None:
        """The index of the application ``source_input`` belongs to (None: no set rule)."""
        indexes = self.result.indexes
        if indexes is None:
            return None
        app = self.applications.get(source_input, "")
        index = indexes.get(app)
        if index is None:
            index = indexes[app] = self.new_index() or Index()
        return index

    def new_index(self) -> Index | None:
        """An empty index when some index-phase check will read it. It keeps pull
        secrets' credentials only for a prepare step that says it reads them
        (``needs_pull_credentials``: the ``--check-images`` step)."""
        if not self.needs_index:
            return None
        return Index(keep_credentials=any(getattr(step, "needs_pull_credentials", False)
                                          for step in self.ctx.prepare))

    def _rules_for(self, res: Resource) -> _KindRules:
        """The rules that apply to objects of this kind (with or without a pod spec)."""
        key = (res.kind, res.pod is not None)
        cached = self._by_kind.get(key)
        if cached is None:
            kind, has_pod = key
            rules = [r for r in self.rules
                     if (r.pods and has_pod)
                     or (r.kinds is not None and kind in r.kinds)
                     or (r.kinds is None and not r.pods)]
            cached = self._by_kind[key] = _KindRules(
                rules, frozenset(r.family for r in rules),
                frozenset(r.practice for r in rules if r.scope != Scope.CLUSTER))
        return cached

    def merge(self, part: ScanResult) -> None:
        """Add what another engine (a worker process) found in its files."""
        r = self.result
        r.add(part)
        if r.indexes is not None and part.indexes is not None:
            for app, index in part.indexes.items():
                if app in r.indexes:
                    r.indexes[app].merge(index)
                else:
                    r.indexes[app] = index

    def add_file(self, loaded: LoadedFile, source_input: tuple[str, str] = ("file", "")
                 ) -> None:
        """Check one loaded input, then drop its node trees (locations are resolved)."""
        result = self.result
        result.files += 1
        result.errors.extend(loaded.errors)
        result.warnings.extend(loaded.warnings)
        result.skipped_documents += loaded.skipped
        for err in loaded.errors:
            self._input_error_finding(loaded, err)
        for seq, located in enumerate(loaded.objects):
            try:
                self._check(located, loaded, source_input, seq)
            except Exception as exc:  # a bug outside the rules (a view, the index)
                origin = located.resource.origin  # loses this object, not the run
                result.errors.append(InputError(
                    origin.file, origin.line, f"internal error checking {located.resource.kind}"
                    f"/{located.resource.name}: {type(exc).__name__} (please report it)"))
        if result.indexes is not None and source_input[0] in NOT_REREADABLE:
            self._kept[source_input] = loaded
        else:
            loaded.objects.clear()
            loaded.locator = None

    def _check(self, located: Located, loaded: LoadedFile, source_input: tuple[str, str],
               seq: int) -> None:
        res = located.resource
        origin = res.origin
        result = self.result
        # the object's identity, read once for its record and every finding
        api_version, kind, namespace, name = res.api_version, res.kind, res.namespace, res.name
        result.objects += 1
        result.kinds[kind] += 1
        if kind == "Namespace":
            labels = res.metadata.get("labels")
            if isinstance(labels, dict) and isinstance(labels.get(PSS_ENFORCE_LABEL), str):
                result.namespaces_pss[name] = labels[PSS_ENFORCE_LABEL]
        applicable = self._rules_for(res)
        result.checked.append(CheckedObject(
            display_path(origin.file), origin.line, api_version, kind, namespace, name,
            applicable.families, applicable.practices))
        ctx = self.ctx
        ignored = self._annotation_ignores(res)
        rendered_from = loaded.path if loaded.source in RENDERED else None
        index = self.index_for(source_input)
        if index is not None:
            node = located.node
            end_line = node.end_mark.line + located.line_offset + 1 if (
                node is not None and origin.item is None and loaded.source == "file") else 0
            index.add(res, ObjectRef(
                source_input, seq, origin.file, origin.line, api_version, kind,
                namespace, name, frozenset(ignored) if ignored else None, end_line))
        for rule in applicable.rules:
            try:
                violations = list(rule.check(res, ctx))
            except Exception as exc:  # a rule bug must not lose the scan
                # the exception's text is not shown: it could hold a value from the object
                result.errors.append(InputError(
                    origin.file, origin.line,
                    f"internal error in rule {rule.code} on {kind}/{name}: "
                    f"{type(exc).__name__} (please report it)"))
                continue
            if violations and _ignores(ignored, rule):
                result.suppressed["annotation"] += len(violations)
                continue
            for v in violations:
                self._add_finding(rule, v, origin, located.node, located.line_offset,
                                  loaded.source, rendered_from, api_version, kind,
                                  namespace, name)

    def _add_finding(self, rule: Rule, v: Violation | SetViolation, origin: Origin,
                     node: Any, line_offset: int, source: str, rendered_from: str | None,
                     api_version: str, kind: str, namespace: str | None, name: str) -> None:
        result = self.result
        line, col = origin.locator.locate(origin, node, line_offset, v.path)
        key_line = line
        if isinstance(v, Violation) and v.value_offset is not None:  # inside a long value
            line, col = origin.locator.locate(origin, node, line_offset, v.path,
                                              value_offset=v.value_offset)
        if self._inline_ignored(origin.locator, line, rule) or (
                key_line != line and self._inline_ignored(origin.locator, key_line, rule)):
            result.suppressed["comment"] += 1
            return
        sev = v.severity if v.severity is not None else rule.severity
        result.findings.append(Finding(
            rule=rule, severity=self.ctx.config.severity.get(rule.code, sev),
            file=origin.file, line=line, column=col, api_version=api_version, kind=kind,
            namespace=namespace, name=name, container=v.container, path=format_path(v.path),
            message=short_message(v.message), source=source, rendered_from=rendered_from))

    # ------------------------------------------------------------ set rules

    def run_set_rules(self) -> None:
        """Run every set rule over each application's index, then find each
        finding's line again by reloading only the inputs that hold an object
        with a finding. Prepare steps gather their facts once, over every
        application (a registry is asked once per image, not per application)."""
        indexes = self.result.indexes
        if indexes is None:
            return
        if not indexes:
            indexes[""] = self.new_index() or Index()
        if self.withdrawable:
            self._withdraw(indexes)
        self._prepare()
        by_input: dict[tuple[str, str], list[tuple[Rule, SetViolation]]] = {}
        failed: set[str] = set()
        for index in indexes.values():
            self._run_checks(index, by_input, failed)
        self._place(by_input)
        self._not_applicable(indexes)

    def _not_applicable(self, indexes: dict[str, Index]) -> None:
        """The practices of the rules that ran with nothing to check in any application."""
        ran = {r.practice for r in self.result.rules}
        for practice, applies in PRACTICE_APPLIES.items():
            if practice not in ran:
                continue
            try:
                if not any(applies(index, self.ctx) for index in indexes.values()):
                    self.result.not_applicable.add(practice)
            except Exception:  # a bug here must not lose the scan: the practice is scored
                continue

    def _withdraw(self, indexes: dict[str, Index]) -> None:
        """Take back the object findings each application's set withdraws."""
        app_of_file: dict[str, str] = {}
        for (kind, path), app in self.applications.items():
            # a rendered input's findings name its kustomization.yaml or Chart.yaml
            app_of_file[f"{kind}:{os.path.normpath(path)}" if kind in RENDERED else
                        "<stdin>" if kind == "stdin" else path] = app
        for code in self.withdrawable:
            withdrawn = {app: WITHDRAWN_BY_SET[code](index) for app, index in indexes.items()}
            kept = []
            for f in self.result.findings:
                if f.rule.code == code:
                    key = f"{f.source}:{os.path.dirname(os.path.normpath(f.rendered_from))}" \
                        if f.rendered_from else f.file
                    test = withdrawn.get(app_of_file.get(key, ""))
                    if test is not None and test(f.namespace, f.kind, f.name):
                        continue
                kept.append(f)
            self.result.findings = kept

    def _prepare(self) -> None:
        whole = self.result.index if self.ctx.prepare else None
        for prepare in self.ctx.prepare if whole is not None else ():
            try:
                prepare(whole, self.ctx)
            except Exception as exc:  # a bug in a fact step must not lose the scan
                self.result.errors.append(InputError(
                    "<set>", None, f"internal error gathering facts for the index rules: "
                    f"{type(exc).__name__} (please report it)"))
        self.result.errors.extend(self.ctx.errors)
        self.result.warnings.extend(self.ctx.warnings)

    def _run_checks(self, index: Index,
                    by_input: dict[tuple[str, str], list[tuple[Rule, SetViolation]]],
                    failed: set[str]) -> None:
        """Run the set and index checks over one application's index; a rule that
        fails is reported once per run (``failed``), not once per application."""
        checks = [(r, r.check) for r in self.set_rules]
        checks += [(r, r.index_check) for r in self.index_halves if r.index_check is not None]
        for rule, check in checks:
            try:
                violations = list(check(index, self.ctx))
            except Exception as exc:  # a rule bug must not lose the scan
                if rule.code not in failed:
                    failed.add(rule.code)
                    self.result.errors.append(InputError(
                        "<set>", None, f"internal error in rule {rule.code}: "
                        f"{type(exc).__name__} (please report it)"))
                continue
            for v in violations:
                if _ignores(v.ref.ignores, rule):
                    self.result.suppressed["annotation"] += 1
                    continue
                by_input.setdefault(v.ref.source_input, []).append((rule, v))

    def _place(self, by_input: dict[tuple[str, str], list[tuple[Rule, SetViolation]]]) -> None:
        for source_input, found in by_input.items():
            if source_input[0] == "file" and all(v.ref.end_line for _, v in found) \
                    and self._place_by_documents(source_input[1], found):
                continue
            loaded = self._kept.get(source_input) or load_path(*source_input, self.opts)
            rendered_from = loaded.path if loaded.source in RENDERED else None
            for rule, v in found:
                ref = v.ref
                if ref.seq < len(loaded.objects):
                    located = loaded.objects[ref.seq]
                    origin, node, offset = (located.resource.origin, located.node,
                                            located.line_offset)
                else:  # the input changed while we scanned: keep its first line
                    origin, node, offset = Origin(ref.file, 0, ref.line), None, 0
                    origin.locator = ORIGIN_LOCATOR
                self._add_finding(rule, v, origin, node, offset, loaded.source, rendered_from,
                                  ref.api_version, ref.kind, ref.namespace, ref.name)

    def _place_by_documents(self, path: str, found: list[tuple[Rule, SetViolation]]) -> bool:
        """Place set-rule findings of a plain YAML file by composing only the
        documents they are about (not the whole file). False: reload instead."""
        data, err = read_bytes(path, self.opts)
        text, err = decode(path, data) if data is not None else (None, err)
        if text is None:
            return False
        locator = FileLocator(text)
        lines = text.splitlines(keepends=True)
        nodes: dict[int, Any] = {}
        for rule, v in found:
            ref = v.ref
            if ref.seq not in nodes:
                nodes[ref.seq] = compose_first("".join(lines[ref.line - 1:ref.end_line]))
            origin = Origin(ref.file, ref.seq, ref.line, 1, "file", locator)
            self._add_finding(rule, v, origin, nodes[ref.seq], ref.line - 1, "file", None,
                              ref.api_version, ref.kind, ref.namespace, ref.name)
        return True

    def _annotation_ignores(self, res: Resource) -> set[str] | None:
        if not self.ctx.config.allow_annotations:
            return None
        tokens: set[str] = set()
        sources: list[Any] = [res.metadata.get("annotations")]
        pod = res.pod
        if pod is not None:
            sources.append(pod.metadata.get("annotations"))
        for ann in sources:
            if isinstance(ann, dict):
                value = ann.get(IGNORE_ANNOTATION)
                if isinstance(value, str):
                    tokens.update(t.strip() for t in value.split(",") if t.strip())
        if not tokens:
            return None
        expanded = set(tokens)
        for t in tokens:
            expanded.update(r.code for r in lookup(t))
        return expanded

    def _inline_ignored(self, locator: Any, line: int, rule: Rule) -> bool:
        if locator is None or not locator.has_inline_ignores:
            return False
        for ln in (line, line - 1):
            text = locator.line_text(ln)
            if ln == line - 1 and not text.lstrip().startswith("#"):
                continue
            m = _INLINE.search(text)
            if not m:
                continue
            words = m.group(1).replace(",", " ").split()
            codes: set[str] = set()
            for w in words:
                found = lookup(w)
                if found:
                    codes.update(r.code for r in found)
                elif _CODE_LIKE.fullmatch(w):
                    codes.add(w.upper())  # a code this version does not know
                else:
                    break  # the rest is the reason
            if not codes or rule.code in codes:
                return True
        return False

    def _input_error_finding(self, loaded: LoadedFile, err: InputError) -> None:
        rule = input_error_rule()
        if rule is None or rule not in self.rules:
            return
        self.result.findings.append(Finding(
            rule=rule, severity=rule.severity, file=err.file, line=err.line or 1, column=1,
            api_version="", kind="", namespace=None, name="", container=None, path="",
            message=err.message, source=loaded.source))

    # ------------------------------------------------------------ filters

    def finish(self, default_level: str, today: dt.date | None = None,
               baseline: set[str] | None = None) -> ScanResult:
        result = self.result
        levels = result.namespaces_pss
        kept: list[Finding] = []
        exemptions = self.ctx.config.exemptions
        today = today or dt.date.today()
        active = [e for e in exemptions if not e.expired(today)]
        for e in exemptions:
            if e.expired(today):
                result.warnings.append(InputError(
                    self.ctx.config.path or ".kubeproof.yaml", e.line,
                    f"exemption expired on {e.expires} and no longer applies: {e.reason}"))
        for f in result.findings:
            pss = f.rule.pss_level
            if pss is not None:
                level = levels.get(f.namespace or "", default_level) if f.namespace \
                    else default_level
                if level == "privileged" or (level == "baseline" and pss == PssLevel.RESTRICTED):
                    continue
            if active and _exempted(active, f):
                result.suppressed["exemption"] += 1
                continue
            if baseline is not None and f.fingerprint() in baseline:
                result.baselined += 1
                result.accepted.append(f)
                continue
            kept.append(f)
        kept.sort(key=lambda f: (f.file, f.line, f.column, f.rule.code))
        result.findings = kept
        return result



class ObjectChecker:
    """Checks one object at a time, without files: the admission webhook's engine.

    Built once (rules selected, per-kind rule lists cached), then :meth:`check`
    per object, from any thread: each call gets its own :class:`Engine` (cheap:
    no index, since set, registry and report rules need more than one object and
    are dropped here) sharing the per-kind cache, whose racing fills are
    harmless. Findings are those of ``scan`` for the same object: the same
    annotation exemptions, config exemptions and Pod Security level.
    """

    def __init__(self, ctx: Context, rules: list[Rule]) -> None:
        self.ctx = ctx
        self.rules = [r for r in rules if r.scope not in INDEX_SCOPES]
        self._engine = Engine(ctx, self.rules)  # copied per object (Engine.fresh)
        self._engine.result.indexes = None  # one object: nothing for the set to withdraw

    def check(self, obj: dict[str, Any], label: str, source: str = "admission") -> ScanResult:
        """Run the rules on ``obj``; ``label`` names it where findings name a file."""
        engine = self._engine.fresh()
        origin = Origin(label, 0, 1, 1, source, ORIGIN_LOCATOR)
        loaded = LoadedFile(path=label, source=source, locator=ORIGIN_LOCATOR)
        loaded.objects.append(Located(Resource(obj, origin), None, 0))
        engine.add_file(loaded, (source, label))
        return engine.finish(self.ctx.pss_level)

    def annotation_ignores(self, obj: dict[str, Any]) -> set[str] | None:
        """The rule codes (or ``*``/``all``) the object's exemption annotation names;
        None when it has none or the config does not honour them."""
        return self._engine._annotation_ignores(Resource(obj, Origin("", 0, 1)))


def _ignores(ignored: set[str] | frozenset[str] | None, rule: Rule) -> bool:
    return ignored is not None and (rule.code in ignored or "*" in ignored or "all" in ignored)




def _exempted(active: list[Exemption], f: Finding) -> bool:
    return any(e.matches(f.rule.code, f.kind, f.namespace, f.name) for e in active)


# ---------------------------------------------------------------- baselines

def write_baseline(path: str, findings: list[Finding]) -> None:
    entries = {
        f.fingerprint(): {
            "code": f.rule.code,
            "object": f"{f.kind}/{f.namespace + '/' if f.namespace else ''}{f.name}",
            "container": f.container,
            "path": f.path,
        }
        for f in findings
    }
    doc = {"kubeproof": "baseline", "version": 1, "findings": dict(sorted(entries.items()))}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")


def read_baseline(path: str) -> set[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read baseline: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: baseline is not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("kubeproof") != "baseline":
        raise ValueError(f"{path}: not a kubeproof baseline (write one with --write-baseline)")
    findings = doc.get("findings")
    if not isinstance(findings, dict):
        raise ValueError(f"{path}: baseline has no 'findings' mapping")
    return set(findings)


class Progress(Protocol):
    """Told how many inputs there are, then once per input done."""

    def begin(self, total: int) -> None: ...

    def advance(self) -> None: ...


def run_scan(inputs: list[tuple[str, str]], opts: LoadOptions, ctx: Context, rules: list[Rule],
             progress: Progress | None = None, baseline: set[str] | None = None,
             jobs: int = 1, applications: dict[tuple[str, str], str] | None = None
             ) -> ScanResult:
    """Load and check every discovered input, then apply the filters.

    Files are independent until the filters, so with ``jobs > 1`` and enough
    inputs they are loaded and checked in worker processes (``parallel.py``);
    ``jobs=0`` lets :func:`kubeproof.core.parallel.auto_jobs` decide from the input size.
    ``applications`` names each input's application (``applications.py``):
    set rules judge each application apart; inputs not listed share one.
    """
    if jobs == 0:
        from kubeproof.core.parallel import auto_jobs

        jobs = auto_jobs(inputs)
    engine = Engine(ctx, rules, opts)
    engine.applications = applications or {}
    if progress is not None:
        progress.begin(len(inputs))
    with gc_paused():
        if jobs > 1 and len(inputs) >= PARALLEL_MIN_INPUTS and \
                all(kind != "stdin" for kind, _ in inputs):
            from kubeproof.core.parallel import scan_in_workers

            for part in scan_in_workers(engine, inputs, opts, jobs):
                engine.merge(part)
                if progress is not None:
                    progress.advance()
        else:
            for source_input in inputs:
                engine.add_file(load_path(*source_input, opts), source_input)
                if progress is not None:
                    progress.advance()
        engine.run_set_rules()
        return engine.finish(ctx.pss_level, baseline=baseline)


def exit_code(result: ScanResult, fail_on: int) -> int:
    """2 for input errors, else 1 when a finding is at or above ``fail_on`` (a
    :class:`Severity`, or one above critical for ``--fail-on none``), else 0."""
    if result.errors:
        return 2
    return 1 if any(f.severity >= fail_on for f in result.findings) else 0
