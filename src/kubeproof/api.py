"""A small programmatic entry point: load sources and run the engine.

The CLI's ``scan`` and ``fix`` and the tests go through here; ``audit`` and
the webhook build their runs with the same builder (``core/run.py``), so every
way in produces the same findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from kubeproof.core.applications import (
    application_patterns,
    discover_applications,
    with_config_namespace,
)
from kubeproof.core.config import Config, ConfigError
from kubeproof.core.result import ScanResult
from kubeproof.core.run import SCAN_SCOPES, PrepareStep, Progress, RunSettings, build_run, run_scan
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.model import Rule
from kubeproof.policies.scanned import gather
from kubeproof.sources.files import LoadOptions, forget_rendered

if TYPE_CHECKING:
    from kubeproof.images.check import CheckSettings
    from kubeproof.images.vulnfacts import VulnInputs


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
    prepare: Iterable[PrepareStep] = (),
    check_images: CheckSettings | None = None,
    vulns: VulnInputs | None = None,
    arguments: Mapping[str, str] | None = None,
    extra_rules: Sequence[Rule] | None = None,
    policy_paths: Sequence[str] = (),
) -> ScanResult:
    """Scan ``paths``; ``jobs`` worker processes for large inputs (1: in process;
    0: decided from the input size, see :func:`kubeproof.core.parallel.auto_jobs`).

    ``scopes`` adds rules beyond the default object, cluster and set rules;
    ``prepare`` steps gather the facts those rules read (see
    ``Context.prepare``). ``vulns`` turns on the vulnerability (``report``)
    rules and reads or makes the reports. ``check_images`` turns on the
    registry rules and asks the registries (``--check-images``); the result
    then lists each registry's status.

    ``extra_rules`` are the run's own rules besides the catalogue's
    (``policies.as_rules``); None: the config's custom rules, compiled here
    (raises :class:`ConfigError` with the first one that does not compile).
    ``policy_paths`` (``--policy``) are files and folders of policies judged
    with besides those in the scanned files (``policies.scanned``).
    """
    config = config or Config()
    if extra_rules is None:
        extra_rules = custom_rules_or_raise(config, kube_version)
    opts = with_config_namespace(options or LoadOptions(), config)
    found = list(discover_applications(list(paths), opts, application_patterns(config),
                                       arguments))
    inputs = [source_input for source_input, _ in found]
    try:
        policies = gather(inputs, policy_paths, opts, kube_version,
                          namespaces=bool(extra_rules))
        run = build_run(RunSettings(config, select=list(select), ignore=list(ignore),
                                    kube_version=kube_version, pss_level=pss_level,
                                    scopes=scopes, prepare=list(prepare), vulns=vulns,
                                    check_images=check_images,
                                    extra_rules=[*extra_rules, *policies.rules(config)],
                                    policy_lookup=policies.lookup))
        result = run_scan(inputs, opts, run.ctx, run.rules, progress=progress,
                          baseline=baseline, jobs=jobs, applications=dict(found))
    finally:
        forget_rendered()  # what the policies' pass rendered and the scan did not read
    result.errors.extend(policies.errors)
    result.warnings.extend(policies.warnings)
    return run.add_facts(result)


def custom_rules_or_raise(config: Config, kube_version: tuple[int, int] | None = None
                          ) -> list[Rule]:
    """The config's custom rules as rules of a run; raises :class:`ConfigError`
    (the first error, one line) when one does not compile."""
    if not config.custom_rules:
        return []
    # start-up: CEL (cel-expr-python and the Kubernetes libraries) costs ~30 ms of
    # imports (perf_counter, best of 3); only a config with custom rules needs it
    from kubeproof.policies.custom import custom_rules

    rules, errors = custom_rules(config, kube_version)
    if errors:
        raise ConfigError(str(errors[0]))
    return rules
