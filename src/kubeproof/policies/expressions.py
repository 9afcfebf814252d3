"""The CEL of an admission policy, compiled once and evaluated per request:
``matchConditions``, ``variables``, ``validations`` (with ``message``,
``messageExpression``, ``reason``, ``fieldPath``) and ``auditAnnotations``,
shared by ValidatingAdmissionPolicy and Kyverno's ValidatingPolicy.

Every expression is compiled once in one cached
:class:`~kubeproof.k8s.cel.Environment` per (Kubernetes version, engine):
Kyverno's adds the cel-go extensions it enables (``cel.bind``, ``base64``,
``math``) and its ``orValue`` compatibility.

Evaluation, as the API server's validator does it: ``matchConditions`` all
true or the request is skipped (a false one wins over an error); then every
validation; an evaluation error (an expression over its cost budget too) is a
failure with reason ``EvaluationError`` under ``failurePolicy: Fail`` and an
error under ``Ignore``. ``variables`` are evaluated lazily, once, when an
expression names them; a variable that fails makes only the expressions that
use it fail. The binding cannot hand an ``optional`` back into CEL, so a
variable whose type is always optional is inlined (its text, parenthesised)
into the expressions that use it. So is, for speed, every variable that names
no bound variable, wherever the expression still compiles: expressions then
share one set of bindings (one conversion of the object into CEL per object);
when one of them fails, its variables are evaluated as bound ones to say
which failed. The others are bound as values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python.ext import ext_bindings, ext_encoders, ext_math

from kubeproof.k8s.cel import CelError, Environment, Optional, Program
from kubeproof.policies.match import Matcher
from kubeproof.policies.model import Failure
from kubeproof.policies.unsupported import STRING_LITERAL, blank_strings

VARIABLES = ("object", "oldObject", "request", "params", "namespaceObject", "authorizer",
             "variables")
EVALUATION_ERROR = "EvaluationError"
MAX_VALIDATIONS = 1000
MAX_VARIABLES = 1000
MAX_INLINED = 4096  # an expression with variables inlined longer than this keeps them bound
MAX_CONDITIONS = 64
MAX_MESSAGE = 4096

_ENVIRONMENTS: dict[tuple[tuple[int, int] | None, bool], Environment] = {}
_VARIABLE_REF = re.compile(r"(?<![\w.])variables\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def environment(kube_version: tuple[int, int] | None, kyverno: bool) -> Environment:
    """The environment of admission expressions, built once per run."""
    key = (kube_version, kyverno)
    env = _ENVIRONMENTS.get(key)
    if env is None:
        extensions = ([ext_bindings.ExtBindings(), ext_encoders.ExtEncoders(),
                       ext_math.ExtMath()] if kyverno else [])
        env = _ENVIRONMENTS[key] = Environment(VARIABLES, kube_version, extensions=extensions)
    return env


@dataclass(frozen=True, slots=True)
class Expr:
    """One compiled expression (``program`` None: it did not compile, ``error`` says why)."""

    text: str
    where: str
    program: Program | None
    error: str
    uses: frozenset[str]  # the variables it names that are bound
    inlined: frozenset[str] = frozenset()  # the variables it names that are inlined


_OR_VALUE = re.compile(
    STRING_LITERAL + r"|(?<![\w.?\])])([A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)+)"
    r"(\s*\.\s*orValue\s*\()", re.S)


def kyverno_or_value(expression: str) -> str:
    """Kyverno's ``orValue`` compatibility: ``a.b.c.orValue(y)`` on a plain
    field chain (never optional in Kubernetes' CEL, where it is a "no such
    overload" error) gives ``a.b.c`` or, when that is missing, ``y``, as
    cel-go before 0.28 did; written here as ``a.?b.?c.orValue(y)``. Chains
    of ``variables`` are left alone (a variable may hold an optional)."""
    def sub(m: re.Match[str]) -> str:
        chain = m.group(1)
        if chain is None or chain.split(".")[0].strip() == "variables":
            return m.group(0)
        head, *rest = [part.strip() for part in chain.split(".")]
        return head + "".join(f".?{part}" for part in rest) + m.group(2)
    return _OR_VALUE.sub(sub, expression)


@dataclass(slots=True)
class Compiler:
    env: Environment
    errors: list[str]
    inline: dict[str, str] = field(default_factory=dict)  # optional-typed variables
    kyverno: bool = False
    # the other variables, inlined where the result still compiles: an expression
    # that names no bound variable shares the bindings of every other such one,
    # so the object is converted into CEL once per object, not once more after
    # each variable (measured: a third of evaluating 20 Kyverno policies)
    inline_fast: dict[str, str] = field(default_factory=dict)

    def expr(self, text: Any, where: str, *, required: bool = True) -> Expr | None:
        if text is None and not required:
            return None
        if not isinstance(text, str) or not text.strip():
            self.errors.append(f"{where}: an expression (a non-empty string) is required")
            return Expr("", where, None, "no expression", frozenset())
        uses = frozenset(_VARIABLE_REF.findall(blank_strings(text)))
        fast = uses & self.inline_fast.keys()
        if fast:
            program = self._compile(self._inlined(text, {**self.inline_fast, **self.inline}))
            if program is not None and len(program.expression) <= MAX_INLINED:
                return Expr(text, where, program, "", uses - self.inline_fast.keys(), fast)
        source = self._inlined(text, self.inline) if uses & self.inline.keys() else text
        try:
            program = self.env.compile(self._kyverno(source))
        except CelError as err:
            message = short(str(err))
            self.errors.append(f"{where}: {message}")
            return Expr(text, where, None, message, uses)
        return Expr(text, where, program, "", uses)

    def _kyverno(self, source: str) -> str:
        return kyverno_or_value(source) if self.kyverno and "orValue" in source else source

    def _compile(self, source: str) -> Program | None:
        """``source`` compiled, None when it does not compile (the caller falls back)."""
        try:
            return self.env.compile(self._kyverno(source))
        except CelError:
            return None

    def _inlined(self, text: str, inline: Mapping[str, str] | None = None) -> str:
        inline = self.inline if inline is None else inline

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name is None or name not in inline:
                return m.group(0)
            return f"({inline[name]})"
        pattern = re.compile(STRING_LITERAL + "|" + _VARIABLE_REF.pattern, re.S)
        return pattern.sub(sub, text)


@dataclass(frozen=True, slots=True)
class Validation:
    expr: Expr
    message: str
    message_expr: Expr | None
    reason: str
    field_path: str | None


@dataclass(frozen=True, slots=True)
class Body:
    """What is evaluated once a policy (or an autogen variant of it) matches."""

    matcher: Matcher
    conditions: tuple[tuple[str, Expr], ...]
    variables: tuple[tuple[str, Expr], ...]
    validations: tuple[Validation, ...]
    audit: tuple[tuple[str, Expr], ...]


def compile_body(spec: Mapping[str, Any], compiler: Compiler, where: str,
                 matcher: Matcher, rewrite: Callable[[str], str] = lambda s: s,
                 extra_condition: str = "") -> Body | None:
    """The expressions of ``spec`` compiled (None: the spec's shape is unusable;
    the reasons are in ``compiler.errors``)."""
    errors = compiler.errors
    shape_ok = True

    def listed(key: str, limit: int) -> list[Any]:
        nonlocal shape_ok
        value = spec.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            errors.append(f"{where}.{key} must be a list")
            shape_ok = False
            return []
        if len(value) > limit:
            errors.append(f"{where}.{key}: {len(value)} entries, more than {limit}")
            shape_ok = False
            return []
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                errors.append(f"{where}.{key}[{i}] must be a mapping")
                shape_ok = False
                return []
        return value

    def text(value: Any) -> Any:
        return rewrite(value) if isinstance(value, str) else value

    variables: list[tuple[str, Expr]] = []
    seen: set[str] = set()
    for i, item in enumerate(listed("variables", MAX_VARIABLES)):
        name = item.get("name")
        at = f"{where}.variables[{i}]"
        if not isinstance(name, str) or not _NAME.match(name) or name in seen:
            errors.append(f"{at}.name must be a unique CEL identifier")
            shape_ok = False
            continue
        seen.add(name)
        expr = compiler.expr(text(item.get("expression")), f"{at}.expression")
        assert expr is not None
        if expr.program is not None and _always_optional(expr.program):
            compiler.inline[name] = _source_of(expr, compiler)
        elif expr.program is not None and not expr.uses:
            # one that names no bound variable (those it names are inlined in it)
            compiler.inline_fast[name] = compiler._inlined(
                expr.text, {**compiler.inline_fast, **compiler.inline})
        variables.append((name, expr))
    conditions: list[tuple[str, Expr]] = []
    for i, item in enumerate(listed("matchConditions", MAX_CONDITIONS)):
        name = item.get("name")
        at = f"{where}.matchConditions[{i}]"
        if not isinstance(name, str) or not name:
            errors.append(f"{at}.name is required")
            shape_ok = False
            continue
        source = text(item.get("expression"))
        if extra_condition and isinstance(source, str):
            source = f"!({extra_condition}) || ({source})"
        expr = compiler.expr(source, f"{at}.expression")
        assert expr is not None
        conditions.append((name, expr))
    validations: list[Validation] = []
    for i, item in enumerate(listed("validations", MAX_VALIDATIONS)):
        at = f"{where}.validations[{i}]"
        expr = compiler.expr(text(item.get("expression")), f"{at}.expression")
        assert expr is not None
        message_expr = compiler.expr(text(item.get("messageExpression")),
                                     f"{at}.messageExpression", required=False)
        message = text(item.get("message"))
        reason = item.get("reason")
        field_path = item.get("fieldPath")
        if isinstance(field_path, str) and field_path:
            # an autogen variant's field lives in the pod template, as its expressions do
            field_path = rewrite(f"object.{field_path}").removeprefix("object.")
        validations.append(Validation(
            expr, message if isinstance(message, str) else "", message_expr,
            reason if isinstance(reason, str) and reason else "Invalid",
            field_path if isinstance(field_path, str) and field_path else None))
    audit: list[tuple[str, Expr]] = []
    for i, item in enumerate(listed("auditAnnotations", MAX_VALIDATIONS)):
        at = f"{where}.auditAnnotations[{i}]"
        key = item.get("key")
        if not isinstance(key, str) or not key:
            errors.append(f"{at}.key is required")
            shape_ok = False
            continue
        expr = compiler.expr(text(item.get("valueExpression")), f"{at}.valueExpression")
        assert expr is not None
        audit.append((key, expr))
    if not shape_ok:
        return None
    return Body(matcher, tuple(conditions), tuple(variables), tuple(validations), tuple(audit))


def _always_optional(program: Program) -> bool:
    # env.Program keeps no compiled plain program when the result type is optional
    return getattr(program, "_compiled", True) is None


def _source_of(expr: Expr, compiler: Compiler) -> str:
    return compiler._inlined(expr.text) if expr.uses & compiler.inline.keys() else expr.text


# --- evaluation ----------------------------------------------------------------

@dataclass(slots=True)
class _Run:
    """The state of one evaluation: bindings and the variables computed so far."""

    body: Body
    bindings: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    var_errors: dict[str, str] = field(default_factory=dict)
    # the bindings before any variable: what an expression that reads no variable
    # is given, so that it shares the CEL activation of every other such one (the
    # object is converted into CEL once, not again after each new variable)
    base: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.base = dict(self.bindings)

    def eval(self, expr: Expr) -> Any:
        """The value of ``expr``; raises CelError (or _Broken) when it cannot be had."""
        if expr.program is None:
            raise _Broken(f"{expr.where}: {expr.error}")
        if expr.uses:
            self._variables(expr.uses)
        try:
            return expr.program.evaluate(self.bindings if expr.uses else self.base)
        except CelError:
            if expr.inlined:  # which inlined variable failed, as if it were bound
                self._variables(expr.inlined)
            bad = sorted((expr.uses | expr.inlined) & self.var_errors.keys())
            if bad:
                raise _Broken(f"variable '{bad[0]}': {self.var_errors[bad[0]]}") from None
            raise

    def _variables(self, names: frozenset[str]) -> None:
        needed = set(names)
        # close over the variables the needed ones use (they are defined earlier)
        for name, expr in reversed(self.body.variables):
            if name in needed:
                needed |= expr.uses
        for name, expr in self.body.variables:
            if name not in needed or name in self.values or name in self.var_errors:
                continue
            if expr.program is None:
                self.var_errors[name] = expr.error
                continue
            try:
                value = expr.program.evaluate(self.bindings if expr.uses else self.base)
            except CelError as err:
                self.var_errors[name] = short(str(err))
                continue
            if isinstance(value, Optional):
                self.var_errors[name] = "the variable holds an optional value"
                continue
            self.values[name] = value
            self.bindings["variables"] = dict(self.values)


class _Broken(Exception):
    """An expression that cannot be evaluated for a reason outside CEL."""


@dataclass(slots=True)
class Verdict:
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    annotations: list[tuple[str, str]] = field(default_factory=list)
    evaluated: int = 0
    skipped: list[str] = field(default_factory=list)


def evaluate_body(policy: str, body: Body, bindings: dict[str, Any], fail_closed: bool,
                   actions: frozenset[str], binding: str, verdict: Verdict) -> None:
    run = _Run(body, bindings)

    def error(what: str, why: str) -> None:
        message = short(f"{what} resulted in error: {why}")
        if fail_closed:
            verdict.failures.append(Failure(message, None, EVALUATION_ERROR, actions, binding))
        else:
            verdict.errors.append(message)

    # matchConditions: a false one skips; an error counts only when none is false
    condition_error = ""
    for name, expr in body.conditions:
        try:
            value = run.eval(expr)
        except (CelError, _Broken) as err:
            condition_error = condition_error or f"matchCondition '{name}'|{err}"
            continue
        if value is False:
            verdict.skipped.append(f"matchCondition '{name}' is false")
            return
        if value is not True:
            condition_error = condition_error or (
                f"matchCondition '{name}'|the result is not a bool ({_type_name(value)})")
    if condition_error:
        what, _, why = condition_error.partition("|")
        error(what, why)
        return
    verdict.evaluated += 1
    for validation in body.validations:
        try:
            value = run.eval(validation.expr)
        except (CelError, _Broken) as err:
            error(f"expression '{short(validation.expr.text, 200)}'", str(err))
            continue
        if value is True:
            continue
        if value is not False:
            error(f"expression '{short(validation.expr.text, 200)}'",
                  f"the result is not a bool ({_type_name(value)})")
            continue
        verdict.failures.append(Failure(_message(run, validation), validation.field_path,
                                        validation.reason, actions, binding))
    for key, expr in body.audit:
        try:
            value = run.eval(expr)
        except (CelError, _Broken) as err:
            error(f"auditAnnotation '{key}'", str(err))
            continue
        if value is None:
            continue
        if not isinstance(value, str):
            error(f"auditAnnotation '{key}'",
                  f"valueExpression must return a string, not {_type_name(value)}")
            continue
        verdict.annotations.append((f"{policy}/{key}", value))


def _message(run: _Run, validation: Validation) -> str:
    """As the API server words it: the ``messageExpression`` result when it is
    a non-blank string without a line break (else, or on an error, what
    follows), the ``message``, else ``failed expression: <expression>``."""
    if validation.message_expr is not None:
        try:
            value = run.eval(validation.message_expr)
        except (CelError, _Broken):
            value = None
        if isinstance(value, str) and value.strip() and "\n" not in value:
            return short(value, MAX_MESSAGE)
    if validation.message:
        return short(validation.message, MAX_MESSAGE)
    return short(f"failed expression: {validation.expr.text.strip()}", MAX_MESSAGE)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def short(text: str, limit: int = 500) -> str:
    """One line of at most ``limit`` characters: a CEL error's first line holds
    its position and reason (the lines after it repeat the source with a caret)."""
    text = text.strip().split("\n", 1)[0]
    return text if len(text) <= limit else text[:limit - 3] + "..."
