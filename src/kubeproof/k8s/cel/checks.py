"""Compile-time checks the API server's type checker makes and cel-expr-python
cannot make here, because every variable and every Kubernetes library function
is ``dyn`` in this environment (the binding keys overloads by kind, so
``sum(list(int))`` and ``sum(list(string))`` cannot be two overloads):

* homogeneous aggregate literals (Kubernetes 1.29+): the elements of a list
  literal, the keys and the values of a map literal, must have one type
  (``[1, 'a']`` does not compile; arguments of ``format()`` are exempt, as in
  cel-go's strings extension);
* the Kubernetes list functions on a receiver of a known list type whose
  elements they cannot take (``['a'].sum()``, ``[[1]].min()``).

Both look at the expression's text (string literals skipped, brackets matched
in one pass) and type a sub-expression by compiling it alone in the same
environment: where that fails or gives ``dyn`` (it names a comprehension
variable, or a variable, whose type upstream would know from the schema), the
check says nothing, so a valid expression is never refused; what upstream
refuses only through a schema-typed variable is still accepted here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_STRING = re.compile(r"[rR]?(?:'''.*?'''|\"\"\".*?\"\"\""
                     r"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\")"
                     r"|[bB][rR]?(?:'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\")", re.S)
_OPEN = {"(": ")", "[": "]", "{": "}"}

# element types each list function takes (Kubernetes Lists library)
_COMPARABLE = ("int", "uint", "double", "bool", "string", "bytes", "duration", "timestamp")
LIST_FUNCTIONS = {"sum": ("int", "uint", "double", "duration"), "min": _COMPARABLE,
                  "max": _COMPARABLE, "isSorted": _COMPARABLE}
_MEMBER_CALL = re.compile(r"\.\s*(" + "|".join(LIST_FUNCTIONS) + r")\s*\(\s*\)")


class CheckError(ValueError):
    """What the type checker would report, with the 1-based line and column."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"ERROR: <input>:{line}:{column}: {message}")


@dataclass(frozen=True, slots=True)
class Scanned:
    text: str
    strings: dict[int, int]  # start -> end of each string literal
    pairs: dict[int, int]  # opening bracket -> its closing one
    opener: dict[int, int]  # closing bracket -> its opening one
    ends: dict[int, int]  # end -> start of each string literal
    quoted: bytearray  # 1 at each index inside a string literal


def scan(text: str) -> Scanned:
    strings: dict[int, int] = {}
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "'\"" or (char in "rRbB" and i + 1 < len(text) and text[i + 1] in "'\"rR"
                             and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            m = _STRING.match(text, i)
            if m:
                strings[i] = m.end()
                i = m.end()
                continue
        if char in _OPEN:
            stack.append(i)
        elif char in ")]}" and stack and _OPEN[text[stack[-1]]] == char:
            pairs[stack.pop()] = i
        i += 1
    quoted = bytearray(len(text))
    for start, end in strings.items():
        quoted[start:end] = b"\x01" * (end - start)
    return Scanned(text, strings, pairs, {v: k for k, v in pairs.items()},
                   {v: k for k, v in strings.items()}, quoted)


TypeOf = Callable[[str], "str | None"]  # a sub-expression's type name, None when unknown


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _split(s: Scanned, start: int, end: int) -> list[tuple[int, str]]:
    """The top-level comma-separated parts of ``text[start:end]`` with where each starts."""
    parts: list[tuple[int, str]] = []
    i = part = start
    while i < end:
        if i in s.strings:
            i = s.strings[i]
            continue
        if i in s.pairs:
            i = s.pairs[i] + 1
            continue
        if s.text[i] == ",":
            parts.append((part, s.text[part:i]))
            part = i + 1
        i += 1
    parts.append((part, s.text[part:end]))
    return [(at + len(p) - len(p.lstrip()), p.strip()) for at, p in parts if p.strip()]


def _before(s: Scanned, index: int) -> str:
    """The text just before ``index`` (whitespace skipped), up to 8 characters."""
    return s.text[max(0, index - 8):index].rstrip()[-8:]


def _format_arguments(s: Scanned) -> list[tuple[int, int]]:
    """The spans of ``format(...)`` calls' arguments."""
    return [(a, b) for a, b in s.pairs.items() if s.text[a] == "("
            and re.search(r"\bformat\s*$", s.text[max(0, a - 16):a])]


def _top_level(s: Scanned, start: int, end: int, char: str) -> list[int]:
    found: list[int] = []
    i = start
    while i < end:
        if i in s.strings:
            i = s.strings[i]
            continue
        if i in s.pairs:
            i = s.pairs[i] + 1
            continue
        if s.text[i] == char:
            found.append(i)
        i += 1
    return found


def homogeneous_literals(s: Scanned, type_of: TypeOf) -> None:
    """Raise :class:`CheckError` at the first element of a list or map literal
    whose type differs from the first element's."""
    exempt = _format_arguments(s)
    for opening, closing in sorted(s.pairs.items()):
        char = s.text[opening]
        if char not in "[{":
            continue
        before = _before(s, opening)
        if char == "[" and before and (before[-1] in ")]}'\"" or (
                (before[-1].isalnum() or before[-1] == "_")
                and not re.search(r"(?:^|[^A-Za-z0-9_.])in$", before))):
            continue  # an index, not a literal
        if char == "{" and before and (before[-1].isalnum() or before[-1] == "_"):
            continue  # a message construction
        parts = _split(s, opening + 1, closing)
        if len(parts) < 2 or any(a < opening < b for a, b in exempt):
            continue
        if char == "[":
            columns = [[(at + (1 if p.startswith("?") else 0), p[1:].strip()
                         if p.startswith("?") else p, p.startswith("?")) for at, p in parts]]
        else:
            entries = [_entry(s, at, p) for at, p in parts]
            if any(e is None for e in entries):
                continue
            columns = [[e[0] for e in entries if e], [e[1] for e in entries if e]]
        for column in columns:
            _same_type(s, column, type_of)


Item = tuple[int, str, bool]  # where, text, optional (`?e` in a literal: e's type unwrapped)


def _entry(s: Scanned, at: int, part: str) -> tuple[Item, Item] | None:
    """A map entry ``k: v`` split at its top-level colon (None when unsure:
    a ternary or an optional selection in it)."""
    colons = _top_level(s, at, at + len(part), ":")
    if len(colons) != 1 or _top_level(s, at + 1, at + len(part), "?"):
        return None
    colon = colons[0] - at
    key, value = part[:colon], part[colon + 1:]
    key_at = at + (len(key) - len(key.lstrip()))
    if key.lstrip().startswith("?"):
        key_at += 1
    value_at = at + colon + 1 + (len(value) - len(value.lstrip()))
    optional = key.lstrip().startswith("?")
    return (key_at, key.strip().lstrip("?").strip(), False), (value_at, value.strip(), optional)


def _same_type(s: Scanned, items: list[Item], type_of: TypeOf) -> None:
    types: list[str | None] = []
    for _, text, optional in items:
        kind = type_of(text)
        if optional and kind is not None:
            kind = kind[len("optional_type("):-1] if kind.startswith("optional_type(") else None
        types.append(kind)
    if any(t is None for t in types):
        return
    first = types[0]
    for (at, _, _), kind in zip(items[1:], types[1:], strict=True):
        if kind != first:
            raise CheckError(f"expected type '{first}' but found '{kind}'", *_position(s.text, at))


def list_function_receivers(s: Scanned, type_of: TypeOf) -> None:
    """Raise :class:`CheckError` for ``recv.sum()`` (min, max, isSorted) on a
    receiver of a known list type whose elements the function does not take."""
    for m in _MEMBER_CALL.finditer(s.text):
        if s.quoted[m.start()]:
            continue
        start = _receiver_start(s, m.start())
        if start is None:
            continue
        kind = type_of(s.text[start:m.start()])
        if kind is None or not kind.startswith("list("):
            continue
        element = kind[len("list("):-1]
        if element not in LIST_FUNCTIONS[m.group(1)]:
            raise CheckError(f"found no matching overload for '{m.group(1)}' applied to "
                             f"'{kind}.()'", *_position(s.text, m.start()))


def _receiver_start(s: Scanned, end: int) -> int | None:
    """Where the primary expression ending just before ``end`` starts (a
    literal, a call, a selection chain); None when it is not one of those."""
    i = end
    while True:
        j = i
        while j > 0 and s.text[j - 1].isspace():
            j -= 1
        if j == 0:
            return None
        char = s.text[j - 1]
        if j in s.ends:  # a string literal
            i = s.ends[j]
        elif char in ")]}" and j - 1 in s.opener:
            i = s.opener[j - 1]
            word = _word_start(s.text, i)
            if char == ")" and word is None:
                return i  # a parenthesised expression
            if word is not None and char != "]":
                i = word  # a call f(...) or a message Foo{...}
            elif char == "]":
                before = _before(s, i)
                if not before or (before[-1] not in ")]}'\"" and not (
                        before[-1].isalnum() or before[-1] == "_")):
                    return i  # a list literal
                continue  # an index: its operand comes next
        elif char.isalnum() or char == "_":
            word = _word_start(s.text, j)
            if word is None:
                return _number_start(s.text, j)
            i = word
            if i > 0 and s.text[i - 1] == ".":
                i -= 1
                continue
            return i
        else:
            return None
        k = i
        while k > 0 and s.text[k - 1].isspace():
            k -= 1
        if k > 0 and s.text[k - 1] == ".":
            i = k - 1
            continue
        return i


def _word_start(text: str, end: int) -> int | None:
    """Where the identifier ending at ``end`` starts; None when none ends there."""
    i = end
    while i > 0 and (text[i - 1].isascii() and (text[i - 1].isalnum() or text[i - 1] == "_")):
        i -= 1
    if i == end or text[i].isdigit():
        return None
    return i


def _number_start(text: str, end: int) -> int:
    i = end
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "._"):
        i -= 1
    return i
