"""The files of a policy test: finding the test files, reading them and the
files they name, and checking the shape of a ``Test`` document.

Kept apart from :mod:`kubeproof.policies.testing` (which evaluates and
compares) because everything here is about hostile input: any field of a test
file may hold any type, any path may be missing, a folder, a FIFO or huge.
Each problem is one :class:`~kubeproof.model.InputError` (``file:line: what is
wrong``) and the rest of the test goes on. Files are read with the scanner's
own readers (``sources.files``: size limit, binary refusal, UTF-8/UTF-16;
``sources.documents``: multi-document YAML, JSON, ``List`` kinds, each object
with its line), so a policy test reads manifests exactly as ``scan`` does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeproof.model import InputError
from kubeproof.sources.documents import load_text
from kubeproof.sources.files import LoadOptions, decode, read_bytes
from kubeproof.sources.yamlparse import Document, YamlError, locate, parse_yaml

KYVERNO_TEST_FILES = ("kyverno-test.yaml", "kyverno-test.yml")
KUBEPROOF_TEST_FILES = ("kubeproof-test.yaml", "kubeproof-test.yml")
TEST_FILE_NAMES = frozenset(KYVERNO_TEST_FILES + KUBEPROOF_TEST_FILES)
KYVERNO_API = "cli.kyverno.io/"
KUBEPROOF_API = "kubeproof.dev/"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
# bounds on what one test file may ask for (each entry costs a file read or an
# evaluation; upstream's largest test lists 36 resources in 6 results)
MAX_FILES_PER_LIST = 1_000
MAX_RESULTS = 10_000
MAX_RESOURCES_PER_RESULT = 10_000
# folders walked below one PATH (a bound on a hostile or looping tree)
MAX_FOLDERS = 100_000


def discover(paths: list[str]) -> tuple[list[str], list[InputError]]:
    """The test files under ``paths``: a file given is a test file whatever its
    name; a folder is walked (hidden folders too: the Kyverno library keeps its
    tests in ``.kyverno-test/``; symbolic links to folders are not followed, so
    a loop cannot hold the walk) for the files named like a test."""
    found: list[str] = []
    errors: list[InputError] = []
    for root in paths:
        if os.path.isfile(root):
            found.append(root)
            continue
        if not os.path.isdir(root):
            errors.append(InputError(root, None, "not a file or folder" if os.path.lexists(root)
                                     else "no such file or directory"))
            continue
        before = len(found)
        for walked, (folder, dirs, files) in enumerate(os.walk(root), 1):
            if walked > MAX_FOLDERS:
                errors.append(InputError(root, None, f"refused: more than {MAX_FOLDERS:,} "
                                         "folders; name a smaller folder"))
                break
            dirs.sort()
            found.extend(os.path.join(folder, name) for name in sorted(files)
                         if name in TEST_FILE_NAMES)
        if len(found) == before:
            errors.append(InputError(root, None, "no test file here (kyverno-test.yaml or "
                                     "kubeproof-test.yaml)"))
    return found, errors


@dataclass(slots=True)
class Loaded:
    """The objects of one file (each with its 1-based line) and its problems."""

    objects: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


class FileCache:
    """Each file read once per run: the tests of a policy library share their
    policy files (``../policy.yaml``)."""

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()
        self._files: dict[str, Loaded] = {}

    def objects(self, path: str) -> Loaded:
        key = os.path.normpath(path)
        loaded = self._files.get(key)
        if loaded is None:
            loaded = self._files[key] = self._read(path)
        return loaded

    def _read(self, path: str) -> Loaded:
        if os.path.isdir(path):
            return Loaded(errors=[InputError(path, None, "is a folder; name its files")])
        raw, err = read_bytes(path, self.options)
        if raw is None:
            return Loaded(errors=[err or InputError(path, None, "cannot read")])
        text, err = decode(path, raw)
        if text is None:
            return Loaded(errors=[err or InputError(path, None, "cannot decode")])
        loaded_file = load_text(path, text, raw, test_files=True)
        out = Loaded(errors=list(loaded_file.errors))
        for located in loaded_file.objects:
            out.objects.append((located.resource.obj, located.resource.origin.line))
        return out


@dataclass(slots=True)
class TestDocument:
    """One ``Test`` document of a test file, with the node that gives its lines."""

    __test__ = False  # a name pytest would take for a test class

    path: str
    data: dict[str, Any]
    node: Any
    line: int

    def line_of(self, *where: str | int) -> int:
        found = locate(self.node, where) if self.node is not None else None
        return found[0] if found else self.line

    def error(self, message: str, *where: str | int) -> InputError:
        return InputError(self.path, self.line_of(*where), message)


def read_test_documents(path: str, options: LoadOptions | None = None
                        ) -> tuple[list[TestDocument], list[InputError]]:
    """Every ``Test`` document of the test file at ``path`` (a file may hold
    several), or the errors that stop it."""
    opts = options or LoadOptions()
    raw, err = read_bytes(path, opts)
    if raw is None:
        return [], [err or InputError(path, None, "cannot read")]
    text, err = decode(path, raw)
    if text is None:
        return [], [err or InputError(path, None, "cannot decode")]
    docs: list[TestDocument] = []
    errors: list[InputError] = []
    for doc in parse_yaml(text):
        if isinstance(doc, YamlError):
            errors.append(InputError(path, doc.line, doc.message))
            continue
        if not isinstance(doc, Document) or doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            errors.append(InputError(path, doc.line, "a test must be a mapping (a Test of "
                                     "cli.kyverno.io/v1alpha1 or kubeproof.dev/v1alpha1)"))
            continue
        test = TestDocument(path, doc.data, doc.node, doc.line)
        api, kind = doc.data.get("apiVersion"), doc.data.get("kind")
        if kind != "Test" or not isinstance(api, str) or not api.startswith(
                (KYVERNO_API, KUBEPROOF_API)):
            errors.append(test.error(
                "not a policy test: expected apiVersion cli.kyverno.io/v1alpha1 or "
                "kubeproof.dev/v1alpha1 and kind Test", "kind" if "kind" in doc.data else
                "apiVersion"))
            continue
        docs.append(test)
    if not docs and not errors:
        errors.append(InputError(path, None, "empty test file"))
    return docs, errors


@dataclass(frozen=True, slots=True)
class Expected:
    """One entry of ``results``, before it fans out over its resources."""

    index: int
    line: int
    policy: str
    rule: str
    kind: str
    resources: tuple[tuple[str, int], ...]  # (as written, line)
    result: str
    operation: str | None = None
    # isValidatingPolicy / isValidatingAdmissionPolicy: which kind of policy is meant
    policy_kind: str | None = None


def string_list(test: TestDocument, key: str, errors: list[InputError]) -> list[tuple[str, int]]:
    """``key`` as a list of non-empty strings with their lines: a single string
    is taken as a list of one (Kyverno's ``variables: values.yaml`` form)."""
    value = test.data.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        errors.append(test.error(f"{key}: must be a list of file names", key))
        return []
    out: list[tuple[str, int]] = []
    for i, item in enumerate(value[:MAX_FILES_PER_LIST]):
        if isinstance(item, str) and item.strip():
            out.append((item, test.line_of(key, i)))
        else:
            errors.append(test.error(f"{key}[{i}]: must be a file name", key, i))
    if len(value) > MAX_FILES_PER_LIST:
        errors.append(test.error(f"{key}: refused: more than {MAX_FILES_PER_LIST:,} files",
                                 key))
    return out


def resolve(test: TestDocument, name: str) -> str | None:
    """A path of the test as the file system knows it: relative to the test
    file's folder (as Kyverno reads them); None for a URL (not fetched)."""
    if "://" in name:
        return None
    if os.path.isabs(name):
        return name
    return os.path.normpath(os.path.join(os.path.dirname(test.path) or ".", name))


# Test fields of Kyverno's CLI that change results and that kubeproof does
# not use: a test relying on one would give results that mean nothing, so each
# is an error. (``context``, ``apiCallResponses``, ``globalContextEntries`` and
# ``clusterResources`` only mock data for Kyverno-only libraries: a policy
# using those is reported ``unsupported`` anyway, so they are read as absent.)
UNSUPPORTED_FIELDS = {
    "exceptions": "PolicyExceptions are not applied",
    "jsonPayloads": "JSON payloads are not judged",
}
# results about mutation and generation: kubeproof only validates
UNSUPPORTED_RESULT_FIELDS = ("patchedResources", "patchedResource", "generatedResource",
                             "cloneSourceResource")


def unsupported_fields(test: TestDocument, errors: list[InputError]) -> None:
    """One error for each field of the test that kubeproof does not use."""
    for key, why in UNSUPPORTED_FIELDS.items():
        if test.data.get(key) not in (None, "", [], {}):
            errors.append(test.error(f"{key}: not supported by kubeproof test ({why})", key))


def expected_results(test: TestDocument, results: set[str], errors: list[InputError]
                     ) -> list[Expected]:
    """The ``results`` entries of a test whose shape is usable; one error for
    each that is not (the others still run)."""
    value = test.data.get("results")
    if value is None:
        errors.append(test.error("results: missing: the test expects nothing", "kind"))
        return []
    if not isinstance(value, list):
        errors.append(test.error("results: must be a list", "results"))
        return []
    out: list[Expected] = []
    for i, entry in enumerate(value[:MAX_RESULTS]):
        where = ("results", i)
        if not isinstance(entry, dict):
            errors.append(test.error(f"results[{i}]: must be a mapping", *where))
            continue
        got = _expected(test, i, entry, results, errors)
        if got is not None:
            out.append(got)
    if len(value) > MAX_RESULTS:
        errors.append(test.error(f"results: refused: more than {MAX_RESULTS:,} entries",
                                 "results"))
    return out


def _expected(test: TestDocument, i: int, entry: dict[str, Any], results: set[str],
              errors: list[InputError]) -> Expected | None:
    where = ("results", i)
    problems: list[InputError] = []

    def text(key: str, required: bool) -> str:
        value = entry.get(key)
        if value is None or value == "":
            if required:
                problems.append(test.error(f"results[{i}].{key}: missing", *where))
            return ""
        if not isinstance(value, str):
            problems.append(test.error(f"results[{i}].{key}: must be a string",
                                       *where, key))
            return ""
        return value

    for key in UNSUPPORTED_RESULT_FIELDS:
        if entry.get(key) not in (None, ""):
            errors.append(test.error(f"results[{i}].{key}: not supported by kubeproof test "
                                     "(it validates; it does not mutate or generate)",
                                     *where, key))
            return None
    policy = text("policy", False)
    rule = text("rule", False)
    if not policy and not rule:
        problems.append(test.error(f"results[{i}]: names no policy (policy:) and no rule "
                                   "(rule:)", *where))
    kind = text("kind", True)
    # ``status`` and ``resource`` are the deprecated forms of ``result`` and
    # ``resources`` that Kyverno's CLI still reads (older library tests use them)
    result = text("result" if "result" in entry or "status" not in entry else "status", True)
    if result and result not in results:
        problems.append(test.error(f"results[{i}].result: {result!r} is not one of "
                                   f"{', '.join(sorted(results))}", *where, "result"))
    operation = entry.get("operation")
    if operation is not None and operation not in OPERATIONS:
        problems.append(test.error(f"results[{i}].operation: must be one of "
                                   f"{', '.join(OPERATIONS)}", *where, "operation"))
        operation = None
    names = entry.get("resources")
    if names is None and isinstance(entry.get("resource"), str):
        names = [entry["resource"]]
    resources: list[tuple[str, int]] = []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        problems.append(test.error(f"results[{i}].resources: must be a list of resource "
                                   "names", *where))
    else:
        for j, name in enumerate(names[:MAX_RESOURCES_PER_RESULT]):
            if isinstance(name, str) and name:
                resources.append((name, test.line_of(*where, "resources", j)))
            else:
                problems.append(test.error(f"results[{i}].resources[{j}]: must be a "
                                           "resource name", *where, "resources", j))
        if len(names) > MAX_RESOURCES_PER_RESULT:
            problems.append(test.error(f"results[{i}].resources: refused: more than "
                                       f"{MAX_RESOURCES_PER_RESULT:,} names", *where))
    policy_kind = None
    if entry.get("isValidatingAdmissionPolicy") is True:
        policy_kind = "ValidatingAdmissionPolicy"
    elif entry.get("isValidatingPolicy") is True:
        policy_kind = "ValidatingPolicy"
    errors.extend(problems)
    if problems and not resources:
        return None
    if not (policy or rule) or not kind or not result or result not in results:
        return None
    return Expected(i, test.line_of(*where), policy, rule, kind, tuple(resources), result,
                    operation if isinstance(operation, str) else None, policy_kind)


def mappings(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """The mapping items of a list (anything else yields nothing), bounded."""
    if isinstance(value, list):
        for i, item in enumerate(value[:MAX_RESOURCES_PER_RESULT]):
            if isinstance(item, dict):
                yield i, item


def labels_of(value: Any) -> dict[str, str]:
    """A labels mapping with string keys and values only (others are dropped:
    the API server would refuse them)."""
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
