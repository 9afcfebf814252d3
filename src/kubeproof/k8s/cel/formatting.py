"""``string.format()`` as Kubernetes' cel-go (ext.Strings v2, formatting.go)
formats, for the format strings where cel-cpp's own ``format`` prints
differently: a scientific clause. cel-go prints ``%e`` through golang.org/x/text's
localised printer (``3.140000×10⁰⁰``; its ``%.Ne`` builds ``%Ne``, a width, so
the mantissa always has six decimals) where cel-cpp prints ``3.140000e+00``.

env.py sends a ``'<literal>'.format(args)`` whose literal holds a ``%e`` clause
here; every other ``format()`` stays cel-cpp's, whose output matches cel-go's
for the other clauses the conformance cases hold. Clauses: ``%s %d %f %e %b %o
%x %X %%`` with cel-go's rules and messages. Values arrive as the binding
converts them (an int and a uint look alike: they print alike).

Unverified here (no cel-go to run): the x/text forms of a negative exponent
(``×10⁻⁰³``), of infinities and NaN (``∞``, ``NaN``) and the grouping of
``%f`` (``1,234.500000``, as x/text's English printer groups).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from kubeproof.k8s.cel.values import TYPE_NAMES, kind_of

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_CLAUSE = re.compile(r"%(?:\.(\d*))?(.)?", re.S)
SCIENTIFIC = re.compile(r"%%|%(?:\.\d*)?e")
SCIENTIFIC_ANYWHERE = re.compile(r"%(?:\.\d*)?e")
MAX_OUTPUT = 1 << 20


def has_scientific(literal: str) -> bool:
    return any(m.group(0) != "%%" for m in SCIENTIFIC.finditer(literal))


def format_string(text: str, args: list[Any]) -> str:
    out: list[str] = []
    i, index, size = 0, 0, 0
    while i < len(text):
        if text[i] != "%":
            out.append(text[i])
            i += 1
            continue
        if text.startswith("%%", i):
            out.append("%")
            i += 2
            continue
        if index >= len(args):
            raise ValueError(f"index {index} out of range")
        m = _CLAUSE.match(text, i)
        assert m is not None
        if m.group(2) is None:
            raise ValueError("unexpected end of string" if i + 1 >= len(text) else
                             "could not parse formatting clause: error while parsing precision: "
                             "could not find end of precision specifier")
        try:
            piece = _clause(m.group(2), m.group(1), args[index])
        except _ClauseError as err:
            raise ValueError(f"error during formatting: {err}") from None
        size += len(piece)
        if size > MAX_OUTPUT:
            raise ValueError(f"format() result longer than {MAX_OUTPUT} characters")
        out.append(piece)
        index += 1
        i = m.end()
    return "".join(out)


class _ClauseError(ValueError):
    pass


def _type_name(value: Any) -> str:
    kind = kind_of(value)
    if kind in TYPE_NAMES:
        return TYPE_NAMES[kind]
    names = {bool: "bool", int: "int", float: "double", str: "string", bytes: "bytes",
             list: "list", dict: "map", timedelta: "google.protobuf.Duration",
             datetime: "google.protobuf.Timestamp", type(None): "null_type"}
    return names.get(type(value), type(value).__name__)


def _clause(verb: str, precision: str | None, value: Any) -> str:
    if verb == "s":
        return _string(value)
    if verb == "d":
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise _ClauseError("decimal clause can only be used on integers, was given "
                           + _type_name(value))
    if verb in "fe":
        number = _float_arg(value, "fixed-point" if verb == "f" else "scientific")
        if verb == "f":
            return _fixed(number, int(precision) if precision else 6)
        return _scientific(number)
    if verb == "b":
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int):
            return format(value, "b")
        raise _ClauseError("only integers and bools can be formatted as binary, was given "
                           + _type_name(value))
    if verb in "xX":
        if isinstance(value, bool) or not isinstance(value, (int, str, bytes)):
            raise _ClauseError("only integers, byte buffers, and strings can be formatted as "
                               "hex, was given " + _type_name(value))
        text = (format(value, "x") if isinstance(value, int) else
                (value.encode() if isinstance(value, str) else value).hex())
        return text.upper() if verb == "X" else text
    if verb == "o":
        if isinstance(value, int) and not isinstance(value, bool):
            return format(value, "o")
        raise _ClauseError("octal clause can only be used on integers, was given "
                           + _type_name(value))
    raise ValueError(f'could not parse formatting clause: unrecognized formatting clause "{verb}"')


def _float_arg(value: Any, what: str) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    raise _ClauseError(f"{what} clause can only be used on doubles, was given "
                       + _type_name(value))


def _fixed(number: float, precision: int) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return f"{number:,.{min(precision, 1000)}f}"


def _scientific(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    mantissa, _, exponent = f"{number:.6e}".partition("e")
    power = int(exponent)
    shown = (("-" if power < 0 else "") + f"{abs(power):02d}").translate(_SUPERSCRIPT)
    return f"{mantissa}×10{shown}"


def _string(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_member(v) for v in value) + "]"
    if isinstance(value, dict):
        if kind_of(value) is not None:
            raise _ClauseError("string clause can only be used on strings, bools, bytes, ints, "
                               "doubles, maps, lists, types, durations, and timestamps, was "
                               "given " + _type_name(value))
        pairs = sorted((_key(k), _member(v)) for k, v in value.items())
        return "{" + ", ".join(f"{k}:{v}" for k, v in pairs) + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, datetime):
        return timestamp_text(value)
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return go_quote(key)
    if isinstance(key, (bool, int)):
        return _string(key)
    raise _ClauseError(f"no formatting function for map key of type {_type_name(key)}")


def _member(value: Any) -> str:
    """A list element or map value: clauseForType, then quoteForCEL."""
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bytes):
        return "b" + go_quote(value.decode("utf-8", "replace"))
    if isinstance(value, float):
        text = f"{value:.6f}" if math.isfinite(value) else \
            ("NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf"))
        return text if math.isfinite(value) else go_quote(text)
    if isinstance(value, timedelta):
        return f'duration("{duration_text(value)}")'
    if isinstance(value, datetime):
        return f'timestamp("{timestamp_text(value)}")'
    return _string(value)


def go_quote(text: str) -> str:
    """Go's ``%q`` of a string (strconv.Quote)."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(char)])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def go_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'g', -1, 64)``, as cel-go's string(double):
    the shortest digits (Python's repr finds the same), in exponent form when
    the exponent is below -4 or at least 6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1, value) < 0 else ""
    if value == 0:
        return sign + "0"
    m = re.fullmatch(r"(\d+)(?:\.(\d*))?(?:e([+-]\d+))?", repr(abs(value)))
    assert m is not None
    whole, frac = m.group(1), m.group(2) or ""
    joined = whole + frac
    digits = joined.lstrip("0")
    point = len(whole) + int(m.group(3) or 0) - (len(joined) - len(digits))
    digits = digits.rstrip("0")
    power = point - 1
    if power < -4 or power >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def duration_text(value: timedelta) -> str:
    micros = value // timedelta(microseconds=1)
    seconds, rest = divmod(abs(micros), 10**6)
    text = str(seconds) + (f".{rest:06d}".rstrip("0") if rest else "")
    return ("-" if micros < 0 else "") + text + "s"


def timestamp_text(value: datetime) -> str:
    when = value.astimezone(UTC) if value.tzinfo else value
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    return text + "Z"
