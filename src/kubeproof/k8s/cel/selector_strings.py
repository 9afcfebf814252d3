"""Label and field selectors written as strings (``app in (a,b),!tier``;
``status.phase!=Running``), parsed into requirements exactly as apimachinery's
``labels.ParseToRequirements`` and ``fields.ParseSelector`` do, messages
included: the authz library's ``fieldSelector()``/``labelSelector()`` hand
the requirements (or the parse error's text) to the authorizer, which compares
them field by field, so a different parse would be a different decision.

Both parsers are single passes over the text (a selector longer than
:data:`MAX_SELECTOR` characters is refused before any work).
"""

from __future__ import annotations

from typing import Any

from kubeproof.k8s.cel.formats import label_value, qualified_name

MAX_SELECTOR = 1 << 16


class SelectorParseError(ValueError):
    """The selector does not parse; the message is apimachinery's."""


# ---- fields.ParseSelector -------------------------------------------------------------

_TERM_OPERATORS = ("!=", "==", "=")


def parse_field_selector(text: str) -> list[dict[str, str]]:
    """``[{"operator", "field", "value"}]`` in the order apimachinery gives them
    (terms sorted as strings); ``==`` is reported as ``=``."""
    _bound(text)
    requirements: list[dict[str, str]] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorParseError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        requirements.append({"operator": "!=" if op == "!=" else "=", "field": lhs,
                             "value": _unescape(rhs)})
    return requirements


def _split_terms(text: str) -> list[str]:
    if not text:
        return []
    terms: list[str] = []
    start, escaped = 0, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _TERM_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise SelectorParseError("invalid field selector: invalid escape sequence: "
                                         f"\\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            # Go prints the rune with %v: its code point
            raise SelectorParseError("invalid field selector: unescaped character in value: "
                                     f"{ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise SelectorParseError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


# ---- labels.ParseToRequirements --------------------------------------------------------

_END, _IDENT, _ERROR = "end", "identifier", "error"
_TOKENS = {")": ")", ",": ",", "!": "!", "==": "==", "=": "=", ">": "gt", "in": "in",
           "<": "lt", "!=": "!=", "notin": "notin", "(": "("}
_SPECIAL = frozenset("=!(),><")
_SPACE = frozenset(" \t\r\n")
_BINARY = ("in", "notin", "=", "==", "!=", "gt", "lt")


def _lex(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n or text[i] == "\0":
            tokens.append((_END, ""))
            return tokens
        if text[i] in _SPECIAL:
            best: tuple[str, str] | None = None
            j = i
            while j < n and text[j] in _SPECIAL:
                candidate = text[i:j + 1]
                if candidate in _TOKENS:
                    best = (_TOKENS[candidate], candidate)
                elif best is not None:
                    break
                j += 1
            if best is None:
                tokens.append((_ERROR, f"error expected: keyword found '{text[i:j]}'"))
                i = j
            else:
                tokens.append(best)
                i += len(best[1])
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in _SPACE and text[j] != "\0":
            j += 1
        word = text[i:j]
        tokens.append((_TOKENS.get(word, _IDENT), word))
        i = j


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def look(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.tokens[min(self.pos, len(self.tokens) - 1)]
        return (_IDENT, lit) if values and tok in ("in", "notin") else (tok, lit)

    def take(self, values: bool = True) -> tuple[str, str]:
        found = self.look(values)
        self.pos += 1
        return found

    def parse(self) -> list[dict[str, Any]]:
        requirements: list[dict[str, Any]] = []
        while True:
            tok, lit = self.look()
            if tok in (_IDENT, "!"):
                try:
                    requirements.append(self.requirement())
                except SelectorParseError as err:
                    raise SelectorParseError(f"unable to parse requirement: {err}") from None
                tok, lit = self.take()
                if tok == _END:
                    return requirements
                if tok != ",":
                    raise SelectorParseError(f"found '{lit}', expected: ',' or 'end of string'")
                tok2, lit2 = self.look()
                if tok2 not in (_IDENT, "!"):
                    raise SelectorParseError(f"found '{lit2}', expected: identifier after ','")
            elif tok == _END:
                return requirements
            else:
                raise SelectorParseError(f"found '{lit}', expected: !, identifier, "
                                         "or 'end of string'")

    def requirement(self) -> dict[str, Any]:
        operator = ""
        tok, lit = self.take()
        if tok == "!":
            operator = "!"
            tok, lit = self.take()
        if tok != _IDENT:
            raise SelectorParseError(f"found '{lit}', expected: identifier")
        key = lit
        _check_key(key)
        if self.look()[0] in (_END, ","):
            return _requirement(key, operator or "exists", [])
        if operator == "!":
            return _requirement(key, operator, [])
        tok, lit = self.take(values=False)
        if tok not in _BINARY:
            raise SelectorParseError(f"found '{lit}', expected: {', '.join(_BINARY)}")
        operator = tok
        values = self.values() if operator in ("in", "notin") else self.exact_value()
        return _requirement(key, operator, sorted(values))

    def values(self) -> set[str]:
        tok, lit = self.take()
        if tok != "(":
            raise SelectorParseError(f"found '{lit}' expected: '('")
        tok, lit = self.look()
        if tok in (_IDENT, ","):
            found = self.identifiers()
            if self.take()[0] != ")":
                raise SelectorParseError(f"found '{lit}', expected: ')'")
            return found
        if tok == ")":
            self.take()
            return {""}
        raise SelectorParseError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        found: set[str] = set()
        while True:
            tok, lit = self.take()
            if tok == _IDENT:
                found.add(lit)
                tok2, lit2 = self.look()
                if tok2 == ",":
                    continue
                if tok2 == ")":
                    return found
                raise SelectorParseError(f"found '{lit2}', expected: ',' or ')'")
            if tok == ",":
                if not found:
                    found.add("")
                tok2 = self.look()[0]
                if tok2 == ")":
                    found.add("")
                    return found
                if tok2 == ",":
                    self.take()
                    found.add("")
                continue
            raise SelectorParseError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.look()[0] in (_END, ","):
            return {""}
        tok, lit = self.take()
        if tok == _IDENT:
            return {lit}
        raise SelectorParseError(f"found '{lit}', expected: identifier")


def _check_key(key: str) -> None:
    errors = qualified_name(key)
    if errors:
        raise SelectorParseError(f'key: Invalid value: "{key}": {"; ".join(errors)}')


def _requirement(key: str, operator: str, values: list[str]) -> dict[str, Any]:
    """apimachinery's NewRequirement: the checks of the values per operator."""
    problems: list[str] = []
    if operator in ("in", "notin") and not values:
        problems.append("values: Invalid value: []: for 'in', 'notin' operators, values set "
                        "can't be empty")
    if operator in ("=", "==", "!=") and len(values) != 1:
        problems.append("values: Invalid value: []: exact-match compatibility requires one "
                        "single value")
    if operator in ("gt", "lt"):
        for i, value in enumerate(values):
            if not _is_int64(value):
                problems.append(f'values[{i}]: Invalid value: "{value}": for \'Gt\', \'Lt\' '
                                "operators, the value must be an integer")
    for i, value in enumerate(values):
        errors = label_value(value)
        if errors:
            problems.append(f'values[{i}]: Invalid value: "{value}": {"; ".join(errors)}')
    if problems:
        raise SelectorParseError(problems[0] if len(problems) == 1
                                 else "[" + ", ".join(problems) + "]")
    return {"key": key, "operator": operator, "values": values}


def _is_int64(text: str) -> bool:
    body = text[1:] if text[:1] in ("+", "-") else text
    return body.isascii() and body.isdigit() and -(2**63) <= int(text) < 2**63


def parse_label_selector(text: str) -> list[dict[str, Any]]:
    """``[{"key", "operator", "values"}]`` sorted by key, as
    ``labels.ParseToRequirements``; operators as apimachinery spells them
    (``=``, ``==``, ``!=``, ``in``, ``notin``, ``exists``, ``!``, ``gt``, ``lt``)."""
    _bound(text)
    return sorted(_LabelParser(text).parse(), key=lambda r: str(r["key"]))


def _bound(text: str) -> None:
    if len(text) > MAX_SELECTOR:
        raise SelectorParseError(f"selector longer than {MAX_SELECTOR} characters")
