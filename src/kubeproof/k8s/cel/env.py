"""Compile once, evaluate many: CEL environments as the Kubernetes API server
builds them, over cel-expr-python (Google's CEL C++ runtime).

An :class:`Environment` is built once per (Kubernetes version, variables) and
compiles expressions into :class:`Program` values; a program is evaluated per
object with its variables bound to JSON values. Compile errors raise
:class:`CelCompileError`, evaluation errors :class:`CelEvalError`, work over
the budget :class:`CelCostError` (a :class:`CelEvalError`); nothing else
escapes.

Cost: the C++ runtime exposes no cost tracking; it stops an evaluation after
10,000 comprehension iterations in all (found by measuring: one ``all()`` over
10,000 elements fails), reported as :class:`CelCostError`. Around it, before
anything runs:

* an expression longer than :data:`MAX_EXPRESSION` characters is refused at
  compile time, as is one whose comprehensions (``all``, ``exists``,
  ``exists_one``, ``map``, ``filter``, ``sortBy``) nest deeper than
  :data:`MAX_NESTING`;
* an evaluation is refused when its estimated cost, the size of its inputs
  (JSON nodes, plus :data:`library.MAX_LIST` when the expression can build a
  list of its own) raised to the comprehension nesting depth, exceeds
  :data:`COST_LIMIT` (the API server's per-expression limit, 10^7 cost units);
* every library function bounds its own work (strings and lists by size, see
  ``library.py``); ``matches``, ``find`` and ``findAll`` run on RE2 (linear
  time, whatever the pattern).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_optional, ext_strings
from google.protobuf import descriptor_pool

from kubeproof.k8s.cel import authz, checks, formatting, library, schema
from kubeproof.k8s.cel.schema import type_by_schema
from kubeproof.k8s.cel.values import KIND, TYPE_NAMES

MAX_EXPRESSION = 16 * 1024
MAX_NESTING = 4
MAX_PROGRAMS = 4096  # compiled programs kept per environment
COST_LIMIT = 10_000_000
MAX_INPUT_NODES = 1_000_000

# Newest Kubernetes minor whose CEL libraries are all here
LATEST = (1, 37)

_COMPREHENSIONS = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter|sortBy)\s*\(")
_LIST_BUILDERS = re.compile(r"lists\.range|\.flatten\s*\(|\.findAll\s*\(|\.split\s*\(")
_OPTIONAL_TYPE = "optional_type"


class CelError(Exception):
    """An expression that cannot be compiled or evaluated; the message says why."""


class CelCompileError(CelError):
    """Parse or type-check error (the message carries <input>:line:column)."""


class CelEvalError(CelError):
    """The evaluation failed (no such key, overflow, a library function's error)."""


class CelCostError(CelEvalError):
    """The evaluation would exceed the cost budget; it was not started."""


class CelNotEvaluated(CelError):
    """The expression needs what is not there offline: it reached an authz
    ``check()`` with no :class:`authz.Authorizer` given. Not a
    :class:`CelEvalError` on purpose: a caller that maps evaluation errors
    to ``failurePolicy`` must not take this for one (the API server would
    have decided it); it is reported as not evaluated, never guessed."""


@dataclass(frozen=True, slots=True)
class Optional:
    """A CEL ``optional`` result: ``optional.none()`` when not ``has_value``."""

    has_value: bool
    value: Any = None


class Environment:
    """The Kubernetes base CEL environment at ``kube_version`` (None: every
    library, as the API server's stored-expressions environment), with the
    given variables, all typed ``dyn``. ``library_versions`` pins a library's
    own version where a caller needs an older one (``{"semver": 0}``);
    ``extensions`` adds cel-go extensions another engine enables (Kyverno's
    bindings, encoders and math)."""

    def __init__(self, variables: Iterable[str] = ("self",),
                 kube_version: tuple[int, int] | None = None,
                 library_versions: Mapping[str, int] | None = None,
                 extensions: Iterable[cel.CelExtensionBase] = ()) -> None:
        self.kube_version = kube_version or LATEST  # None: the stored-expressions env
        self.variables = tuple(variables)
        overloads: dict[str, list[cel.Overload]] = {}
        for fn in library.FUNCTIONS:
            if fn.since > self.kube_version or fn.version > (library_versions or {}).get(
                    fn.library, fn.version):
                continue
            oid = f"kp_{fn.name}_{'_'.join(p.name() for p in fn.params)}_{fn.member}"
            overloads.setdefault(fn.name, []).append(cel.Overload(
                re.sub(r"\W", "_", oid), fn.result, list(fn.params), fn.member, fn.impl))
        extension = cel.CelExtension("kubernetes", [cel.FunctionDecl(name, group)
                                                    for name, group in overloads.items()])
        loaded: list[cel.CelExtensionBase] = [extension]
        if self.kube_version >= (1, 28):
            loaded.append(ext_optional.ExtOptional())
        loaded.append(ext_strings.ExtStrings())
        loaded.extend(extensions)
        # the default pool: the Kubernetes type names of values.py live there
        self._env = cel.NewEnv(descriptor_pool=descriptor_pool.Default(),
                               variables={name: cel.Type.DYN for name in self.variables},
                               extensions=loaded)
        # expression -> its program: policies repeat expressions (the sixteen Pod
        # Security policies of Kyverno's library share their container variables),
        # and a program is immutable, so each text is compiled once
        self._programs: dict[str, Program] = {}

    def compile(self, expression: str) -> Program:
        program = self._programs.get(expression)
        if program is None:
            program = self._compile(expression)
            if len(self._programs) >= MAX_PROGRAMS:
                del self._programs[next(iter(self._programs))]
            self._programs[expression] = program
        return program

    def _compile(self, expression: str) -> Program:
        if len(expression) > MAX_EXPRESSION:
            raise CelCompileError(f"expression longer than {MAX_EXPRESSION} characters")
        depth = _nesting(expression)
        if depth > MAX_NESTING:
            raise CelCompileError(f"comprehensions nested {depth} deep, more than "
                                  f"{MAX_NESTING}: over the cost budget")
        source = _prepare(expression)
        _check_literals(self._env, source, self.kube_version >= (1, 29))
        try:
            compiled = self._env.compile(source)
            returns = compiled.return_type().name()
            # the binding cannot hand an optional back to Python: an optional
            # result (or a dyn one that may be optional, as `x[?k]` on dyn x)
            # is also read through `hasValue()`
            as_optional = None
            if returns.startswith(_OPTIONAL_TYPE) or returns == "DYN":
                as_optional = self._env.compile(
                    f"(({source}).hasValue() ? [true, ({source}).value()] : [false])")
            if returns.startswith(_OPTIONAL_TYPE):
                compiled = None
        except RuntimeError as err:
            raise CelCompileError(_clean(str(err))) from None
        self._check_types(expression)
        builds = _LIST_BUILDERS.search(expression) is not None
        return Program(expression, compiled, as_optional, depth, builds,
                       binds_authorizer="authorizer" in self.variables, env=self._env)


    def _check_types(self, expression: str) -> None:
        """What upstream's type checker refuses and this dyn environment
        would not (checks.py)."""
        scanned = checks.scan(expression)
        # sub-expressions are compiled alone to type them: at most this many
        # characters in all (nested literals would otherwise cost quadratic time)
        budget = [4 * len(expression) + 4096]
        known: dict[str, str | None] = {}

        def type_of(text: str) -> str | None:
            if text not in known:
                known[text] = _constant_type(text)
                if known[text] is None and budget[0] >= len(text):
                    budget[0] -= len(text)
                    known[text] = self._compiled_type(text)
            return known[text]

        try:
            if self.kube_version >= (1, 29):
                checks.homogeneous_literals(scanned, type_of)
            checks.list_function_receivers(scanned, type_of)
        except checks.CheckError as err:
            raise CelCompileError(str(err)) from None

    def _compiled_type(self, text: str) -> str | None:
        """The type of a sub-expression as cel-go names it; None when unknown."""
        try:
            name = self._env.compile(_prepare(text)).return_type().name()
        except (RuntimeError, CelCompileError):
            return None
        if "DYN" in name or "ERROR" in name:
            return None
        return _go_type_name(name)


_CONSTANTS = ((re.compile(r"-?(?:0x[0-9a-fA-F]+|\d+)"), "int"),
              (re.compile(r"(?:0x[0-9a-fA-F]+|\d+)[uU]"), "uint"),
              (re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?"), "double"),
              (re.compile(r"true|false"), "bool"), (re.compile(r"null"), "null_type"),
              (re.compile(r"'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\""), "string"))


def _constant_type(text: str) -> str | None:
    for pattern, name in _CONSTANTS:
        if pattern.fullmatch(text):
            return name
    return None


_GO_NAMES = {"NULL": "null_type", "DURATION": "google.protobuf.Duration",
             "TIMESTAMP": "google.protobuf.Timestamp"}


def _go_type_name(name: str) -> str:
    """cel-cpp's ``LIST<MAP<STRING, INT>>`` as cel-go's ``list(map(string, int))``."""
    def one(m: re.Match[str]) -> str:
        word = m.group(0)
        return _GO_NAMES.get(word, word.lower() if word.isupper() else word)
    return re.sub(r"[A-Za-z_][A-Za-z0-9_.]*", one, name).replace("<", "(").replace(">", ")")


def _prepare(expression: str) -> str:
    """The expression as the binding compiles it (the rewrites below)."""
    return _non_zero(_types(_sort_by(_optional_calls(_rename(
        _sum_paths(_scientific_format(expression)))))))


class Program:
    """One compiled expression; :meth:`evaluate` is safe to call many times."""

    def __init__(self, expression: str, compiled: Any, as_optional: Any, depth: int,
                 builds_lists: bool, binds_authorizer: bool = False, env: Any = None) -> None:
        self.expression = expression
        self._env = env  # the cel.Env that compiled it: it makes activations
        self._compiled = compiled  # None: the result is always optional
        self._as_optional = as_optional
        self.depth = depth
        self._builds_lists = builds_lists
        self._authorizer = binds_authorizer  # bind `authorizer` when the caller does not

    def evaluate(self, bindings: Mapping[str, Any] | None = None,
                 schemas: Mapping[str, Any] | None = None,
                 authorizer: authz.Authorizer | None = None) -> Any:
        """The value of the expression with ``bindings`` (JSON values, typed by
        the OpenAPI ``schemas`` of each variable where given): a JSON-like
        Python value, :class:`Optional`, or an opaque Kubernetes value (see
        values.py).

        ``authorizer`` decides the authz library's checks; the ``authorizer``
        variable, where declared and not bound, is the requesting user's
        (from the ``request`` binding). Without one, an evaluation that
        reaches a check raises :class:`CelNotEvaluated`."""
        if not self._authorizer and authorizer is None:
            # no authorizer value can exist, so no check can run: skip the state
            return self._evaluate(bindings, schemas, None)
        run = authz.Run(authorizer)
        token = authz.CURRENT.set(run)
        try:
            result = self._evaluate(bindings, schemas, run)
        except CelEvalError:
            if run.reached and authorizer is None:
                raise CelNotEvaluated("authorizer checks cannot be decided offline: "
                                      "not evaluated") from None
            raise
        finally:
            authz.CURRENT.reset(token)
        if run.reached and authorizer is None:
            raise CelNotEvaluated("authorizer checks cannot be decided offline: not evaluated")
        return result

    def _evaluate(self, bindings: Mapping[str, Any] | None,
                  schemas: Mapping[str, Any] | None, run: authz.Run | None) -> Any:
        data = dict(bindings or {})
        if run is not None and self._authorizer and "authorizer" not in data:
            data["authorizer"] = authz.authorizer_value(run, data.get("request"))
        if schemas:
            for name, value in data.items():
                if name in schemas:
                    data[name] = type_by_schema(value, schemas[name])
        # the estimate matters only where comprehensions multiply the input's size
        # (without them an evaluation is linear in the expression: not counted)
        nodes = self._input_nodes(data) if self.depth else 0
        if self.depth and max(nodes, 1) ** self.depth > COST_LIMIT:
            raise CelCostError(f"estimated cost {nodes}^{self.depth} over the budget "
                               f"{COST_LIMIT}")
        token = schema.CURRENT.set(schemas) if schemas else None
        try:
            return self._result(data)
        finally:
            if token is not None:
                schema.CURRENT.reset(token)

    def _input_nodes(self, data: dict[str, Any]) -> int:
        """The JSON nodes of the inputs (and of the lists the expression may build)."""
        key = tuple((name, id(value)) for name, value in data.items())
        values = tuple(data.values())
        known = _NODES.get(key)
        if known is None or not all(a is b for a, b in zip(known[0], values, strict=True)):
            if len(_NODES) >= _ACTIVATIONS_MAX:
                del _NODES[next(iter(_NODES))]
            known = _NODES[key] = (values, _count_inputs(data))
        return known[1] + (library.MAX_LIST if self._builds_lists else 0)

    def _result(self, data: dict[str, Any]) -> Any:
        inputs = _activation(self._env, data)
        if self._compiled is not None:
            try:
                return _run(self._compiled, inputs)
            except TypeError:  # an optional in a dyn result
                if self._as_optional is None:
                    raise CelEvalError("result of a type the binding cannot return") from None
        try:
            flag = _run(self._as_optional, inputs)
        except TypeError:
            raise CelEvalError("result of a type the binding cannot return") from None
        return Optional(True, flag[1]) if flag[0] else Optional(False)


# (names, ids of the values) -> (the values, their cel.Activation), least
# recently used first. Converting the bindings into CEL values is most of an
# evaluation (measured: 34 us of data against 2 us with a ready activation for
# a Deployment), and every expression of every policy judging one object gets
# the same bindings: they are converted once. The values are kept with their
# activation, so their ids cannot be reused while it lives; values are not
# changed while they are judged.
_ACTIVATIONS: dict[tuple[tuple[str, int], ...], tuple[tuple[Any, ...], Any]] = {}
_ACTIVATIONS_MAX = 8  # bounds the memory kept (an object converted, per entry)


def _activation(env: Any, data: dict[str, Any]) -> Any:
    """A cel.Activation of ``data`` (the data itself when there is no env)."""
    if env is None:
        return data
    key = tuple((name, id(value)) for name, value in data.items())
    known = _ACTIVATIONS.pop(key, None)
    values = tuple(data.values())
    if known is not None and all(a is b for a, b in zip(known[0], values, strict=True)):
        _ACTIVATIONS[key] = known
        return known[1]
    try:
        activation = env.Activation(data=data)
    except (TypeError, RuntimeError):  # the evaluation reports what cannot be converted
        return data
    if len(_ACTIVATIONS) >= _ACTIVATIONS_MAX:
        del _ACTIVATIONS[next(iter(_ACTIVATIONS))]
    _ACTIVATIONS[key] = (values, activation)
    return activation


def _run(compiled: Any, inputs: Any) -> Any:
    """Evaluate with ``inputs`` (an activation, or the data); CEL errors raised
    as CelEvalError (CelCostError past the runtime's own comprehension
    iteration budget), TypeError when the binding cannot convert the result."""
    try:
        result = compiled.eval(data=inputs) if isinstance(inputs, dict) else \
            compiled.eval(activation=inputs)
    except RuntimeError as err:
        message = _clean(str(err))
        if "budget exceeded" in message:
            raise CelCostError(message) from None
        raise CelEvalError(message) from None
    if result.type() == cel.Type.ERROR:
        raise CelEvalError(_clean(str(result.value())))
    return result.plain_value()


def _clean(message: str) -> str:
    for name, alias in [*library.RENAMED.items(), *library.OPTIONAL_RESULT.items()]:
        message = message.replace(alias, name)
    message = message.replace('[?"v"]', "")
    return re.sub(r" \[[A-Z_]+\]$", "", message.strip())


_STRINGS = r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\""
_STRING_RE = re.compile(_STRINGS)
_RENAME = re.compile(_STRINGS + r"|\.\s*(" + "|".join(library.RENAMED) + r")\s*\(")


_OPTIONAL_CALL = re.compile(_STRINGS + r"|(\.\s*validate|\bformat\.named)\s*\(")


def _optional_calls(expression: str) -> str:
    """``x.validate(s)`` as ``x.validat_(s)[?"v"]`` (library.OPTIONAL_RESULT)."""
    if "validate" not in expression and "named" not in expression:
        return expression
    closings = _closings(expression)
    out: list[str] = []
    pos = 0
    for m in _OPTIONAL_CALL.finditer(expression):
        if m.group(1) is None or m.start() < pos:
            continue
        close = closings.get(m.end() - 1, -1)
        if close < 0:
            continue
        name = m.group(1)
        bare = name.lstrip(".").strip()
        alias = name.replace(bare, library.OPTIONAL_RESULT[bare])
        out.append(expression[pos:m.start()] + alias + expression[m.end(1):close + 1]
                   + '[?"v"]')
        pos = close + 1
    out.append(expression[pos:])
    return "".join(out)


def _closings(text: str) -> dict[int, int]:
    """For each ``(`` outside string literals, the index of the ``)`` closing it
    (one pass, so a rewrite stays linear in the expression)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i = 0
    while i < len(text):
        m = _STRING_RE.match(text, i)
        if m:
            i = m.end()
            continue
        if text[i] == "(":
            stack.append(i)
        elif text[i] == ")" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


_SORT_BY = re.compile(_STRINGS + r"|\.\s*sortBy\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")


def _sort_by(expression: str) -> str:
    """The ext.Lists ``sortBy`` macro, which the binding lacks, as
    ``l.map(e, [key, e]).sortB_()``."""
    if "sortBy" not in expression:
        return expression
    closings = _closings(expression)
    out: list[str] = []
    pos = 0
    for m in _SORT_BY.finditer(expression):
        if m.group(1) is None or m.start() < pos:
            continue
        close = closings.get(m.start() + m.group(0).index("("), -1)
        if close < 0:
            continue
        var = m.group(1)
        out.append(f"{expression[pos:m.start()]}.map({var}, [{expression[m.end():close]}, "
                   f"{var}]).{library.SORT_BY}()")
        pos = close + 1
    out.append(expression[pos:])
    return "".join(out)


_LITERAL = re.compile(r"\b(duration|timestamp)\s*\(\s*(" + _STRINGS + r"|-?\d+)\s*\)"
                      r"|\.\s*(matches|find|findAll)\s*\(\s*(" + _STRINGS + r")\s*[,)]")


def _check_literals(env: Any, expression: str, validate: bool) -> None:
    """Constant arguments judged at compile time as the API server does: the
    regular expressions of find/findAll always (compiled when the program is
    built), duration/timestamp/matches literals from 1.29 (literal validators)."""
    for m in _LITERAL.finditer(expression):
        if m.group(3) in ("find", "findAll"):
            probe = f"''.{m.group(3)}({m.group(4)})"
        elif not validate:
            continue
        elif m.group(3) == "matches":
            probe = f"''.matches({m.group(4)})"
        else:
            probe = m.group(0)
        try:
            result = env.compile(probe).eval()
            failed = result.type() == cel.Type.ERROR
            detail = str(result.value()) if failed else ""
        except RuntimeError as err:
            failed, detail = True, str(err)
        if failed:
            line = expression.count("\n", 0, m.start()) + 1
            column = m.start() - (expression.rfind("\n", 0, m.start()) + 1) + 1
            what = m.group(1) or m.group(3)
            raise CelCompileError(f"ERROR: <input>:{line}:{column}: invalid {what} argument: "
                                  f"{_clean(detail)}")


_OPAQUE_KINDS = "[" + ", ".join(f"'{kind}'" for kind in TYPE_NAMES) + "]"
_TYPE_CALL = re.compile(_STRINGS + r"|(?<![\w.])type\s*\(")


def _rewrite_calls(expression: str, call: re.Pattern[str], rewrite: Callable[[str], str],
                   what: str) -> str:
    """Each call ``call`` matches (outside string literals) replaced by
    ``rewrite(its argument text)``; a result past 4 x MAX_EXPRESSION (nested
    calls multiply it) is a compile error naming ``what``."""
    closings = _closings(expression)
    out: list[str] = []
    pos = 0
    for m in call.finditer(expression):
        if m.group(0)[:1] in "'\"" or m.start() < pos:
            continue
        close = closings.get(m.end() - 1, -1)
        if close < 0:
            continue
        out.append(expression[pos:m.start()] + rewrite(expression[m.end():close]))
        pos = close + 1
    out.append(expression[pos:])
    rewritten = "".join(out)
    if len(rewritten) > 4 * MAX_EXPRESSION:
        raise CelCompileError(f"{what} calls nested too deep or over too long an argument")
    return rewritten


def _types(expression: str) -> str:
    """``type(e)`` as ``(<e is an opaque map> ? type(kp_type(e)) : type(e))``,
    so an opaque value shows its Kubernetes type (values.py). The test is plain
    CEL: a Python function never takes a ``dyn`` argument, because the binding
    crashes the process converting a top-level optional (measured: SIGSEGV)."""
    if "type" not in expression:
        return expression

    def rewrite(argument: str) -> str:
        inner = _types(argument)
        return (f"((type({inner}) == map && '{KIND}' in dyn({inner}) "
                f"&& dyn({inner})['{KIND}'] in {_OPAQUE_KINDS}) ? "
                f"type({library.TYPE_OF}(dyn({inner}))) : type({inner}))")
    return _rewrite_calls(expression, _TYPE_CALL, rewrite, "type()")


_ZERO_TIME = "timestamp('0001-01-01T00:00:00Z')"
_NON_ZERO = re.compile(_STRINGS + r"|(?<![\w.])optional\s*\.\s*ofNonZeroValue\s*\(")


def _non_zero(expression: str) -> str:
    """``optional.ofNonZeroValue(e)`` with Go's zero time, 0001-01-01T00:00:00Z,
    as the zero timestamp (Kubernetes' cel-go), not cel-cpp's Unix epoch: a
    timestamp is decided in plain CEL, anything else by the extension."""
    if "ofNonZeroValue" not in expression:
        return expression

    def rewrite(argument: str) -> str:
        inner = _non_zero(argument)
        return (f"(type({inner}) == google.protobuf.Timestamp ? "
                f"(dyn({inner}) == {_ZERO_TIME} ? optional.none() : optional.of({inner})) : "
                f"optional.ofNonZeroValue({inner}))")
    return _rewrite_calls(expression, _NON_ZERO, rewrite, "optional.ofNonZeroValue()")


_FORMAT_CALL = re.compile(r"(" + _STRINGS + r")(\s*\.\s*format\s*\()?")


def _scientific_format(expression: str) -> str:
    """``'<literal with %e>'.format(args)`` as ``kp_format('<literal>', args)``:
    cel-go's ``%e`` output (formatting.py); other format strings stay cel-cpp's."""
    if "format" not in expression or not formatting.SCIENTIFIC_ANYWHERE.search(expression):
        return expression
    closings = _closings(expression)
    out: list[str] = []
    pos = 0
    for m in _FORMAT_CALL.finditer(expression):
        if m.group(2) is None or m.start() < pos or not formatting.has_scientific(m.group(1)):
            continue
        close = closings.get(m.end() - 1, -1)
        if close < 0:
            continue
        out.append(f"{expression[pos:m.start()]}{library.FORMAT}({m.group(1)}, "
                   f"{expression[m.end():close]})")
        pos = close + 1
    out.append(expression[pos:])
    return "".join(out)


_SUM_PATH = re.compile(_STRINGS + r"|(?<![\w.])([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)+)"
                       r"\s*\.\s*sum\s*\(\s*\)")


def _sum_paths(expression: str) -> str:
    """``v.a.b.sum()`` as ``v.a.b.kp_sum_at('v.a.b')``: the sum of an empty
    list is then the zero of its schema's item type (schema.py)."""
    if "sum" not in expression:
        return expression

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)
        path = re.sub(r"\s+", "", m.group(1))
        return f"{m.group(1)}.{library.SUM_AT}('{path}')"
    return _SUM_PATH.sub(sub, expression)


def _rename(expression: str) -> str:
    """Member calls of library.RENAMED under their alias (literals untouched;
    triple-quoted and raw strings are not told apart yet)."""
    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)
        start, end = m.span(1)
        text = m.group(0)
        return text[:start - m.start()] + library.RENAMED[m.group(1)] + text[end - m.start():]
    return _RENAME.sub(sub, expression)


# value id -> (the value, its node count), least recently used first: one
# object is judged by every expression of every policy in turn, so its count is
# taken once (measured: counting was 46% of evaluating 20 policies over the
# corpus). The value is kept with its count, so an id cannot be reused while
# its entry lives; values are not changed while they are judged.
_COUNTED: dict[int, tuple[Any, int]] = {}
_COUNTED_MAX = 16  # bounds the memory it keeps alive (a webhook request is up to ~3 MB)


# (names, ids of the values) -> (the values, their JSON nodes): the expressions
# of one policy judging one object see the same inputs (as _ACTIVATIONS)
_NODES: dict[tuple[tuple[str, int], ...], tuple[tuple[Any, ...], int]] = {}


def _count_inputs(data: dict[str, Any]) -> int:
    """The JSON nodes of all the inputs; raises past MAX_INPUT_NODES."""
    nodes = 0
    for name, value in data.items():
        if name == "variables" and isinstance(value, dict):
            # a new mapping as each variable is computed; its values are not
            for item in value.values():
                nodes += _count(item, MAX_INPUT_NODES - nodes)
            nodes += 1
        else:
            nodes += _count(value, MAX_INPUT_NODES - nodes)
    return nodes


def _count(value: Any, budget: int) -> int:
    """JSON nodes of ``value`` (remembered for the last values counted); raises
    past ``budget``."""
    if not isinstance(value, (dict, list)):
        return _count_nodes(value, budget)
    key = id(value)
    known = _COUNTED.pop(key, None)
    if known is not None and known[0] is value:
        _COUNTED[key] = known  # the most recently used last
        if known[1] > budget:
            raise CelCostError(f"input larger than {MAX_INPUT_NODES} values")
        return known[1]
    seen = _count_nodes(value, budget)
    if len(_COUNTED) >= _COUNTED_MAX:
        del _COUNTED[next(iter(_COUNTED))]  # the least recently used
    _COUNTED[key] = (value, seen)
    return seen


def _count_nodes(value: Any, budget: int) -> int:
    """JSON nodes of ``value``; raises past ``budget``."""
    seen, stack = 0, [value]
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget:
            raise CelCostError(f"input larger than {MAX_INPUT_NODES} values")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) > library.MAX_STRING:
            raise CelCostError(f"input string longer than {library.MAX_STRING} characters")
    return seen


_NESTING_TOKENS = re.compile(_COMPREHENSIONS.pattern + r"|[(\[{]|[)\]}]")


def _nesting(expression: str) -> int:
    """How deep comprehension macros nest (string literals skipped); one pass
    over the brackets and macro calls only."""
    text = re.sub(_STRINGS, '""', expression)
    stack: list[bool] = []
    depth = best = 0
    for m in _NESTING_TOKENS.finditer(text):
        token = m.group(0)
        if len(token) > 1:  # a comprehension macro and its "("
            stack.append(True)
            depth += 1
            best = max(best, depth)
        elif token in "([{":
            stack.append(False)
        elif stack and stack.pop():
            depth -= 1
    return best
