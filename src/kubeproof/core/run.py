"""One way to build a run: the context, the selected rules, image checks and
vulnerability facts, as ``scan`` (``api.scan``), ``audit`` and the webhook
need them; each caller states only what differs (:class:`RunSettings`).

Per-run settings live on the run's :class:`Context` (never in a module
global), so two runs in one process (tests, the webhook beside a scan) cannot
see each other's settings: the custom pod-template kinds of the config are
``Context.pod_templates``, which the engine gives every object it reads.

:func:`run_scan` then loads and checks the inputs of a file scan, in this
process or in workers (``parallel.py``), and applies the filters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from kubeproof.core.catalogue import load_rules, resolve_selection, unknown_rule_message
from kubeproof.core.config import Config
from kubeproof.core.context import Context
from kubeproof.core.engine import Engine
from kubeproof.core.parallel import PARALLEL_MIN_INPUTS, auto_jobs, scan_in_workers
from kubeproof.core.result import ScanResult
from kubeproof.images.check import CheckSettings, ImageCheck
from kubeproof.images.indexview import IndexLike
from kubeproof.images.vulnfacts import VulnInputs
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.k8s.workloads import template_paths
from kubeproof.model import Rule, Scope
from kubeproof.sources.files import LoadOptions, load_path
from kubeproof.util.gcpause import gc_paused

# a step that gathers facts over the finished index before the index-phase rules
PrepareStep = Callable[[Any, Context], None]

SCAN_SCOPES = frozenset({Scope.OBJECT, Scope.CLUSTER, Scope.SET})


# the code prefixes of policies' rules (policies.as_rules): ``--select vap`` or
# ``vap/`` names every ValidatingAdmissionPolicy of the run
POLICY_FAMILIES = frozenset({"vap", "vpol", "kyverno"})


class SelectionError(Exception):
    pass


def select_rules(config: Config, select: Iterable[str] = (), ignore: Iterable[str] = (),
                 scopes: frozenset[str] = SCAN_SCOPES, extra: Sequence[Rule] = ()
                 ) -> list[Rule]:
    """The rules of a run: the catalogue's and ``extra`` (the run's own: custom
    rules, policies), as ``select``, ``ignore`` and the config leave them;
    ``extra`` rules are named by code or name like built-in ones."""
    rules = {**load_rules(), **{r.code: r for r in extra}}
    select = [s for s in select if s.strip()]
    chosen = _resolve(select, extra) if select else set(rules)
    chosen -= _resolve(ignore, extra)
    chosen -= config.disabled - config.enabled
    return [rules[c] for c in sorted(chosen) if rules[c].scope in scopes]


def _resolve(tokens: Iterable[str], extra: Sequence[Rule]) -> set[str]:
    """The codes ``tokens`` name (built-in rules, then ``extra`` by code or name);
    raises :class:`SelectionError` for one that names nothing."""
    codes, unknown = resolve_selection(tokens)
    own = {token: r.code for r in extra for token in (r.code, r.name)}
    for token in unknown:
        code = own.get(token)
        family = token.strip().rstrip("/")
        if family in POLICY_FAMILIES:  # every policy of a kind, however many (even none)
            codes.update(r.code for r in extra if r.code.startswith(family + "/"))
        elif code is None:
            raise SelectionError(unknown_rule_message(token))
        else:
            codes.add(code)
    return codes


@dataclass(frozen=True, slots=True)
class ImageStep:
    """The prepare step of ``--check-images``: the registries' answers about the
    set's images, kept as ``ctx.facts.images``."""

    check: ImageCheck
    # tells the engine to keep pull secrets' credentials in the index
    needs_pull_credentials: ClassVar[bool] = True

    def __call__(self, index: IndexLike, ctx: Context) -> None:
        ctx.facts.images = self.check.gather(index, ctx.config.max_registry_latency_ms)


@dataclass(frozen=True, slots=True)
class VulnStep:
    """The prepare step of ``--vuln-report``/``--scan-images``: the reports and
    the accepted IDs, kept as ``ctx.facts.vulnerabilities``."""

    vulns: VulnInputs

    def __call__(self, index: IndexLike, ctx: Context) -> None:
        config = ctx.config
        ctx.facts.vulnerabilities = self.vulns.gather(
            index, config.vuln_ignore, config.path or ".kubeproof.yaml", ctx.errors,
            ctx.warnings)


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What a run is asked for; every field but ``config`` has scan's default."""

    config: Config
    select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    kube_version: tuple[int, int] = DEFAULT_KUBE_VERSION
    pss_level: str = "restricted"
    # rule scopes beyond those the facts below add (``report`` for vulnerabilities
    # and ``registry`` for image checks are added by them)
    scopes: frozenset[str] = SCAN_SCOPES
    # fact steps of the caller's own, run before the vulnerability and image steps
    prepare: Sequence[PrepareStep] = ()
    vulns: VulnInputs | None = None  # --vuln-report / --scan-images: the KP11 rules
    check_images: CheckSettings | None = None  # --check-images: the registry rules
    # the run's own rules besides the catalogue's: custom rules of the config and
    # policies (policies.as_rules), selected, ignored and disabled like built-in ones
    extra_rules: Sequence[Rule] = ()
    # what those rules' policies look up besides the object (namespaces, params):
    # a policies.model.Lookup, kept as Context.policy_lookup
    policy_lookup: Any = None


@dataclass(frozen=True, slots=True)
class Run:
    """A built run: the rules' context and the selected rules."""

    ctx: Context
    rules: list[Rule]

    def with_kube_version(self, version: tuple[int, int]) -> Run:
        """This run for another Kubernetes version (``audit`` learns the server's
        after the rules were selected, so that a bad selection fails first)."""
        return dataclasses.replace(self, ctx=dataclasses.replace(self.ctx, kube_version=version))

    def add_facts(self, result: ScanResult) -> ScanResult:
        """Copy what the fact steps learned that the reports show into ``result``:
        each registry's status when images were checked."""
        if any(isinstance(step, ImageStep) for step in self.ctx.prepare):
            facts = self.ctx.facts.images
            result.registries = list(facts.registries.values()) if facts is not None else []
        return result


def build_run(settings: RunSettings) -> Run:
    """The context and rules of ``settings``; raises :class:`SelectionError`."""
    config = settings.config
    steps = list(settings.prepare)
    scopes = settings.scopes
    vulns = settings.vulns
    if vulns is not None:
        scopes = vulns.scopes(scopes)
        steps.append(VulnStep(vulns))
    if settings.check_images is not None:
        scopes = scopes | {Scope.REGISTRY}
        steps.append(ImageStep(ImageCheck(settings.check_images)))
    rules = select_rules(config, settings.select, settings.ignore, scopes, settings.extra_rules)
    ctx = Context(config=config, kube_version=settings.kube_version,
                  pss_level=settings.pss_level, prepare=steps,
                  pod_templates=template_paths(config.pod_template_paths),
                  policy_lookup=settings.policy_lookup)
    return Run(ctx, rules)


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
        jobs = auto_jobs(inputs)
    engine = Engine(ctx, rules, opts)
    engine.applications = applications or {}
    if progress is not None:
        progress.begin(len(inputs))
    with gc_paused():
        if jobs > 1 and len(inputs) >= PARALLEL_MIN_INPUTS and \
                all(kind != "stdin" for kind, _ in inputs):
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
