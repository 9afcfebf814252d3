"""``kubeproof fix PATH...``: rewrite manifests so the fixable rules pass.

What gets fixed is what ``scan`` reports: the files are scanned first (with
the same config, exemptions, inline ignores and Kubernetes version), and each
object gets the fixers of the rules that fired on it, nothing else. The
edit itself is :mod:`kubeproof.fix.files` (ruamel round trip replayed onto the
original text, so comments and layout survive).

Fixes are safe or unsafe (:mod:`kubeproof.core.fixing`): only safe ones are applied
unless ``--unsafe-fixes`` is given, and the run says how many unsafe fixes it
left out. ``--check-images`` lets the unsafe fixers read each image's config
(user, exposed ports) from its registry.

Scan and fix rounds repeat until nothing changes (bounded), so a second run
changes nothing. Files are replaced atomically through an exclusively created
temporary file, never through a symbolic link (a linked manifest is skipped
with a note), and only files actually written are counted as fixed.

Only plain YAML files are rewritten: Helm charts and Kustomize folders are
rendered output (fix their templates or bases instead) and JSON files are
skipped with a note, since re-serializing JSON would reformat all of it.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import stat
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from kubeproof.cli.common import config_options, config_or_exit, echo, fail
from kubeproof.cli.image_options import registry_options, registry_settings_or_exit
from kubeproof.core.catalogue import fixes, resolve_selection, unknown_rule_message
from kubeproof.core.config import Config
from kubeproof.core.fixing import FixSettings, runs
from kubeproof.core.inventory import inventory
from kubeproof.fix.files import FixedText, fix_files
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION, parse_kube_version
from kubeproof.reports.redact import Templates, masked
from kubeproof.sources.files import LoadOptions, discover
from kubeproof.util.terminal import safe

if TYPE_CHECKING:
    from kubeproof.images.pin import RegistryImages

_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_RENDERED = {"kustomize": "a Kustomize folder", "helm": "a Helm chart"}
MAX_ROUNDS = 3  # scan-fix rounds per run: a fix can make another rule decidable


def _split(values: tuple[str, ...]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--select", multiple=True,
              help="Only these fixers (rule codes, names, prefixes) [default: all].")
@click.option("--ignore", multiple=True, help="Skip these fixers (codes, names, prefixes).")
@click.option("--diff", "show_diff", is_flag=True,
              help="Print a unified diff and change nothing; exit 1 if something would "
                   "change, 0 if not.")
@click.option("--dry-run", is_flag=True,
              help="Print what would be fixed and change nothing; exit codes as --diff.")
@click.option("--namespace", "-n", default=None,
              help="Namespace for namespaced objects without one (KP0402; off without it).")
@click.option("--kube-version", default=None, help="Target Kubernetes version X.Y.")
@config_options()
@click.option("--pin-digests", is_flag=True,
              help="Pin images to the digest their registry gives their tag (KP0101, "
                   "KP0102), with the registry options below.")
@click.option("--unsafe-fixes", is_flag=True,
              help="Also apply unsafe fixes (they can stop a workload from running: a "
                   "read-only root, runAsNonRoot, dropped capabilities, resources...) and "
                   "override values the manifests state explicitly.")
@click.option("--check-images", is_flag=True,
              help="Read each image's config (user, exposed ports) from its registry so that "
                   "unsafe fixes fit it, with the registry options below.")
@registry_options
def fix(paths: tuple[str, ...], select: tuple[str, ...], ignore: tuple[str, ...],
        show_diff: bool, dry_run: bool, namespace: str | None, kube_version: str | None,
        config_path: str | None, no_config: bool, pin_digests: bool, unsafe_fixes: bool,
        check_images: bool, platform: str, registry_ca: str | None,
        insecure_registries: tuple[str, ...], registry_auth: tuple[str, ...],
        image_cache: str | None) -> None:
    """Fix manifests in place: files and folders of plain YAML.

    Each object gets the fixers of the fixable rules that `scan` reports on
    it (same config, exemptions and inline ignores): safe fixes only, unless
    --unsafe-fixes; comments, key order,
    quoting and indentation of everything else are kept. Helm charts,
    Kustomize folders and JSON files are skipped with a note.

    Exit codes: 0 done (or, with --diff/--dry-run, nothing to change); 1 with
    --diff/--dry-run when something would change; 2 usage error or a file that
    could not be read, parsed or written (the other files are still fixed).
    """
    config = config_or_exit(config_path, no_config)
    if namespace is not None and not _DNS_LABEL.fullmatch(namespace):
        fail(f"--namespace {namespace!r} is not a valid namespace name (lowercase letters, "
              "digits and '-', at most 63)")
    if check_images and not unsafe_fixes:
        echo("kubeproof: warning: --check-images does nothing without --unsafe-fixes "
                   "(only unsafe fixes read the image config)", err=True)
    read_configs = check_images and unsafe_fixes
    # the registry flags serve either option; without both, say they do nothing (once)
    registry = _registry_images(pin_digests, read_configs, platform, registry_ca,
                                insecure_registries, registry_auth, image_cache)
    settings = FixSettings.from_config(
        config, namespace=namespace, unsafe_fixes=unsafe_fixes, override_explicit=unsafe_fixes,
        resolve_digest=registry.digest if registry and pin_digests else None,
        image_info=registry.info if registry and read_configs else None)
    codes = _fixer_codes(_split(select), _split(ignore), config, settings)
    files, errors, arguments = _discover(list(paths))
    pins = pin_digests and any(fixes()[c].needs_registry for c in codes)
    configs = read_configs and any(fixes()[c].reads_images for c in codes)
    if registry is not None and (pins or configs):
        registry.prefetch(inventory(files)[1], unpinned_only=not configs)
        if configs:
            for image, why in registry.failures.items():
                echo(f"kubeproof: warning: {image}: its config could not be read, unsafe "
                     f"fixes go by the manifest alone ({why})", err=True)
        if pins:
            for image, why in registry.unpinned_failures().items():
                echo(f"kubeproof: warning: {image}: not pinned, its digest could not be "
                     f"resolved ({why})", err=True)
    changed, failed, hidden = _run(files, codes, config, settings, kube_version,
                                   write=not (show_diff or dry_run), show_diff=show_diff,
                                   arguments=arguments)
    errors += failed
    if not show_diff:
        verb = "would fix" if dry_run else "fixed"
        echo(f"{verb} {changed} of {len(files)} file{'s' if len(files) != 1 else ''}")
    if hidden:
        echo(f"{hidden} unsafe fix{'es' if hidden != 1 else ''} not applied (they can "
                   "stop a workload from running); review and apply them with --unsafe-fixes",
                   err=show_diff)
    if errors:
        sys.exit(2)
    sys.exit(1 if changed and (show_diff or dry_run) else 0)


def _fixer_codes(select: list[str], ignore: list[str], config: Config,
                 settings: FixSettings) -> set[str]:
    """The fixers to run: --select (else the config's ``scan.select``) minus
    --ignore and ``scan.ignore``, only those that have a fixer, without the ones
    that have nothing to go on (those that need a namespace without --namespace,
    those that ask the registry without a digest resolver, that is without
    --pin-digests)."""
    fixers = fixes()

    wanted = select or [str(t) for t in config.scan.get("select", [])]
    chosen, unknown = resolve_selection(wanted) if wanted else (set(fixers), [])
    dropped, unknown_ignored = resolve_selection(
        [*ignore, *(str(t) for t in config.scan.get("ignore", []))])
    custom = config.custom_codes()  # known, with no fixer: a custom rule is not fixed
    for token in unknown + unknown_ignored:
        if token not in custom:
            fail(unknown_rule_message(token))
    if select and not chosen & set(fixers):
        fail(f"no fixer for {', '.join(select)} (fixable: {', '.join(sorted(fixers))})")
    codes = (chosen & set(fixers)) - dropped
    if not settings.namespace:
        codes -= {c for c in codes if fixers[c].needs_namespace}
    if settings.resolve_digest is None:
        codes -= {c for c in codes if fixers[c].needs_registry}
    return codes


def _hidden(fixed: FixedText, settings: FixSettings) -> list[str]:
    """The codes found on the file's objects whose fixers did not run for being
    unsafe (without ``--unsafe-fixes``), one entry per object."""
    fixers = fixes()
    return sorted(c for o in fixed.objects for c in o.wanted
                  if c in fixers and not runs(fixers[c], settings))


def _registry_images(pin_digests: bool, read_configs: bool, platform: str,
                     registry_ca: str | None, insecure_registries: tuple[str, ...],
                     registry_auth: tuple[str, ...], image_cache: str | None
                     ) -> RegistryImages | None:
    """The registry lookups of ``--pin-digests`` and ``--check-images`` (None without
    either; the registry flags alone are then a warning)."""
    flag = "--pin-digests" if pin_digests or not read_configs else "--check-images"
    checks = registry_settings_or_exit(pin_digests or read_configs, platform, registry_ca,
                                       insecure_registries, registry_auth, image_cache,
                                       flag=flag)
    if checks is None:
        return None
    # start-up: the registry client loads httpx (~100 ms of imports), which a fix
    # without --pin-digests or --check-images never needs
    from kubeproof.images.pin import RegistryImages

    return RegistryImages(checks)


def _discover(paths: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """Plain YAML files to fix, the errors, and the argument each file was found
    under (its application for the set rules); notes for what is skipped."""
    files: list[str] = []
    errors: list[str] = []
    arguments: dict[str, str] = {}
    for argument, (kind, path) in ((p, found) for p in paths
                                   for found in discover([p], LoadOptions())):
        arguments.setdefault(path, argument)
        if kind == "file" and os.path.islink(path):
            echo(f"{path}: note: skipped, it is a symbolic link and fix never writes "
                       "through one (fix the file it points to)", err=True)
        elif kind == "file" and path.endswith((".yaml", ".yml")):
            files.append(path)
        elif kind == "file":
            echo(f"{path}: note: skipped, fix rewrites YAML files only (not JSON)",
                       err=True)
        elif kind in _RENDERED:
            echo(f"{path}: note: skipped, {_RENDERED[kind]} is rendered output; "
                       "fix its templates or bases", err=True)
        elif kind == "stdin":
            errors.append(f"{path}: fix edits files in place and cannot read stdin")
        elif kind == "missing":
            errors.append(f"{path}: no such file or directory")
        elif kind == "not-regular":
            errors.append(f"{path}: not read: not a regular file (a FIFO, socket or device)")
        elif kind == "empty-dir":
            errors.append(f"{path}: no manifests found (*.yaml, *.yml) in this directory")
    for err in errors:
        echo(err, err=True)
    return files, errors, arguments


def _run(files: list[str], codes: set[str], config: Config, settings: FixSettings,
         kube_version: str | None, *, write: bool, show_diff: bool,
         arguments: dict[str, str] | None = None) -> tuple[int, list[str], int]:
    """Fix, print and (when ``write``) save every file: (files changed, errors,
    unsafe fixes left out).

    When writing, scan and fix rounds repeat until nothing changes (at most
    MAX_ROUNDS): a fix can make a rule decidable that was not before (KP0708
    once KP0402 set the namespaces), and a second ``fix`` run must change
    nothing. --diff and --dry-run show the first round."""
    wanted = kube_version or str(config.scan.get("kubeVersion") or "")
    try:
        version = parse_kube_version(wanted) if wanted else DEFAULT_KUBE_VERSION
    except ValueError as exc:
        fail(str(exc))
    level = str(config.scan.get("pssLevel", "restricted"))
    scan = _Scan(codes, config, settings, version, level if level == "baseline" else "restricted",
                 arguments or {})
    written: set[str] = set()
    errors: list[str] = []
    pending = list(files)
    hidden = 0
    for number in range(MAX_ROUNDS if write else 1):
        changed, failed, unsafe = _round(pending, scan, write=write, show_diff=show_diff,
                                         notes=number == 0)
        errors += failed
        hidden = hidden or unsafe  # the first round's count: later rounds repeat it
        written |= set(changed)
        if not changed or not write:
            return len(changed) if not write else len(written), errors, hidden
        pending = [f for f in pending if not any(e.startswith(f"{f}:") for e in failed)]
    if _round(pending, scan, write=False, show_diff=False, notes=False, quiet=True)[0]:
        echo(f"kubeproof: warning: not at a fixed point after {MAX_ROUNDS} rounds; "
                   "run fix again", err=True)
    return len(written), errors, hidden


@dataclass(frozen=True, slots=True)
class _Scan:
    """What every round scans and fixes with."""
    codes: set[str]
    config: Config
    settings: FixSettings
    version: tuple[int, int]
    pss_level: str
    arguments: dict[str, str]  # the argument each file was found under


def _round(files: list[str], scan: _Scan, *, write: bool, show_diff: bool, notes: bool,
           quiet: bool = False) -> tuple[list[str], list[str], int]:
    """One scan-fix pass: (files changed, or written when ``write``; errors;
    unsafe fixes left out). ``notes``: say what is left unfixed in unchanged
    files (first round only); ``quiet``: print nothing, only count."""
    changed: list[str] = []
    errors: list[str] = []
    hidden = 0
    for item in fix_files(files, scan.codes, scan.config, scan.settings,
                          kube_version=scan.version, pss_level=scan.pss_level,
                          arguments=scan.arguments):
        if item.error is not None:
            if not quiet:
                errors.append(item.error)
                echo(item.error, err=True)
            continue
        if item.fixed is None:
            continue
        unsafe = _hidden(item.fixed, scan.settings)
        hidden += len(unsafe)
        not_fixed = [c for c in item.fixed.not_fixed if c not in unsafe]
        left = (f"; not fixed: {', '.join(not_fixed)}" if not_fixed else "") + \
            (f"; unsafe, not applied: {', '.join(dict.fromkeys(unsafe))}" if unsafe else "")
        if item.fixed.text == item.original:
            if left and not show_diff and notes and not quiet:
                echo(f"{item.path}: {left[2:]}")
            continue
        if quiet:
            changed.append(item.path)
            continue
        if item.fixed.whole:
            echo(f"{item.path}: note: a document was rewritten as ruamel.yaml prints "
                       "it, the layout around the edits could not be kept", err=True)
        if show_diff:
            changed.append(item.path)
            _print_diff(item.path, item.original, item.fixed.text, scan.settings.pod_templates)
            continue
        if write:
            try:
                write_file(item.path, item.original, item.fixed.text)
            except OSError as exc:
                errors.append(f"{item.path}: cannot write: {exc.strerror or exc}")
                echo(errors[-1], err=True)
                continue
        changed.append(item.path)
        summary = ", ".join(f"{code} x{n}" if n > 1 else code
                            for code, n in sorted(item.fixed.applied.items()))
        verb = ("added" if write else "would add") if item.fixed.added else ""
        added = f"; {verb} {', '.join(item.fixed.added)}" if item.fixed.added else ""
        echo(f"{item.path}: {'fixed' if write else 'would fix'} {summary}{added}{left}")
    return changed, errors, hidden


def write_file(path: str, expected: str, text: str) -> None:
    """Replace the file atomically with ``text``, keeping its permissions.

    Never follows a symbolic link (the file itself is refused; the temporary
    file is created exclusively under a random name in the same folder, so a
    planted ``.NAME...`` link cannot redirect the write), and refuses a file
    that changed since it was read (``expected``). The data is fsynced before
    ``os.replace``; on any failure the temporary file is removed."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise OSError(0, "not a regular file (symbolic links are not written through)")
    with open(path, "rb") as current:
        if current.read() != expected.encode("utf-8"):
            raise OSError(0, "the file changed while it was being fixed")
    folder, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".kubeproof-fix", dir=folder or ".")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), info.st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _print_diff(path: str, before: str, after: str, templates: Templates) -> None:
    """The unified diff, with secret values masked by position in both texts
    (kubeproof.reports.redact) before diffing, so no hunk shows one, and each line
    escaped for the terminal (kubeproof.util.terminal)."""
    old, hid_old = masked(before, templates)
    new, hid_new = masked(after, templates)
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(),
                                     f"a/{path}", f"b/{path}", lineterm=""):
        sys.stdout.write(safe(line) + "\n")  # file content can hold escape sequences
    if hid_old or hid_new:
        echo(f"{path}: note: secret values are masked in this diff; run without --diff "
             "to apply the fixes", err=True)
