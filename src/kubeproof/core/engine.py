"""Runs the rules over loaded inputs: the object rules per object, then the
index phase (set, registry and report rules over each application's index).

Order of work per file: parse (sources), run every applicable object rule on
every object, locate each violation (``locate.py``) while the file's node tree
is still alive, then drop the tree. After all files the index phase runs and
its findings are placed by re-reading their inputs (``locate.place``). The
filters (``filters.py``) come last, once every input was checked.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from kubeproof.core.catalogue import PRACTICE_APPLIES, WITHDRAWN_BY_SET, input_error_rule
from kubeproof.core.context import Context
from kubeproof.core.filters import apply_filters
from kubeproof.core.index import Index
from kubeproof.core.locate import NOT_REREADABLE, RENDERED, SetFound, locate, place
from kubeproof.core.result import CheckedObject, ScanResult
from kubeproof.core.suppression import annotation_ignores, ignores, inline_ignored
from kubeproof.model import (
    Admission,
    Finding,
    InputError,
    ObjectRef,
    Origin,
    Resource,
    Rule,
    Scope,
    SetViolation,
    Violation,
    display_path,
    format_path,
    short_message,
)
from kubeproof.sources.files import ORIGIN_LOCATOR, LoadedFile, LoadOptions, Located

PSS_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
# scopes whose rules run once over the index after every object was read
INDEX_SCOPES = frozenset({Scope.SET, Scope.REGISTRY, Scope.REPORT})


@dataclass(frozen=True, slots=True)
class _KindRules:
    rules: list[Rule]
    families: frozenset[str]
    practices: frozenset[int]


class Engine:
    """One run's checking: :meth:`add_file` per input (object rules, index
    records), :meth:`run_set_rules` once after the last, then :meth:`finish`."""

    def __init__(self, ctx: Context, rules: list[Rule], opts: LoadOptions | None = None) -> None:
        self.ctx = ctx
        self.rules = [r for r in rules if r.scope not in INDEX_SCOPES]
        self.set_rules = [r for r in rules if r.scope in INDEX_SCOPES]
        # rules of other scopes with an index half (registry.index_half): run
        # only when a prepare step gathers the facts they read
        self.index_halves = [r for r in rules if r.index_check is not None] \
            if ctx.prepare else []
        self.opts = opts or LoadOptions()
        self.result = ScanResult(rules=rules, pod_templates=ctx.pod_templates)
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
                          indexes={} if self.result.indexes is not None else None,
                          pod_templates=self.ctx.pod_templates)

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
        if self.ctx.pod_templates:  # before anything asks for its pod (res.pod is cached)
            res.templates = self.ctx.pod_templates
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
        ignored = annotation_ignores(res, ctx.config.allow_annotations)
        rendered_from = loaded.path if loaded.source in RENDERED else None
        index = self.index_for(source_input)
        if index is not None:
            node = located.node
            end_line = node.end_mark.line + located.line_offset + 1 if (
                node is not None and origin.item is None and loaded.source == "file") else 0
            index.add(res, ObjectRef(
                source_input, seq, origin.file, origin.line, api_version, kind,
                namespace, name, frozenset(ignored) if ignored else None, end_line))
        warned = len(ctx.warnings)
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
            if violations and ignores(ignored, rule):
                result.suppressed["annotation"] += len(violations)
                continue
            for v in violations:
                self._add_finding(rule, v, origin, located.node, located.line_offset,
                                  loaded.source, rendered_from, api_version, kind,
                                  namespace, name)
        if len(ctx.warnings) > warned:  # a policy's rule that could not judge the object:
            # the warning goes with this object's result (a worker's, a webhook request's)
            result.warnings.extend(ctx.warnings[warned:])
            del ctx.warnings[warned:]

    def _add_finding(self, rule: Rule, v: Violation | SetViolation, origin: Origin,
                     node: Any, line_offset: int, source: str, rendered_from: str | None,
                     api_version: str, kind: str, namespace: str | None, name: str) -> None:
        result = self.result
        line, col, key_line = locate(origin, node, line_offset, v)
        if inline_ignored(origin.locator, line, rule) or (
                key_line != line and inline_ignored(origin.locator, key_line, rule)):
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
        by_input: SetFound = {}
        failed: set[str] = set()
        for index in indexes.values():
            self._run_checks(index, by_input, failed)
        place(by_input, self._kept, self.opts, self._add_finding)
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
                    by_input: SetFound,
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
                if ignores(v.ref.ignores, rule):
                    self.result.suppressed["annotation"] += 1
                    continue
                by_input.setdefault(v.ref.source_input, []).append((rule, v))

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
        """The result after the filters (``filters.py``)."""
        return apply_filters(self.result, self.ctx.config, default_level, today, baseline)


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

    def check(self, obj: dict[str, Any], label: str, source: str = "admission",
              admission: Admission | None = None) -> ScanResult:
        """Run the rules on ``obj``; ``label`` names it where findings name a file;
        ``admission`` is its request (what policies read besides the object)."""
        engine = self._engine.fresh()
        origin = Origin(label, 0, 1, 1, source, ORIGIN_LOCATOR)
        loaded = LoadedFile(path=label, source=source, locator=ORIGIN_LOCATOR)
        loaded.objects.append(Located(Resource(obj, origin, admission=admission), None, 0))
        engine.add_file(loaded, (source, label))
        return engine.finish(self.ctx.pss_level)

    def annotation_ignores(self, obj: dict[str, Any]) -> set[str] | None:
        """The rule codes (or ``*``/``all``) the object's exemption annotation names;
        None when it has none or the config does not honour them."""
        res = Resource(obj, Origin("", 0, 1), templates=self.ctx.pod_templates)
        return annotation_ignores(res, self.ctx.config.allow_annotations)
