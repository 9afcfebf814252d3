"""A small programmatic entry point: load sources and run the engine.

The CLI, the tests and (later) the webhook and audit all go through here, so
every way in produces the same findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from kubeproof.core.applications import (
    application_patterns,
    discover_applications,
    with_config_namespace,
)
from kubeproof.core.config import Config
from kubeproof.core.engine import SCAN_SCOPES, Progress, ScanResult, run_scan, select_rules
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.model import Context, Scope
from kubeproof.sources.files import LoadOptions

if TYPE_CHECKING:
    from kubeproof.images.check import CheckSettings


def scan(
    paths: Iterable[str],
    *,
    config: Config | None = None,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    kube_version: tuple[int, int] = DEFAULT_KUBE_VERSION,
    pss_level: str = "restricted",
    options: LoadOptions | None = None,
    baseline: set[str] | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
    scopes: frozenset[str] = SCAN_SCOPES,
    prepare: Iterable[Callable[[Any, Context], None]] = (),
    check_images: CheckSettings | None = None,
    arguments: Mapping[str, str] | None = None,
) -> ScanResult:
    """Scan ``paths``; ``jobs`` worker processes for large inputs (1: in process;
    0: decided from the input size, see :func:`kubeproof.core.parallel.auto_jobs`).

    ``scopes`` adds rules beyond the default object, cluster and set rules
    (``report`` with vulnerability reports); ``prepare`` steps gather the
    facts those rules read (see ``Context.prepare``). ``check_images`` turns
    on the registry rules and asks the registries (``--check-images``); the
    result then lists each registry's status.
    """
    config = config or Config()
    apply_workload_paths(config)
    steps = list(prepare)
    if check_images is not None:
        from kubeproof.images.check import ImageCheck

        scopes = scopes | {Scope.REGISTRY}
        steps.append(ImageCheck(check_images))
    rules = select_rules(config, select, ignore, scopes)
    ctx = Context(config=config, kube_version=kube_version, pss_level=pss_level, prepare=steps)
    opts = with_config_namespace(options or LoadOptions(), config)
    found = list(discover_applications(list(paths), opts, application_patterns(config),
                                       arguments))
    inputs = [source_input for source_input, _ in found]
    result = run_scan(inputs, opts, ctx, rules, progress=progress, baseline=baseline, jobs=jobs,
                      applications=dict(found))
    if check_images is not None:
        from kubeproof.images.check import image_facts

        facts = image_facts(ctx)
        result.registries = list(facts.registries.values()) if facts is not None else []
    return result


def apply_workload_paths(config: Config) -> None:
    from kubeproof.k8s.workloads import CUSTOM_TEMPLATE_PATHS

    CUSTOM_TEMPLATE_PATHS.clear()
    for kind, dotted in config.pod_template_paths.items():
        CUSTOM_TEMPLATE_PATHS[kind] = tuple(p for p in dotted.split(".") if p)
