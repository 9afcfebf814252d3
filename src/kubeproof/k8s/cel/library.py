"""The Kubernetes CEL libraries cel-expr-python lacks, as Python functions.

Each entry of :data:`FUNCTIONS` is one overload: the library it belongs to, the
Kubernetes minor that added it (``since``), its CEL name, whether it is a
member function, its parameter and result types, and the implementation. An
implementation raises to make the evaluation fail (the binding turns the
exception into a CEL error). Every function bounds its own work: strings over
:data:`MAX_STRING` characters and lists over :data:`MAX_LIST` elements are
refused before any work, so no library call can hang an evaluation.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2
from cel_expr_python import cel

from kubeproof.k8s.cel import authz, formatting, schema, times
from kubeproof.k8s.cel.formats import VALIDATORS
from kubeproof.k8s.cel.values import kind_of, type_message, unwrap, wrap
from kubeproof.k8s.quantity import QuantityError, parse_quantity

MAX_STRING = 1 << 20
MAX_LIST = 100_000

T = cel.Type
OPAQUE = T.Map(T.STRING, T.DYN)  # see values.py
LIST = T.List(T.DYN)
# No function takes a `dyn` parameter: the binding crashes the process (SIGSEGV,
# measured) converting an optional value passed as one (`l.indexOf(m[?k])`).
# A function taking any element has one overload per kind instead; an optional
# then matches none of them, an evaluation error. null is left out: its
# overload would collide with int's in the binding ("overload signature
# collision"), so `l.indexOf(null)` fails where upstream finds it.
ELEMENT_KINDS = (T.INT, T.UINT, T.DOUBLE, T.BOOL, T.STRING, T.BYTES, T.DURATION, T.TIMESTAMP,
                 LIST, T.Map(T.DYN, T.DYN))
_NUMBER_TYPES = (int, float)


@dataclass(frozen=True, slots=True)
class Fn:
    library: str
    since: tuple[int, int]
    name: str
    member: bool
    params: tuple[Any, ...]
    result: Any
    impl: Callable[..., Any]
    version: int = 0  # the library's own version that added it (SemverLib v1: normalize)


def _s(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError("no such overload")
    if len(text) > MAX_STRING:
        raise ValueError(f"string longer than {MAX_STRING} characters")
    return text


def _l(items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise TypeError("no such overload")
    if len(items) > MAX_LIST:
        raise ValueError(f"list longer than {MAX_LIST} elements")
    return items


# ---- equality and order as CEL defines them (bool is not a number) ----------

def cel_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, _NUMBER_TYPES) and isinstance(b, _NUMBER_TYPES):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(cel_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(cel_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _orderable(items: list[Any]) -> list[Any]:
    kinds = {("num" if isinstance(x, _NUMBER_TYPES) and not isinstance(x, bool)
              else type(x).__name__) for x in items}
    if len(kinds) > 1 or kinds & {"dict", "list", "NoneType"}:
        raise TypeError("no such overload: elements are not comparable")
    return items


# ---- quantity ----------------------------------------------------------------

def _qparse(text: Any) -> int:
    try:
        return parse_quantity(_s(text)).nano
    except QuantityError as err:
        if "larger than" in str(err):
            big = _big_quantity(str(text).strip())
            if big is not None:
                return big
        raise ValueError(f"quantities must match the regular expression: {err}") from err


# Quantities past 2^63-1 base units: k8s/quantity.py refuses them (a manifest's
# quantity that large never means what it says), but the CEL library keeps them
# at arbitrary precision as upstream's inf.Dec does (`x.add(1) < x.add(2)` for a
# 37-digit x). Bounded here to 10^MAX_BIG_POWER so no power is ever huge.
MAX_BIG_POWER = 1000
_BIG = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?"
                  r"(?:([KMGTPE]i)|([numkMGTPE])|[eE]([+-]?[0-9]{1,4}))?")
_BIG_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIG_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def _big_quantity(text: str) -> int | None:
    """|value| in nano-units rounded away from zero, signed; None past the bound."""
    m = _BIG.fullmatch(text)
    if m is None or not (m.group(2) or m.group(3)):
        return None
    sign, whole, frac, binary, decimal, exponent = m.groups()
    frac = frac or ""
    exp10 = _BIG_DECIMAL[decimal] if decimal else int(exponent or 0)
    exp2 = _BIG_BINARY[binary] if binary else 0
    digits = (whole + frac).lstrip("0")
    if len(digits) > MAX_BIG_POWER or len(whole.lstrip("0")) + exp10 + exp2 // 3 > MAX_BIG_POWER:
        return None
    scale = exp10 - len(frac) + 9
    number = int(whole + frac or "0") << exp2
    nano = number * 10**scale if scale >= 0 else -(-number // 10**-scale)
    return -nano if sign == "-" else nano


def _q(nano: int) -> dict[str, str]:
    if abs(nano) > 10 ** (MAX_BIG_POWER + 9):
        raise OverflowError("quantity overflow")
    return wrap("quantity", str(nano))


def _qn(value: Any) -> int:
    return int(unwrap(value, "quantity"))


def _qother(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 10**9
    return _qn(value)


def _is_quantity(text: Any) -> bool:
    try:
        _qparse(text)
    except ValueError:
        return False
    return True


def _as_integer(q: Any) -> int:
    nano = _qn(q)
    if nano % 10**9:
        raise ValueError("cannot convert value to integer")
    whole = nano // 10**9
    if not -(2**63) <= whole < 2**63:
        raise ValueError("cannot convert value to integer")
    return whole


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


# ---- ip and cidr ---------------------------------------------------------------

def _ip(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    text = _s(text)
    if "%" in text:
        raise ValueError("IP address with zone value is not allowed")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError as err:
        raise ValueError(f"IP Address {text!r} parse error during conversion from string") from err
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise ValueError("IPv4-mapped IPv6 address is not allowed")
    return addr


def _ipv(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(unwrap(value, "ip"))


def _wrap_ip(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> dict[str, str]:
    return wrap("ip", str(addr))


def _is_ip(text: Any) -> bool:
    try:
        _ip(text)
    except ValueError:
        return False
    return True


def _cidr(text: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    text = _s(text)
    if "%" in text:
        raise ValueError("CIDR with zone value is not allowed")
    if "/" not in text:
        raise ValueError(f"network address parse error during conversion from string: {text}")
    addr, _, bits = text.partition("/")
    _ip(addr)
    if not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
        raise ValueError(f"network address parse error during conversion from string: {text}")
    try:
        return ipaddress.ip_interface(text)
    except ValueError as err:
        raise ValueError(f"network address parse error during conversion from string: {text}"
                         ) from err


def _cidrv(value: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    return ipaddress.ip_interface(unwrap(value, "cidr"))


def _is_cidr(text: Any) -> bool:
    try:
        _cidr(text)
    except ValueError:
        return False
    return True


def _contains_ip(c: Any, other: Any) -> bool:
    addr = _ip(other) if isinstance(other, str) else _ipv(other)
    net = _cidrv(c).network
    return addr.version == net.version and addr in net


def _contains_cidr(c: Any, other: Any) -> bool:
    sub = (_cidr(other) if isinstance(other, str) else _cidrv(other)).network
    net = _cidrv(c).network
    return sub.version == net.version and sub.subnet_of(net)  # type: ignore[arg-type]


def _link_local_multicast(addr: Any) -> bool:
    a = _ipv(addr)
    if a.version == 4:
        return a in ipaddress.ip_network("224.0.0.0/24")
    return a in ipaddress.ip_network("ff02::/16")


def _global_unicast(addr: Any) -> bool:
    a = _ipv(addr)
    if a.is_unspecified or a.is_loopback or a.is_multicast or a.is_link_local:
        return False
    return not (a.version == 4 and a == ipaddress.IPv4Address("255.255.255.255"))


def _ip_is_canonical(text: Any) -> bool:
    return str(_ip(text)) == text


def _string_of(value: Any) -> str:
    kind = kind_of(value)
    if kind in ("ip", "cidr", "semver"):
        return str(value["v"])
    raise TypeError("no such overload")


# ---- semver -----------------------------------------------------------------------

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")


def _normalize_semver(text: str) -> str:
    text = text.removeprefix("v")
    m = re.match(r"([0-9.]*)(.*)", text, re.S)
    assert m is not None
    core, rest = m.group(1), m.group(2)
    parts = core.split(".") if core else []
    parts = [p.lstrip("0") or "0" if p else p for p in parts]
    while len(parts) < 3:
        parts.append("0")
    return ".".join(parts) + rest


def _semver(text: Any, normalize: bool = False) -> dict[str, str]:
    text = _s(text)
    if normalize and text:
        text = _normalize_semver(text)
    if _SEMVER.fullmatch(text) is None:
        raise ValueError(f"No Major.Minor.Patch elements found: {text}")
    return wrap("semver", text)


def _is_semver(text: Any, normalize: bool = False) -> bool:
    try:
        _semver(text, normalize)
    except ValueError:
        return False
    return True


def _semver_parts(value: Any) -> tuple[int, int, int, list[str]]:
    m = _SEMVER.fullmatch(unwrap(value, "semver"))
    assert m is not None
    pre = m.group(4).split(".") if m.group(4) else []
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), pre


def _semver_key(value: Any) -> tuple[Any, ...]:
    major, minor, patch, pre = _semver_parts(value)
    pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre)
    return (major, minor, patch, 1 if not pre else 0, pre_key)


# ---- compareTo/isLessThan/isGreaterThan shared by quantity and semver ----------------

def _key(value: Any, other: Any) -> tuple[Any, Any]:
    kind = kind_of(value)
    if kind == "quantity":
        return _qn(value), _qn(other)
    if kind == "semver" and kind_of(other) == "semver":
        return _semver_key(value), _semver_key(other)
    raise TypeError("no such overload")


def _add(value: Any, other: Any) -> dict[str, str]:
    return _q(_qn(value) + _qother(other))


def _sub(value: Any, other: Any) -> dict[str, str]:
    return _q(_qn(value) - _qother(other))


# ---- url --------------------------------------------------------------------------

def _url(text: Any) -> dict[str, str]:
    text = _s(text)
    if not text or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(f"URL {text!r} parse error")
    parts = urllib.parse.urlsplit(text)
    host = parts.netloc.rpartition("@")[2]
    if " " in host or (host.count(":") and not host.startswith("[")
                       and not host.rpartition(":")[2].isdigit() and host.rpartition(":")[2]):
        raise ValueError(f"URL {text!r} has an invalid host or port")
    if not (parts.scheme or text.startswith("/")):
        raise ValueError(f"URL {text!r} must be an absolute URI or an absolute path")
    if parts.scheme and not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme):
        raise ValueError(f"URL {text!r} parse error")
    return wrap("url", text)


def _is_url(text: Any) -> bool:
    try:
        _url(text)
    except ValueError:
        return False
    return True


def _usplit(value: Any) -> urllib.parse.SplitResult:
    return urllib.parse.urlsplit(unwrap(value, "url"))


def _hostname(value: Any) -> str:
    host = _usplit(value).netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else ""
    return host.rpartition(":")[0] if ":" in host else host


def _port(value: Any) -> str:
    host = _usplit(value).netloc.rpartition("@")[2]
    if host.startswith("["):
        rest = host[host.find("]") + 1:] if "]" in host else ""
        return rest[1:] if rest.startswith(":") else ""
    return host.rpartition(":")[2] if ":" in host else ""


def _escaped_path(value: Any) -> str:
    path = _usplit(value).path
    return urllib.parse.quote(urllib.parse.unquote(path), safe="/!$&'()*+,;=:@")


def _query(value: Any) -> dict[str, list[str]]:
    query = _usplit(value).query
    out: dict[str, list[str]] = {}
    for key, val in urllib.parse.parse_qsl(query, keep_blank_values=True):
        out.setdefault(key, []).append(val)
    return out


# ---- regex: RE2, as Go's regexp (linear time: no pattern can backtrack forever) ----

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def _compile_re(pattern: Any) -> Any:
    try:
        return re2.compile(_s(pattern), options=_RE2_OPTIONS)
    except re2.error as err:
        detail = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else err
        raise ValueError(f"error parsing regexp: {detail}") from err


def _find(text: Any, pattern: Any) -> str:
    m = _compile_re(pattern).search(_s(text))
    return m.group(0) if m else ""


def _find_all(text: Any, pattern: Any, limit: int = -1) -> list[str]:
    found: list[str] = []
    if limit == 0:
        return found
    for m in _compile_re(pattern).finditer(_s(text)):
        found.append(m.group(0))
        if 0 < limit <= len(found):
            break
    return found


# ---- lists (Kubernetes Lists v0/v1 and cel-go ext.Lists v3) --------------------------

def _is_sorted(items: Any) -> bool:
    items = _orderable(_l(items))
    return all(not (b < a) for a, b in itertools.pairwise(items))


def _sum(items: Any) -> Any:
    items = _l(items)
    if not items:
        return 0
    total = items[0]
    for item in items[1:]:
        total = total + item
    if isinstance(total, int) and not -(2**63) <= total < 2**63:
        raise OverflowError("integer overflow")
    return total


def _sum_at(items: Any, path: Any) -> Any:
    """``sum()`` of a list reached by a plain path (env.py rewrites
    ``self.l.sum()`` as ``self.l.kp_sum_at('self.l')``): an empty one is the zero
    of its item schema, as upstream's checker picks the overload from it."""
    return _sum(items) if _l(items) else schema.zero_of_items(_s(path))


def _min(items: Any) -> Any:
    items = _orderable(_l(items))
    if not items:
        raise ValueError("min(list) called on empty list")
    return min(items)


def _max(items: Any) -> Any:
    items = _orderable(_l(items))
    if not items:
        raise ValueError("max(list) called on empty list")
    return max(items)


def _index_of(items: Any, value: Any) -> int:
    return next((i for i, x in enumerate(_l(items)) if cel_equal(x, value)), -1)


def _last_index_of(items: Any, value: Any) -> int:
    items = _l(items)
    return next((i for i in range(len(items) - 1, -1, -1) if cel_equal(items[i], value)), -1)


def _str_index_of(text: Any, sub: Any, start: int = 0) -> int:
    text, sub = _s(text), _s(sub)
    if not 0 <= start <= len(text):
        raise IndexError(f"index out of range: {start}")
    return text.find(sub, start)


def _str_last_index_of(text: Any, sub: Any, end: int | None = None) -> int:
    text, sub = _s(text), _s(sub)
    if end is None:
        return text.rfind(sub)
    if not 0 <= end <= len(text):
        raise IndexError(f"index out of range: {end}")
    return text.rfind(sub, 0, end + len(sub))


def _includes(items: Any, value: Any) -> bool:
    return _index_of(items, value) >= 0


def _range(n: int) -> list[int]:
    if n > MAX_LIST:
        raise ValueError(f"lists.range over {MAX_LIST}")
    return list(range(n))


def _slice(items: Any, start: int, end: int) -> list[Any]:
    items = _l(items)
    if start < 0 or end < 0:
        raise ValueError(f"cannot slice({start}, {end}), negative indexes not supported")
    if start > end:
        raise ValueError(f"cannot slice({start}, {end}), start index must be less than "
                         "or equal to end index")
    if end > len(items):
        raise ValueError(f"cannot slice({start}, {end}), list is length {len(items)}")
    return items[start:end]


def _flatten(items: Any, depth: int = 1) -> list[Any]:
    if depth < 0:
        raise ValueError("level must be non-negative")
    out: list[Any] = []
    for item in _l(items):
        if isinstance(item, list) and depth > 0:
            out.extend(_flatten(item, depth - 1))
        else:
            out.append(item)
        if len(out) > MAX_LIST:
            raise ValueError(f"list longer than {MAX_LIST} elements")
    return out


def _sort(items: Any) -> list[Any]:
    return sorted(_orderable(_l(items)))


def _sort_by_keys(pairs: Any) -> list[Any]:
    """The second half of the ``sortBy`` macro: ``[[key, element], ...]`` (env.py
    rewrites ``l.sortBy(e, key)`` as ``l.map(e, [key, e]).sortB_()``), sorted by key."""
    pairs = _l(pairs)
    _orderable([p[0] for p in pairs])
    return [p[1] for p in sorted(pairs, key=lambda p: p[0])]


def _distinct(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in _l(items):
        if not any(cel_equal(item, seen) for seen in out):
            out.append(item)
    return out


# ---- sets (cel-go ext.Sets) ---------------------------------------------------------

def _contains(a: Any, b: Any) -> bool:
    a = _l(a)
    return all(any(cel_equal(x, y) for y in a) for x in _l(b))


def _equivalent(a: Any, b: Any) -> bool:
    return _contains(a, b) and _contains(b, a)


def _intersects(a: Any, b: Any) -> bool:
    a = _l(a)
    return any(any(cel_equal(x, y) for y in a) for x in _l(b))


# ---- format -------------------------------------------------------------------------

def _format_ctor(name: str) -> Callable[[], dict[str, str]]:
    return lambda: wrap("format", name)


# Functions returning optional: a Python function cannot return one, so the
# expression calls an alias returning {} or {"v": value} followed by [?"v"]
# (env.py rewrites the call), which is optional.none() or optional.of(value).
SORT_BY = "sortB_"
# type(e) of an opaque value (env.py rewrites type() calls through these)
TYPE_OF = "kp_type"
FORMAT = "kp_format"  # a format string with a %e clause (env.py, formatting.py)
SUM_AT = "kp_sum_at"  # sum() of a list at a schema path (env.py)
OPTIONAL_RESULT = {"validate": "validat_", "format.named": "format.name_"}


def _format_named(name: Any) -> dict[str, Any]:
    return {"v": wrap("format", name)} if _s(name) in VALIDATORS else {}


def _format_validate(fmt: Any, value: Any) -> dict[str, Any]:
    errors = VALIDATORS[unwrap(fmt, "format")](_s(value))
    return {"v": errors} if errors else {}


# ---- the table ---------------------------------------------------------------------

# Functions both ext.Strings and the list libraries define: the binding cannot
# add overloads to an extension's function, so expressions call them under a
# name of the same length (error columns stay right) that holds every overload.
RENAMED = {"indexOf": "indexO_", "lastIndexOf": "lastIndexO_", "reverse": "revers_"}

# ---- ------------------------------------------------------------------

def _table() -> list[Fn]:
    S, N, B, D = T.STRING, T.INT, T.BOOL, T.DOUBLE
    q, ip, cidr, sv, url, lists, sets, rx = ((1, 28), (1, 30), (1, 30), (1, 33), (1, 0),
                                             (1, 0), (1, 29), (1, 0))
    xl = (1, 34)
    fns = [
        Fn("quantity", q, "quantity", False, (S,), OPAQUE, lambda s: _q(_qparse(s))),
        Fn("quantity", q, "isQuantity", False, (S,), B, _is_quantity),
        Fn("quantity", q, "sign", True, (OPAQUE,), N, lambda v: _cmp(_qn(v), 0)),
        Fn("quantity", q, "isInteger", True, (OPAQUE,), B,
           lambda v: _qn(v) % 10**9 == 0 and abs(_qn(v) // 10**9) < 2**63),
        Fn("quantity", q, "asInteger", True, (OPAQUE,), N, _as_integer),
        Fn("quantity", q, "asApproximateFloat", True, (OPAQUE,), D, lambda v: _qn(v) / 1e9),
        Fn("quantity", q, "add", True, (OPAQUE, OPAQUE), OPAQUE, _add),
        Fn("quantity", q, "add", True, (OPAQUE, N), OPAQUE, _add),
        Fn("quantity", q, "sub", True, (OPAQUE, OPAQUE), OPAQUE, _sub),
        Fn("quantity", q, "sub", True, (OPAQUE, N), OPAQUE, _sub),
        Fn("quantity", q, "isGreaterThan", True, (OPAQUE, OPAQUE), B,
           lambda a, b: _cmp(*_key(a, b)) > 0),
        Fn("quantity", q, "isLessThan", True, (OPAQUE, OPAQUE), B,
           lambda a, b: _cmp(*_key(a, b)) < 0),
        Fn("quantity", q, "compareTo", True, (OPAQUE, OPAQUE), N, lambda a, b: _cmp(*_key(a, b))),
        Fn("ip", ip, "ip", False, (S,), OPAQUE, lambda s: _wrap_ip(_ip(s))),
        Fn("ip", ip, "isIP", False, (S,), B, _is_ip),
        Fn("ip", ip, "ip.isCanonical", False, (S,), B, _ip_is_canonical),
        Fn("ip", ip, "family", True, (OPAQUE,), N,
           lambda v: (_ipv(v) if kind_of(v) == "ip" else _cidrv(v)).version),
        Fn("ip", ip, "isUnspecified", True, (OPAQUE,), B, lambda v: _ipv(v).is_unspecified),
        Fn("ip", ip, "isLoopback", True, (OPAQUE,), B, lambda v: _ipv(v).is_loopback),
        Fn("ip", ip, "isLinkLocalMulticast", True, (OPAQUE,), B, _link_local_multicast),
        Fn("ip", ip, "isLinkLocalUnicast", True, (OPAQUE,), B,
           lambda v: _ipv(v).is_link_local and not _ipv(v).is_multicast),
        Fn("ip", ip, "isGlobalUnicast", True, (OPAQUE,), B, _global_unicast),
        Fn("ip", ip, "string", False, (OPAQUE,), S, _string_of),
        Fn("cidr", cidr, "cidr", False, (S,), OPAQUE, lambda s: wrap("cidr", str(_cidr(s)))),
        Fn("cidr", cidr, "isCIDR", False, (S,), B, _is_cidr),
        Fn("cidr", cidr, "containsIP", True, (OPAQUE, S), B, _contains_ip),
        Fn("cidr", cidr, "containsIP", True, (OPAQUE, OPAQUE), B, _contains_ip),
        Fn("cidr", cidr, "containsCIDR", True, (OPAQUE, S), B, _contains_cidr),
        Fn("cidr", cidr, "containsCIDR", True, (OPAQUE, OPAQUE), B, _contains_cidr),
        Fn("cidr", cidr, "ip", True, (OPAQUE,), OPAQUE, lambda v: _wrap_ip(_cidrv(v).ip)),
        Fn("cidr", cidr, "masked", True, (OPAQUE,), OPAQUE,
           lambda v: wrap("cidr", str(_cidrv(v).network))),
        Fn("cidr", cidr, "prefixLength", True, (OPAQUE,), N,
           lambda v: _cidrv(v).network.prefixlen),
        Fn("semver", sv, "semver", False, (S,), OPAQUE, _semver),
        Fn("semver", sv, "semver", False, (S, B), OPAQUE, _semver, 1),
        Fn("semver", sv, "isSemver", False, (S,), B, _is_semver),
        Fn("semver", sv, "isSemver", False, (S, B), B, _is_semver, 1),
        Fn("semver", sv, "major", True, (OPAQUE,), N, lambda v: _semver_parts(v)[0]),
        Fn("semver", sv, "minor", True, (OPAQUE,), N, lambda v: _semver_parts(v)[1]),
        Fn("semver", sv, "patch", True, (OPAQUE,), N, lambda v: _semver_parts(v)[2]),
        Fn("url", url, "url", False, (S,), OPAQUE, _url),
        Fn("url", url, "isURL", False, (S,), B, _is_url),
        Fn("url", url, "getScheme", True, (OPAQUE,), S, lambda v: _usplit(v).scheme),
        Fn("url", url, "getHost", True, (OPAQUE,), S,
           lambda v: _usplit(v).netloc.rpartition("@")[2]),
        Fn("url", url, "getHostname", True, (OPAQUE,), S, _hostname),
        Fn("url", url, "getPort", True, (OPAQUE,), S, _port),
        Fn("url", url, "getEscapedPath", True, (OPAQUE,), S, _escaped_path),
        Fn("url", url, "getQuery", True, (OPAQUE,), T.Map(S, T.List(S)), _query),
        Fn("regex", rx, "find", True, (S, S), S, _find),
        Fn("regex", rx, "findAll", True, (S, S), T.List(S), _find_all),
        Fn("regex", rx, "findAll", True, (S, S, N), T.List(S), _find_all),
        Fn("lists", lists, "isSorted", True, (LIST,), B, _is_sorted),
        Fn("lists", lists, "sum", True, (LIST,), T.DYN, _sum),
        Fn("lists", lists, SUM_AT, True, (LIST, S), T.DYN, _sum_at),
        Fn("lists", lists, "min", True, (LIST,), T.DYN, _min),
        Fn("lists", lists, "max", True, (LIST,), T.DYN, _max),
        Fn("strings", (1, 0), RENAMED["indexOf"], True, (S, S), N, _str_index_of),
        Fn("strings", (1, 0), RENAMED["indexOf"], True, (S, S, N), N, _str_index_of),
        Fn("strings", (1, 0), RENAMED["lastIndexOf"], True, (S, S), N, _str_last_index_of),
        Fn("strings", (1, 0), RENAMED["lastIndexOf"], True, (S, S, N), N, _str_last_index_of),
        Fn("strings", (1, 29), RENAMED["reverse"], True, (S,), S, lambda v: _s(v)[::-1]),
        Fn("lists", xl, "lists.range", False, (N,), T.List(N), _range),
        Fn("lists", xl, RENAMED["reverse"], True, (LIST,), LIST, lambda v: list(reversed(_l(v)))),
        Fn("lists", xl, "slice", True, (LIST, N, N), LIST, _slice),
        Fn("lists", xl, "flatten", True, (LIST,), LIST, _flatten),
        Fn("lists", xl, "flatten", True, (LIST, N), LIST, _flatten),
        Fn("lists", xl, "sort", True, (LIST,), LIST, _sort),
        Fn("lists", xl, SORT_BY, True, (LIST,), LIST, _sort_by_keys),
        Fn("lists", xl, "distinct", True, (LIST,), LIST, _distinct),
        Fn("sets", sets, "sets.contains", False, (LIST, LIST), B, _contains),
        Fn("sets", sets, "sets.equivalent", False, (LIST, LIST), B, _equivalent),
        Fn("sets", sets, "sets.intersects", False, (LIST, LIST), B, _intersects),
    ]
    # one overload per kind of element, never a dyn parameter (see ELEMENT_KINDS)
    fns += [Fn("lists", since, name, True, (LIST, kind), N if name != "includes" else B, impl)
            for since, name, impl in ((lists, RENAMED["indexOf"], _index_of),
                                      (lists, RENAMED["lastIndexOf"], _last_index_of),
                                      ((1, 37), "includes", _includes))
            for kind in ELEMENT_KINDS]
    fns += [Fn("format", (1, 31), f"format.{name}", False, (), OPAQUE, _format_ctor(name))
            for name in VALIDATORS]
    fns += [Fn("format", (1, 31), OPTIONAL_RESULT["format.named"], False, (S,), OPAQUE,
               _format_named),
            Fn("format", (1, 31), OPTIONAL_RESULT["validate"], True, (OPAQUE, S), OPAQUE,
               _format_validate)]
    fns += [Fn("core", (1, 0), TYPE_OF, False, (OPAQUE,), T.DYN, type_message),
            Fn("strings", (1, 29), FORMAT, False, (S, LIST), S,
               lambda text, args: formatting.format_string(_s(text), _l(args)))]
    az, az_errors, az_selectors = (1, 27), (1, 28), (1, 31)
    fns += [Fn("authz", az, "group", True, (OPAQUE, S), OPAQUE, authz.group),
            Fn("authz", az, "resource", True, (OPAQUE, S), OPAQUE, authz.resource),
            Fn("authz", az, "path", True, (OPAQUE, S), OPAQUE, authz.path),
            Fn("authz", az, "serviceAccount", True, (OPAQUE, S, S), OPAQUE,
               authz.service_account),
            Fn("authz", az, "check", True, (OPAQUE, S), OPAQUE, authz.check),
            Fn("authz", az, "allowed", True, (OPAQUE,), B, authz.allowed),
            Fn("authz", az, "reason", True, (OPAQUE,), S, authz.reason),
            Fn("authz", az_errors, "errored", True, (OPAQUE,), B, authz.errored),
            Fn("authz", az_errors, "error", True, (OPAQUE,), S, authz.error)]
    fns += [Fn("authz", az, name, True, (OPAQUE, S), OPAQUE, authz.setter(name))
            for name in ("subresource", "namespace", "name")]
    fns += [Fn("authz", az_selectors, name, True, (OPAQUE, S), OPAQUE, authz.setter(name))
            for name in ("fieldSelector", "labelSelector")]
    return fns


def _timed(impl: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *args: times.to_cel(impl(*args))


def _results_as_cel(fns: list[Fn]) -> list[Fn]:
    """Functions that may return a duration or timestamp (``sum``, ``min``,
    ``sort``...) return it as the binding takes it (times.py)."""
    return [dataclasses.replace(fn, impl=_timed(fn.impl))
            if fn.library == "lists" and fn.result in (T.DYN, LIST) else fn for fn in fns]


FUNCTIONS: tuple[Fn, ...] = tuple(_results_as_cel(_table()))

