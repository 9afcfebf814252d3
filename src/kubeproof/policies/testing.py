"""``kubeproof test``: policy tests, Kyverno's and kubeproof's own.

Two kinds of test file are found under each PATH (hidden folders included):

* ``kyverno-test.yaml``: Kyverno's CLI test (``cli.kyverno.io/v1alpha1``
  ``Test``), read as it is, so teams that move from Kyverno keep their tests.
  Fields used: ``policies`` (files, relative to the test file, each with any
  number of documents: a VAP and its bindings, ValidatingPolicies, Kyverno
  ClusterPolicies), ``resources`` (files of the objects judged),
  ``paramResources`` (the objects a binding's ``paramRef`` resolves against),
  ``variables`` (a ``Value`` file: ``namespaceSelector`` entries give a
  namespace's labels, ``namespaces`` full Namespace objects for
  ``namespaceObject``, ``globalValues: {request.operation: UPDATE}`` and
  ``policies[].resources[].values`` the operation), ``userinfo`` (a
  ``UserInfo`` file: its ``userInfo`` is ``request.userInfo``), and
  ``results``.
* ``kubeproof-test.yaml``: the same shape for kubeproof's custom rules::

      apiVersion: kubeproof.dev/v1alpha1
      kind: Test
      name: replicas-rule            # optional
      config: ../.kubeproof.yaml     # the config whose customRules are tested
      policies: [policy.yaml]        # optional: policy files, as above
      resources: [deployments.yaml]
      variables: values.yaml         # optional, as Kyverno's
      userinfo: user.yaml            # optional, as Kyverno's
      results:
      - rule: ACME001                # a custom rule code (or name) ...
        kind: Deployment
        resources: [web, prod/api]   # name or namespace/name
        result: fail
      - policy: require-labels       # ... or a policy of the policies files
        kind: Deployment
        resources: [web]
        result: pass

Each ``results`` entry fans out over its ``resources`` (matched by kind and
name; ``namespace/name`` narrows to one namespace), giving one result per
resource. Each resource is judged as an admission request: ``CREATE`` unless
the entry says ``operation`` or the values file sets ``request.operation``;
an ``UPDATE`` has the object as its ``oldObject`` too (as ``kyverno test``
does). ``rule`` is compared when given (a Kyverno autogen rule
``autogen-<rule>``/``autogen-cronjob-<rule>`` answers for ``<rule>``); it is
empty for VAPs and ValidatingPolicies.

What each result is, as the Kyverno CLI reports it: ``pass`` (applied, every
validation held), ``fail`` (a validation did not hold, or errored under
``failurePolicy: Fail``), ``skip`` (the policy does not apply: match rules,
bindings or ``matchConditions``), ``error`` (an evaluation error under
``failurePolicy: Ignore``), ``unsupported`` (the policy needs what cannot be
known offline: Kyverno-only libraries, never guessed), and ``warn``: a
failure of a policy annotated ``policies.kyverno.io/scored: "false"`` (the
only way Kyverno's CLI reports ``warn``; ``validationActions`` such as Audit
or Warn do not change a result, as in Kyverno).

A test that names a missing file, policy or resource gives one
``file:line: ...`` input error and the rest of it still runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeproof.core.config import ConfigError, load_config
from kubeproof.k8s.kinds import CLUSTER_SCOPED
from kubeproof.model import InputError, display_path
from kubeproof.policies.compile import compile_policies
from kubeproof.policies.custom import compile_custom_rules
from kubeproof.policies.model import (
    ERROR,
    FAIL,
    PASS,
    RESULTS,
    SKIP,
    WARN,
    Outcome,
    Policy,
    PolicyError,
    Source,
    Subject,
)
from kubeproof.policies.testing_files import (
    KUBEPROOF_API,
    OPERATIONS,
    Expected,
    FileCache,
    TestDocument,
    discover,
    expected_results,
    labels_of,
    mappings,
    read_test_documents,
    resolve,
    string_list,
    unsupported_fields,
)

SCORED = "policies.kyverno.io/scored"
MAX_MESSAGE = 1_000


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One expected result of one resource, and what kubeproof found."""

    test: str
    policy: str
    rule: str
    kind: str
    resource: str
    expected: str
    actual: str
    ok: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"test": self.test, "policy": self.policy, "rule": self.rule,
                "kind": self.kind, "resource": self.resource, "expected": self.expected,
                "actual": self.actual, "ok": self.ok, "message": self.message}


@dataclass(slots=True)
class TestRun:
    """Every result of a ``kubeproof test`` run and its input errors."""

    __test__ = False  # a name pytest would take for a test class

    results: list[ResultRow] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    tests: int = 0
    _seen: set[str] = field(default_factory=set, repr=False)

    def error(self, err: InputError) -> None:
        """Record ``err`` once (a broken file shared by tests is one error)."""
        key = str(err)
        if key not in self._seen:
            self._seen.add(key)
            self.errors.append(err)

    @property
    def failed(self) -> list[ResultRow]:
        return [r for r in self.results if not r.ok]

    def summary(self) -> dict[str, int]:
        failed = len(self.failed)
        return {"tests": self.tests, "results": len(self.results),
                "passed": len(self.results) - failed, "failed": failed,
                "errors": len(self.errors)}

    def exit_code(self) -> int:
        """2 on any input error (also when a result failed), 1 when an expected
        result does not hold, else 0."""
        if self.errors:
            return 2
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results], "summary": self.summary(),
                "errors": [e.to_dict() for e in self.errors]}


class TestLookup:
    """The :class:`~kubeproof.policies.model.Lookup` of one test: its
    namespaces (values file, Namespace resources) and its param objects.

    A param object without a namespace is found in any namespace asked for:
    test files leave it out (upstream's ``vap/with-params``), as they leave it
    out of the resources judged."""

    __test__ = False

    def __init__(self, namespaces: Mapping[str, Mapping[str, Any]],
                 params: Sequence[Mapping[str, Any]]) -> None:
        self._namespaces = dict(namespaces)
        self._params = list(params)

    def namespace(self, name: str) -> Mapping[str, Any] | None:
        return self._namespaces.get(name)

    def objects(self, api_version: str, kind: str,
                namespace: str | None) -> Iterable[Mapping[str, Any]]:
        for obj in self._params:
            if obj.get("kind") != kind or obj.get("apiVersion") != api_version:
                continue
            ns = _namespace_of(obj)
            if namespace is None or not ns or ns == namespace:
                yield obj


def _is_kubeproof(test: TestDocument) -> bool:
    api = test.data.get("apiVersion")
    return isinstance(api, str) and api.startswith(KUBEPROOF_API)


def _namespace_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    return ns if isinstance(ns, str) else ""


def _name_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return name if isinstance(name, str) else ""


@dataclass(slots=True)
class _Values:
    """What a ``Value`` file says."""

    namespaces: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    operation: str | None = None
    # (policy, resource name) -> request.operation
    operations: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(slots=True)
class _Compiled:
    policies: list[Policy]
    # names of the policy documents, compiled or not (a result naming one that
    # did not compile is an ``error`` result, not a missing policy)
    names: set[str]


class Runner:
    """Runs test files; files and compiled policy sets are shared across the
    tests of one run (a policy library's tests share their policy files)."""

    def __init__(self, kube_version: tuple[int, int] | None = None) -> None:
        self.kube_version = kube_version
        self.files = FileCache()
        self.run = TestRun()
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    # ------------------------------------------------------------ entry points

    def test_paths(self, paths: Sequence[str]) -> TestRun:
        found, errors = discover(list(paths))
        for err in errors:
            self.run.error(err)
        for path in found:
            self.test_file(path)
        return self.run

    def test_file(self, path: str) -> None:
        docs, errors = read_test_documents(path, self.files.options)
        for err in errors:
            self.run.error(err)
        for doc in docs:
            self.test_document(doc)

    def test_document(self, test: TestDocument) -> None:
        self.run.tests += 1
        errors: list[InputError] = []
        compiled = self._policies(test, errors)
        custom = self._custom_rules(test, errors)
        resources = self._objects(test, "resources", errors)
        params = [obj for obj, _, _ in self._objects(test, "paramResources", errors)]
        values = self._values(test, errors)
        user_info = self._user_info(test, errors)
        namespaces: dict[str, Mapping[str, Any]] = {
            _name_of(obj): obj for obj, _, _ in resources if obj.get("kind") == "Namespace"}
        namespaces.update(values.namespaces)
        lookup = TestLookup(namespaces, params)
        unsupported_fields(test, errors)
        expected = expected_results(test, set(RESULTS), errors)
        evaluations: dict[tuple[int, int, str], list[Outcome]] = {}
        for entry in expected:
            self._compare(test, entry, compiled, custom, resources, values, user_info,
                          lookup, evaluations, errors)
        for err in errors:
            self.run.error(err)

    # ------------------------------------------------------------ inputs

    def _policies(self, test: TestDocument, errors: list[InputError]) -> _Compiled:
        files = []
        for name, line in string_list(test, "policies", errors):
            path = resolve(test, name)
            if path is None:
                errors.append(InputError(test.path, line, f"policies: {name}: remote "
                                         "policies are not fetched; copy the file here"))
            elif not os.path.lexists(path):
                errors.append(InputError(test.path, line, f"policies: {name}: no such file"))
            else:
                files.append(path)
        if "policies" not in test.data and not _is_kubeproof(test):
            errors.append(test.error("policies: missing: the test names no policy file",
                                     "kind"))
        key = tuple(os.path.normpath(f) for f in files)
        compiled = self._compiled.get(key)
        if compiled is None:
            docs: list[tuple[Mapping[str, Any], Source]] = []
            names: set[str] = set()
            for path in files:
                loaded = self.files.objects(path)
                errors.extend(loaded.errors)
                for obj, line in loaded.objects:
                    docs.append((obj, Source(path, line)))
                    names.add(_name_of(obj))
            policy_set = compile_policies(docs, self.kube_version)
            errors.extend(_input_error(e) for e in policy_set.errors)
            compiled = self._compiled[key] = _Compiled(list(policy_set.policies), names)
        return compiled

    def _custom_rules(self, test: TestDocument, errors: list[InputError]) -> list[Policy]:
        value = test.data.get("config")
        if value is None:
            return []
        if not _is_kubeproof(test):
            errors.append(test.error("config: only a kubeproof.dev Test takes a config",
                                     "config"))
            return []
        if not isinstance(value, str) or not value.strip():
            errors.append(test.error("config: must be the path of a .kubeproof.yaml",
                                     "config"))
            return []
        path = resolve(test, value)
        if path is None or not os.path.isfile(path):
            errors.append(test.error(f"config: {value}: no such file", "config"))
            return []
        try:
            config = load_config(path)
        except ConfigError as exc:
            errors.append(InputError(path, None, str(exc).removeprefix(f"{path}: ")))
            return []
        rules, problems = compile_custom_rules(config, self.kube_version)
        errors.extend(_input_error(e) for e in problems)
        return list(rules)

    def _objects(self, test: TestDocument, key: str, errors: list[InputError]
                 ) -> list[tuple[dict[str, Any], int, str]]:
        out: list[tuple[dict[str, Any], int, str]] = []
        for name, line in string_list(test, key, errors):
            path = resolve(test, name)
            if path is None or not os.path.lexists(path):
                errors.append(InputError(test.path, line, f"{key}: {name}: no such file"
                                         if path else f"{key}: {name}: remote files are "
                                         "not fetched; copy the file here"))
                continue
            loaded = self.files.objects(path)
            errors.extend(loaded.errors)
            out.extend((obj, obj_line, path) for obj, obj_line in loaded.objects)
        return out

    def _one_document(self, test: TestDocument, key: str, errors: list[InputError]
                      ) -> dict[str, Any] | None:
        """The first object of the file named by ``key`` (``variables``, ``userinfo``)."""
        value = test.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            errors.append(test.error(f"{key}: must be a file name", key))
            return None
        objects = self._objects(test, key, errors)
        if not objects:
            path = resolve(test, value)
            if path is not None and os.path.lexists(path):
                errors.append(test.error(f"{key}: {value}: holds no document with apiVersion "
                                         "and kind", key))
            return None
        return objects[0][0]

    def _values(self, test: TestDocument, errors: list[InputError]) -> _Values:
        out = _Values()
        data = self._one_document(test, "variables", errors)
        inline = test.data.get("values")
        if data is None and isinstance(inline, dict):
            data = inline
        if data is None:
            return out
        for _, entry in mappings(data.get("namespaceSelector")):
            name = entry.get("name")
            if isinstance(name, str) and name:
                out.namespaces[name] = {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": name,
                                                     "labels": labels_of(entry.get("labels"))}}
        for _, obj in mappings(data.get("namespaces")):
            name = _name_of(obj)
            if not name:
                continue
            known = out.namespaces.get(name)
            meta = obj.get("metadata")
            if known is not None and isinstance(meta, dict) and "labels" not in meta:
                # the selector's labels on the full object (the namespace is one)
                obj = {**obj, "metadata": {**meta, "labels": known["metadata"]["labels"]}}
            out.namespaces[name] = obj
        global_values = data.get("globalValues")
        if isinstance(global_values, dict):
            out.operation = _operation(global_values)
        for _, policy in mappings(data.get("policies")):
            pname = policy.get("name")
            for _, res in mappings(policy.get("resources")):
                rname, vals = res.get("name"), res.get("values")
                op = _operation(vals) if isinstance(vals, dict) else None
                if isinstance(pname, str) and isinstance(rname, str) and op:
                    out.operations[(pname, rname)] = op
        return out

    def _user_info(self, test: TestDocument, errors: list[InputError]) -> Mapping[str, Any]:
        data = self._one_document(test, "userinfo", errors)
        if data is None:
            return {}
        info = data.get("userInfo")
        return info if isinstance(info, dict) else {}

    # ------------------------------------------------------------ comparing

    def _compare(self, test: TestDocument, entry: Expected, compiled: _Compiled,
                 custom: list[Policy], resources: list[tuple[dict[str, Any], int, str]],
                 values: _Values, user_info: Mapping[str, Any], lookup: TestLookup,
                 evaluations: dict[tuple[int, int, str], list[Outcome]],
                 errors: list[InputError]) -> None:
        policies = _candidates(entry, compiled.policies, custom)
        missing_policy = ""
        if not policies:
            if entry.policy and entry.policy in compiled.names:
                missing_policy = "the policy did not compile (see its error)"
            else:
                what = f"policy {entry.policy!r}" if entry.policy else f"rule {entry.rule!r}"
                errors.append(InputError(test.path, entry.line, f"results[{entry.index}]: "
                                         f"no {what} in the test's policies"
                                         + (" or config" if not entry.policy else "")))
                return
        for written, line in entry.resources:
            # namespace/name; a namespaced object written without its namespace
            # is in "default", as kubectl would create it
            namespace, _, name = written.rpartition("/")
            found = [i for i, (obj, _, _) in enumerate(resources)
                     if obj.get("kind") == entry.kind and _name_of(obj) == name
                     and (not namespace or _namespace_of(obj) == namespace
                          or (namespace == "default" and not _namespace_of(obj)))]
            if not found:
                errors.append(InputError(test.path, line, f"results[{entry.index}]: no "
                                         f"{entry.kind} {written!r} in the test's resources"))
                continue
            if missing_policy:
                self._row(test, entry, written, ERROR, missing_policy)
                continue
            actuals: list[tuple[str, str]] = []
            for index in found:
                obj = resources[index][0]
                op = entry.operation or values.operations.get(
                    (entry.policy, _name_of(obj))) or values.operation or "CREATE"
                for policy in policies:
                    key = (id(policy), index, op)
                    outcomes = evaluations.get(key)
                    if outcomes is None:
                        outcomes = evaluations[key] = _evaluate(
                            policy, _subject(obj, op, user_info, lookup), lookup)
                    actuals.extend(_results(entry, policy, outcomes, policy in custom))
            wrong = [a for a in actuals if a[0] != entry.result]
            actual, message = wrong[0] if wrong else (actuals[0] if actuals else (SKIP, ""))
            self._row(test, entry, written, actual, message)

    def _row(self, test: TestDocument, entry: Expected, resource: str, actual: str,
             message: str) -> None:
        self.run.results.append(ResultRow(
            display_path(test.path), entry.policy, entry.rule, entry.kind, resource,
            entry.result, actual, actual == entry.result, message[:MAX_MESSAGE]))


def _candidates(entry: Expected, policies: list[Policy], custom: list[Policy]
                ) -> list[Policy]:
    """The policies a result names: by name (narrowed by
    ``isValidatingPolicy``/``isValidatingAdmissionPolicy``), or the custom rule
    whose code or name is its ``rule`` when it names no policy."""
    if not entry.policy:
        return [p for p in custom
                if entry.rule in (getattr(p, "code", None), p.name)]
    named = [p for p in [*policies, *custom] if p.name == entry.policy]
    if not named and "/" in entry.policy:  # a namespaced Kyverno Policy: namespace/name
        named = [p for p in policies if p.name == entry.policy.rpartition("/")[2]]
    if entry.policy_kind is not None:
        narrowed = [p for p in named if p.kind == entry.policy_kind]
        named = narrowed or named
    return named


def _base_rule(rule: str) -> str:
    for prefix in ("autogen-cronjob-", "autogen-"):
        if rule.startswith(prefix):
            return rule[len(prefix):]
    return rule


def _results(entry: Expected, policy: Policy, outcomes: list[Outcome], is_custom: bool
             ) -> list[tuple[str, str]]:
    """The CLI results of ``outcomes`` that ``entry`` asks about (one per rule).

    A rule that does not apply gives no response in Kyverno's engine, so the
    ``skip`` of a rule beside others that did apply is not a result (a
    ClusterPolicy's rule, its ``autogen-`` and ``autogen-cronjob-`` rules:
    only one of them matches a kind); none applying is a ``skip``."""
    if entry.rule and entry.policy and not is_custom:
        outcomes = [o for o in outcomes if _base_rule(o.rule) == _base_rule(entry.rule)]
    applied = [o for o in outcomes if o.result != SKIP]
    if not applied:
        return [(SKIP, outcomes[0].message if outcomes else
                 "the policy does not apply to this resource")]
    outcomes = applied
    return [(_cli_result(o, policy), _message(o)) for o in outcomes]


def _cli_result(outcome: Outcome, policy: Policy) -> str:
    """What Kyverno's CLI reports for ``outcome``: a failure is ``fail``
    whatever the validation actions, ``warn`` only for a policy annotated
    ``policies.kyverno.io/scored: "false"``."""
    if outcome.result in (FAIL, WARN):
        annotations = getattr(policy, "annotations", None)
        scored = annotations.get(SCORED) if isinstance(annotations, Mapping) else None
        return WARN if scored == "false" else FAIL
    return outcome.result if outcome.result in RESULTS else ERROR


def _message(outcome: Outcome) -> str:
    if outcome.failures:
        return "; ".join(f.message for f in outcome.failures[:5])
    if outcome.result == PASS:
        return ""
    return outcome.message


def _evaluate(policy: Policy, subject: Subject, lookup: TestLookup) -> list[Outcome]:
    """``policy.evaluate``, which never raises by contract; should an evaluator
    break it, the result is an ``error`` naming the exception rather than a
    traceback that would end every other test of the run."""
    try:
        return list(policy.evaluate(subject, lookup))
    except Exception as exc:  # a broken evaluator is one error result, not the run's end
        return [Outcome(policy.name, "", ERROR,
                        message=f"the evaluator failed: {type(exc).__name__}")]


def _subject(obj: dict[str, Any], operation: str, user_info: Mapping[str, Any],
             lookup: TestLookup) -> Subject:
    """The admission request ``kyverno test`` simulates for ``obj``."""
    namespace_obj = None
    if obj.get("kind") not in CLUSTER_SCOPED:
        namespace_obj = lookup.namespace(_namespace_of(obj) or "default")
    if operation == "DELETE":
        return Subject(None, obj, operation, user_info, namespace_obj)
    old = obj if operation == "UPDATE" else None
    return Subject(obj, old, operation, user_info, namespace_obj)


def _operation(values: Mapping[str, Any]) -> str | None:
    op = values.get("request.operation")
    if op is None:
        request = values.get("request")
        op = request.get("operation") if isinstance(request, Mapping) else None
    return op if op in OPERATIONS else None


def _input_error(err: PolicyError) -> InputError:
    return InputError(err.source.file or "<policy>", err.source.line or None, err.message)


def run_tests(paths: Sequence[str], kube_version: tuple[int, int] | None = None) -> TestRun:
    """Every test file under ``paths``, run: what ``kubeproof test`` prints."""
    return Runner(kube_version).test_paths(paths)


def run_test_data(data: dict[str, Any], path: str,
                  kube_version: tuple[int, int] | None = None) -> TestRun:
    """One test given as data, as if read from ``path`` (its files are relative
    to that folder): for tests built by a program, such as the three upstream
    VAP cases whose expectations live in Kyverno's Go tests."""
    runner = Runner(kube_version)
    runner.test_document(TestDocument(path, data, None, 1))
    return runner.run
