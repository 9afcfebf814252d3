"""Applications: the groups of objects that set rules judge together.

A scan may hold several unrelated applications (a monorepo, a corpus of
repositories). Set rules compare objects with each other (a policy covering a
namespace, a Service selecting pods, a mesh installed), so objects of
different applications must never see each other. An input's application is:

1. with config ``scan.applications`` (glob patterns of folders, relative to the
   working directory, e.g. ``["apps/*", "corpus/*"]``): the folder holding the
   input that the first matching pattern matches (the deepest such folder when
   the pattern matches several);
2. else the command-line argument it came from: a folder argument is one
   application, file arguments are grouped by their folder, stdin is one, and
   a rendered Kustomize folder or Helm chart is its own.

Objects without ``metadata.namespace`` share, within their application, one
unknown namespace (whatever ``kubectl -n`` will say), distinct from every
namespace written down, unless ``--namespace``/``scan.namespace`` names it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase

from kubeproof.core.config import Config
from kubeproof.sources.files import STDIN, LoadOptions, discover

# the defaulting is part of loading (sources); re-exported for the callers of this module
from kubeproof.sources.files import default_namespace as default_namespace
from kubeproof.sources.files import is_namespaced as is_namespaced

RENDERED_INPUTS = frozenset({"kustomize", "helm"})
Input = tuple[str, str]


def _parts(path: str) -> list[str]:
    return [p for p in path.replace(os.sep, "/").split("/") if p not in ("", ".")]


def _matches(pattern: list[str], folder: list[str]) -> bool:
    return len(pattern) == len(folder) and all(
        fnmatchcase(part, pat) for part, pat in zip(folder, pattern, strict=True))


def configured_application(path: str, patterns: Sequence[str], cwd: str) -> str | None:
    """The folder holding ``path`` that a ``scan.applications`` pattern matches
    (first pattern wins, deepest folder within it), or None."""
    absolute = os.path.abspath(path)
    return _configured(absolute if os.path.isdir(absolute) else os.path.dirname(absolute),
                       tuple(patterns), cwd)


@functools.lru_cache(maxsize=4096)  # the files of one folder share the answer
def _configured(here: str, patterns: tuple[str, ...], cwd: str) -> str | None:
    folders = []  # deepest first: the input itself when it is a folder, then its parents
    for _ in range(256):  # bounded: a path has fewer components than this
        folders.append(here)
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    for pattern in patterns:
        wanted = _parts(pattern)
        if not wanted:
            continue
        for folder in folders:
            shown = folder if os.path.isabs(pattern) else os.path.relpath(folder, cwd)
            if shown == os.pardir or shown.startswith(os.pardir + os.sep):
                continue  # outside the working directory: only absolute patterns name it
            if _matches(wanted, _parts(shown)):
                return "app:" + folder
    return None


def application_of(source_input: Input, argument: str, patterns: Sequence[str] = (),
                   cwd: str | None = None) -> str:
    """The application id of an input discovered from command-line ``argument``."""
    kind, path = source_input
    if kind == "stdin" or path == STDIN:
        return "stdin"
    if patterns:
        found = configured_application(path, patterns, cwd or os.getcwd())
        if found is not None:
            return found
    if kind in RENDERED_INPUTS:
        return f"{kind}:{os.path.abspath(path)}"
    absolute = os.path.abspath(argument)
    if os.path.isdir(absolute):
        return "app:" + absolute
    return "app:" + os.path.dirname(absolute)


def discover_applications(paths: Iterable[str], opts: LoadOptions,
                          patterns: Sequence[str] = (),
                          arguments: Mapping[str, str] | None = None
                          ) -> Iterator[tuple[Input, str]]:
    """Every input under ``paths`` (as :func:`discover` finds them) with its
    application; ``arguments``: the command-line argument a path was found
    under, when it is not one itself (``fix`` scans the files it found)."""
    cwd = os.getcwd()
    for path in paths:
        argument = arguments.get(path, path) if arguments else path
        for source_input in discover([path], opts):
            yield source_input, application_of(source_input, argument, patterns, cwd)


def application_patterns(config: Config) -> list[str]:
    """The config's ``scan.applications`` patterns (none: each argument is one)."""
    value = config.scan.get("applications")
    return [p for p in value if isinstance(p, str) and p] if isinstance(value, list) else []


def with_config_namespace(opts: LoadOptions, config: Config) -> LoadOptions:
    """``opts`` with the config's ``scan.namespace`` when no ``--namespace`` was given."""
    configured = config.scan.get("namespace")
    if opts.namespace or not isinstance(configured, str) or not configured:
        return opts
    return dataclasses.replace(opts, namespace=configured)

