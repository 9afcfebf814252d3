"""Core data types: severities, rule metadata, resources, violations and findings.

Rules see :class:`Resource` objects and yield :class:`Violation` values (a JSON
path and a message). The engine turns violations into :class:`Finding` values by
adding the rule metadata, the object identity and the source location.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from kubeproof.k8s.workloads import PodView, pod_view
from kubeproof.util.shapes import Path as Path  # the JSON path type lives below k8s
from kubeproof.util.terminal import safe

# no custom pod-template kinds (config ``workloads.podTemplatePaths``); shared,
# never written (typed read-only), and a plain dict so that results holding it
# travel from worker processes (a mapping proxy cannot be pickled)
NO_TEMPLATES: Mapping[str, Path] = {}


def no_templates() -> Mapping[str, Path]:
    """The default of a dataclass field (a dict default is refused by them)."""
    return NO_TEMPLATES


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of {names})") from None

    @property
    def label(self) -> str:
        return _SEVERITY_LABELS[self]


_SEVERITY_LABELS = {s: s.name.lower() for s in Severity}


class Scope:
    OBJECT = "object"
    SET = "set"
    CLUSTER = "cluster"
    REGISTRY = "registry"
    REPORT = "report"


class RunsIn:
    """Where a rule can run (``@rule(runs_in=...)``; default: everywhere)."""

    FILES = "files"  # scan and fix: manifests in files, rendered charts, stdin
    CLUSTER = "cluster"  # audit: live objects read from the API
    ADMISSION = "admission"  # the webhook: one object sent to the API server
    EVERYWHERE = frozenset({FILES, CLUSTER, ADMISSION})


class Needs:
    """What a rule needs besides the manifests (``@rule(needs=...)``)."""

    IMAGES = "images"  # the registry's answers about each image (``--check-images``)
    REPORTS = "reports"  # vulnerability reports (``--vuln-report``, ``--scan-images``)
    SECRETS = "secrets"  # Secret objects (an audit reads them with ``--read-secrets`` only)


class PssLevel:
    """The Pod Security Standard level a rule belongs to (``@rule(pss_level=...)``):
    its findings are dropped where the namespace's level is lower."""

    BASELINE = "baseline"
    RESTRICTED = "restricted"
    LEVELS = (BASELINE, RESTRICTED)


PRACTICES: dict[int, str] = {
    0: "API hygiene",
    1: "Minimal base images",
    2: "A reliable, trusted registry",
    3: "imagePullSecrets",
    4: "Namespaces",
    5: "Labels",
    6: "Annotations that track changes",
    7: "RBAC least privilege",
    8: "Pod security",
    9: "Network policies",
    10: "Secrets",
    11: "Image vulnerability scanning",
    12: "CI/CD",
    13: "Canary and safe rollouts",
    14: "Monitoring and SIEM",
    15: "Service mesh",
    16: "Admission controllers",
}


@dataclass(frozen=True, slots=True)
class Violation:
    """What a rule yields: the offending field's JSON path and a message.

    ``path`` is relative to the object root (``("spec", "containers", 0, "image")``);
    when the field is missing, give the path it would have: the location falls
    back to the closest existing parent. ``severity`` overrides the rule default
    for this one violation (e.g. deprecated rather than removed API).
    ``value_offset`` is the index, in the string value at ``path``, of the
    character the finding is about: when that value spans several lines of
    the source, the finding is placed on that character's line (when the
    source shows exactly where it is; else at ``path``).
    """

    path: Path
    message: str
    container: str | None = None
    severity: Severity | None = None
    value_offset: int | None = None


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Names one object of the scanned set, for set rules and for finding its
    line again once the file's node tree is gone: ``source_input`` is the
    discovered input that produced it and ``seq`` its position among that
    input's objects."""

    source_input: tuple[str, str]
    seq: int
    file: str
    line: int
    api_version: str
    kind: str
    namespace: str | None
    name: str
    ignores: frozenset[str] | None = None  # codes its exemption annotation names
    # last line of its YAML document when that document can be re-read alone
    # (plain files, not List items); 0 when the whole input must be reloaded
    end_line: int = 0


@dataclass(frozen=True, slots=True)
class SetViolation:
    """What a set rule yields: the object it is about, then as :class:`Violation`."""

    ref: ObjectRef
    path: Path
    message: str
    container: str | None = None
    severity: Severity | None = None


# The functions a rule holds, typed here by what they return: their second
# argument is the run's ``core.context.Context`` (a fix's, ``core.fixing.
# FixSettings``), which live above this module; ``core.catalogue`` registers
# them with the full signatures (``CheckFn``, ``IndexCheckFn``, ``FixFn``).
# a rule's check: (Resource, Context) for object and cluster scopes, (Index,
# Context) for the index-phase scopes (set, registry, report); the scope tells which
RuleFn = Callable[..., Iterator[Any]]
# an index-phase check: (Index, Context) -> SetViolations
IndexCheckFn = Callable[..., Iterator["SetViolation"]]
# a fixer: (Resource, FixSettings) -> changed the object in place
FixFn = Callable[..., bool]
# what creates the object a fix points its object at (KP0707: the workload's
# ServiceAccount): (fixed object, FixSettings) -> the new object, None for none
CreateFn = Callable[..., Any]
# what in the set withdraws an object rule's findings (KP1303's "and no HPA"):
# a function of the index answering, for (namespace, kind, name), whether the
# rule's findings on that object are withdrawn
Withdrawal = Callable[[Any], Callable[[str | None, str, str], bool]]

SAFE, UNSAFE = "safe", "unsafe"
SAFETIES = (SAFE, UNSAFE)


@dataclass(frozen=True, slots=True)
class Fix:
    """A rule's fix (``@fix`` beside its ``@rule``): the smallest edit that makes
    the rule pass, and the facts its callers need to run it."""

    code: str
    fn: FixFn
    summary: str  # the fixer's docstring's first paragraph
    safety: str  # SAFE: cannot stop a correct workload from running; UNSAFE: may
    why: str  # one line: why the fix is (un)safe, shown by `kubeproof rules` and docs
    # it needs the set's verdict (a set rule's, or an object to create next to
    # it): it runs only when the caller names its code, never by default
    needs_verdict: bool = False
    needs_namespace: bool = False  # it writes ``FixSettings.namespace`` (off without it)
    needs_registry: bool = False  # it asks the registry (``FixSettings.resolve_digest``)
    reads_images: bool = False  # it fits the image's config when given (``image_info``)
    # the object it points the fixed one at, which ``kubeproof fix`` adds to the file
    creates: CreateFn | None = None

    @property
    def safe(self) -> bool:
        return self.safety == SAFE

    def __call__(self, res: Resource, settings: Any) -> bool:
        """Apply the fix (``settings``: ``core.fixing.FixSettings``)."""
        return bool(self.fn(res, settings))


@dataclass(slots=True)
class Rule:
    code: str
    name: str
    practice: int
    severity: Severity
    scope: str
    kinds: frozenset[str] | None
    check: RuleFn
    summary: str
    what: str
    why: str
    how: str
    example: str
    family: str
    pods: bool = False
    remediation: str = ""
    # a second check run in the index phase for a rule of another scope: the
    # registry half of an object/set rule (see catalogue.index_half)
    index_check: IndexCheckFn | None = None
    # its fix (catalogue.fix), None: not fixable
    fix: Fix | None = None
    # facts declared on the rule (see catalogue.rule)
    pss_level: str | None = None  # PssLevel: a Pod Security Standard check
    runs_in: frozenset[str] = RunsIn.EVERYWHERE
    needs: frozenset[str] = frozenset()
    input_errors: bool = False  # it reports the inputs that cannot be read (KP0003)
    withdrawn_by: Withdrawal | None = None  # catalogue.withdrawn_by_set
    # where a rule not in the catalogue was defined (a custom rule's
    # ``.kubeproof.yaml:12``, a policy's file): its documentation is there,
    # not in docs/rules.md; empty for the built-in rules
    source: str = ""

    def __post_init__(self) -> None:
        if not self.remediation:
            # the first paragraph of How, printed with every finding
            self.remediation = self.how.split("\n\n", 1)[0].replace("\n", " ").strip()

    def applies_to(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    @property
    def fix_safety(self) -> str | None:
        """``"safe"`` or ``"unsafe"``, as the rule's fix declares it; None when the
        rule has no fix."""
        return self.fix.safety if self.fix is not None else None

    @property
    def fix_safety_reason(self) -> str:
        """Why the fix is safe or unsafe (one line; empty without a fix)."""
        return self.fix.why if self.fix is not None else ""


@dataclass(slots=True)
class Origin:
    """Where an object came from: file, document index and its starting line.

    ``node`` is the YAML node tree of the object (kept only while its file is
    being processed) and is what resolves a JSON path to line and column.
    ``source`` names how it was produced (``file``, ``stdin``, ``kustomize``,
    ``helm``).
    """

    file: str
    doc: int
    line: int
    column: int = 1
    source: str = "file"
    locator: Any = None
    item: int | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """What an admission request says about its object besides the object."""

    operation: str = "CREATE"
    old_object: dict[str, Any] | None = None
    user_info: Mapping[str, Any] = field(default_factory=dict)
    dry_run: bool = False


@dataclass(slots=True)
class Resource:
    obj: dict[str, Any]
    origin: Origin
    _pod: PodView | bool | None = field(default=False, repr=False)
    # paths of keys its source gave twice in one mapping (KP0002); the later wins
    duplicate_keys: tuple[Path, ...] = ()
    # the run's custom pod-template kinds (``Context.pod_templates``): set by
    # whoever reads the object for a run before ``pod`` is first asked
    templates: Mapping[str, Path] = field(default_factory=no_templates, repr=False)
    # the admission request the object came in (the webhook): what policies
    # read besides the object (operation, oldObject, userInfo); None elsewhere
    admission: Admission | None = field(default=None, repr=False)

    @property
    def api_version(self) -> str:
        value = self.obj.get("apiVersion")
        return value if isinstance(value, str) else ""

    @property
    def kind(self) -> str:
        value = self.obj.get("kind")
        return value if isinstance(value, str) else ""

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        name = self.metadata.get("name")
        if name is None:
            name = self.metadata.get("generateName")
        return str(name) if name is not None else ""

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return str(ns) if ns is not None else None

    @property
    def group(self) -> str:
        api = self.api_version
        return api.split("/", 1)[0] if "/" in api else ""

    @property
    def pod(self) -> PodView | None:
        """The pod spec view when this object carries one (cached)."""
        if self._pod is False:
            self._pod = pod_view(self)
        return self._pod  # type: ignore[return-value]

    def identity(self) -> str:
        ns = self.namespace or ""
        return f"{self.api_version}/{self.kind}/{ns}/{self.name}"


MESSAGE_WORD_LIMIT = 512  # characters of one word (a value: an image reference may
# hold ~460) a finding message shows
MESSAGE_LIMIT = 1000


def short_message(text: str) -> str:
    """A finding message as reports show it: printable, each overlong word (a
    hostile 10 kB value a rule put in its message) cut to its start and
    length, the whole at most ``MESSAGE_LIMIT`` characters."""
    text = safe(text)
    if len(text) <= MESSAGE_WORD_LIMIT:
        return text
    words = [w if len(w) <= MESSAGE_WORD_LIMIT else f"{w[:MESSAGE_WORD_LIMIT - 40]}… "
             f"({len(w)} characters)" for w in text.split(" ")]
    text = " ".join(words)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT - 1] + "…"


def format_path(path: Path) -> str:
    """``spec.containers[0].image`` for ``("spec", "containers", 0, "image")``.

    Memoised (bounded): rules yield the same few hundred paths for every object,
    and formatting them was a tenth of the webhook's judging time."""
    try:
        return _format_path_cached(path)
    except TypeError:  # an unhashable path (a list): format it every time
        return _format_path(path)


def _format_path(path: Path) -> str:
    out: list[str] = []
    for seg in path:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        elif out:
            out.append("." + seg if _plain(seg) else f"[{seg!r}]")
        else:
            out.append(seg if _plain(seg) else f"[{seg!r}]")
    return "".join(out)


_format_path_cached = functools.lru_cache(maxsize=4096)(_format_path)


def _plain(seg: str) -> bool:
    return seg.replace("_", "a").replace("-", "a").isalnum()


def display_path(path: str) -> str:
    """``path`` as every report can hold it: a file name that is not UTF-8 (read
    by Python with ``surrogateescape``) shows its odd bytes as ``\\xff``
    escapes, since JSON, SARIF and terminals cannot carry lone surrogates."""
    if path.isascii():
        return path
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path


@dataclass(slots=True)
class Finding:
    rule: Rule
    severity: Severity
    file: str
    line: int
    column: int
    api_version: str
    kind: str
    namespace: str | None
    name: str
    container: str | None
    path: str
    message: str
    source: str = "file"
    # for objects rendered by kustomize or helm: the kustomization.yaml / Chart.yaml
    rendered_from: str | None = None

    def __post_init__(self) -> None:
        self.file = display_path(self.file)
        if self.rendered_from is not None:
            self.rendered_from = display_path(self.rendered_from)

    @property
    def code(self) -> str:
        return self.rule.code

    def fingerprint(self) -> str:
        """Stable identity: rule, object, container and path; never the line."""
        key = "\x1f".join(
            (
                self.rule.code,
                self.api_version.split("/")[0] if "/" in self.api_version else "",
                self.kind,
                self.namespace or "",
                self.name,
                self.container or "",
                self.path,
                self.file if not self.name else "",
            )
        )
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.rule.code,
            "name": self.rule.name,
            "severity": self.severity.label,
            "practice": self.rule.practice,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "object": {
                "apiVersion": self.api_version,
                "kind": self.kind,
                "namespace": self.namespace,
                "name": self.name,
            },
            "container": self.container,
            "path": self.path,
            "message": self.message,
            "remediation": self.rule.remediation,
            "fingerprint": self.fingerprint(),
            "source": self.source,
            "renderedFrom": self.rendered_from,
        }


@dataclass(slots=True)
class InputError:
    file: str
    line: int | None
    message: str

    def __post_init__(self) -> None:
        self.file = display_path(self.file)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}
