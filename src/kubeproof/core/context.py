"""The run's context: the settings every rule may read, and the facts
gathered for the index-phase rules, one per run (``core.run`` builds it).

It sits in the core, above the objects (``model``) and the image facts
(``images``) it holds, so that nothing below the core needs the run's
configuration: the image and vulnerability gatherers take plain values and
the run's prepare steps keep what they return here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeproof.core.config import Config
from kubeproof.images.check import ImageFacts
from kubeproof.images.vulnfacts import VulnFacts
from kubeproof.model import InputError, Path, Resource, Violation, no_templates


@dataclass(slots=True)
class Facts:
    """What the ``Context.prepare`` steps gather for the index-phase rules;
    None: not gathered (a plain scan)."""

    # the registry's answers (``--check-images``: images.check.ImageCheck)
    images: ImageFacts | None = None
    # vulnerability reports (``--vuln-report``, ``--scan-images``: images.vulnfacts)
    vulnerabilities: VulnFacts | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """Settings that rules may read; one per run."""

    config: Config
    kube_version: tuple[int, int]
    pss_level: str = "restricted"
    # Steps run once over the finished index before the index-phase rules (set,
    # registry and report scopes): they gather facts those rules read, such as
    # resolved images (``--check-images``) or vulnerability reports, into ``facts``.
    prepare: list[Callable[[Any, Context], None]] = field(default_factory=list)
    facts: Facts = field(default_factory=Facts)
    # what those steps could not gather (a file that is not a report, a tool
    # missing) and what they warn of: the engine adds both to the result
    errors: list[InputError] = field(default_factory=list)
    warnings: list[InputError] = field(default_factory=list)
    # where the pod template of each custom kind lives (``workloads.podTemplatePaths``)
    pod_templates: Mapping[str, Path] = field(default_factory=no_templates)
    # what a policy's rule may look up besides the object (the namespaces, the
    # param objects): a ``policies.model.Lookup``, filled by the caller from the
    # scanned set or the cluster; None: nothing (``NoLookup``)
    policy_lookup: Any = None


# an object or cluster rule's check
CheckFn = Callable[[Resource, Context], Iterator[Violation]]
