"""The one Kubernetes resource quantity parser (``128Mi``, ``500m``, ``1e3``, ``0.5``).

Every rule and fixer that reads a quantity goes through :func:`parse_quantity`,
so a hostile value costs the same bounded work everywhere and is judged the
same way: KP0002 reports it, the others treat it as unknown.

Grammar: exactly upstream's ``resource.Quantity`` serialization format
(k8s.io/apimachinery/pkg/api/resource/quantity.go)::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | <sign><number>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

with upstream's parser limits: the exponent must be an integer that fits an
int32 (``ParseInt(.., 10, 32)``), surrounding spaces are ignored (as
``Quantity.UnmarshalJSON`` trims them) and a non-zero value smaller than one
nano-unit rounds up to it. Strings outside the documented grammar (``.``,
``+``, a bare suffix such as ``m``, ``1K``, ``1e1.5``) are refused, even where
upstream's hand-written parser is more lenient. JSON/YAML numbers are read from their decimal text,
as the API server reads an unquoted number; ``nan``, infinities and booleans
are not quantities.

Representation: an exact integer count of nano-units (``Quantity.nano``), the
precision upstream keeps, so comparisons are exact and never go through a
float. Bound: a magnitude above 2^63-1 base units (bytes, cores) is invalid.
Upstream silently caps decimal and binary SI values there (and keeps larger
``e`` exponents as an unbounded decimal whose int64 value saturates), so such a
value never means what it says; refusing it before any arithmetic is what keeps
``1e2147483647`` from costing a ``10**2147483647``. Values with more than
:data:`MAX_DIGITS` significant digits are refused too, for the same reason
(the API server accepts them, but no real manifest holds one).

:func:`decimal_int` is the bounded reading of the other numbers manifests spell
as text (a ``targetPort: "8080"``, the digits of ``"25%"``): ASCII digits only,
clamped before ``int`` sees a digit string it would refuse.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

# The largest magnitude in base units (bytes, cores) a quantity may have: int64.
MAX_VALUE = 2**63 - 1
MAX_NANO = MAX_VALUE * 10**9
# Significant digits beyond which a quantity is refused (bounds int() on the digits).
MAX_DIGITS = 1000
# upstream parses the decimal exponent with strconv.ParseInt(s, 10, 32)
_INT32 = 2**31
_TOO_LARGE = "2^63-1, the most the API server keeps"

_GRAMMAR = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?"
                      r"(?:([KMGTPE]i)|([numkMGTPE])|[eE]([+-]?[0-9]+))?")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


class QuantityError(ValueError):
    """Not a quantity the API server keeps as written; the message says why."""


@dataclass(frozen=True, slots=True, order=True)
class Quantity:
    """A parsed quantity: its value in billionths of the base unit, rounded
    away from zero to a whole nano-unit as upstream does."""

    nano: int

    @property
    def negative(self) -> bool:
        return self.nano < 0


def parse_quantity(value: Any) -> Quantity:
    """The quantity ``value`` holds (a string, or a JSON/YAML number); raises
    :class:`QuantityError` for anything else, after bounded work."""
    if isinstance(value, bool) or value is None:
        raise QuantityError(f"must be a quantity such as 128Mi or 500m, not {_kind(value)}")
    if isinstance(value, int):
        if abs(value) > MAX_VALUE:
            raise QuantityError(f"is larger than {_TOO_LARGE}")
        return Quantity(value * 10**9)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"must be a finite number, not {value}")
        return _parse_text(repr(value))
    if not isinstance(value, str):
        raise QuantityError(f"must be a quantity such as 128Mi or 500m, not {_kind(value)}")
    return _parse_text(value.strip())


def decimal_int(text: Any, ceiling: int = MAX_VALUE) -> int | None:
    """``text`` as an int when it is a string of ASCII digits (``str.isdigit``
    also takes ``"²"``, which ``int`` refuses), at most ``ceiling``: a longer
    number is clamped to it without being converted. None for anything else
    (other types included: the caller then judges nothing for that field)."""
    if not isinstance(text, str) or not text or not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(ceiling)):
        return ceiling
    return min(int(digits), ceiling)


def quantity_or_none(value: Any) -> Quantity | None:
    """The quantity ``value`` holds, or None when it holds none (see KP0002)."""
    try:
        return parse_quantity(value)
    except QuantityError:
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"


def _parse_text(text: str) -> Quantity:
    shown = text[:40] + ("..." if len(text) > 40 else "")
    if not text:
        raise QuantityError("is empty: a quantity such as 128Mi or 500m is required")
    m = _GRAMMAR.fullmatch(text)
    if m is None or (not m.group(2) and not m.group(3)):
        raise QuantityError(f"{shown!r} is not a quantity (e.g. 128Mi, 1.5Gi, 500m, 2)")
    sign, whole, frac, binary, decimal, exponent = m.groups()
    exp10, exp2 = 0, 0
    if binary:
        exp2 = _BINARY[binary]
    elif decimal:
        exp10 = _DECIMAL[decimal]
    elif exponent is not None:
        magnitude = exponent.lstrip("+-").lstrip("0")
        if len(magnitude) > 10 or int(magnitude or "0") >= _INT32:
            raise QuantityError(f"{shown!r} has an exponent outside the 32-bit range "
                                "the API server parses")
        exp10 = int(exponent)
    nano = _nano(whole.lstrip("0"), (frac or "").rstrip("0"), exp10, exp2, shown)
    return Quantity(-nano if sign == "-" else nano)


def _nano(whole: str, frac: str, exp10: int, exp2: int, shown: str) -> int:
    """|value| in nano-units, rounded up; the magnitude is checked from the
    digit counts before any power is computed."""
    digits = (whole + frac).lstrip("0")
    if not digits:
        return 0
    significant = digits.rstrip("0")  # trailing zeros of the integer part
    shift = len(digits) - len(significant)
    # the power of ten of the leading significant digit
    lead = len(whole) - 1 + exp10 if whole else exp10 - (len(frac) - len(frac.lstrip("0"))) - 1
    if lead > 19:  # at least 10^20 > 2^63-1
        raise QuantityError(f"{shown!r} is larger than {_TOO_LARGE}")
    if lead < -40:  # below 10^-40 * 2^60 < 1 nano: upstream rounds it up to 1n
        return 1
    if len(significant) > MAX_DIGITS:
        raise QuantityError(f"{shown!r} has more than {MAX_DIGITS} significant digits")
    # now bounded: len(significant) <= MAX_DIGITS and -40 <= lead <= 19, so
    # -1031 <= scale <= 28
    scale = exp10 - len(frac) + shift + 9  # power of ten of the last digit, in nano-units
    number = int(significant) << exp2
    nano = number * 10**scale if scale >= 0 else -(-number // 10**-scale)
    if nano > MAX_NANO:
        raise QuantityError(f"{shown!r} is larger than {_TOO_LARGE}")
    return nano
