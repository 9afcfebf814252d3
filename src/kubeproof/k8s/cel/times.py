"""Durations and timestamps as CEL values inside ``dyn`` data.

Kubernetes types a CRD's ``format: duration`` strings as CEL durations and its
``format: date``/``date-time`` strings as timestamps. cel-expr-python converts
Python ``timedelta``/``datetime`` only into a variable declared with exactly
that type, never inside a ``dyn`` map or list (measured: "Non-CEL value type"),
and refuses them as the result of a Python function returning ``dyn``; it
does take protobuf messages anywhere, and takes ``google.protobuf.Duration``
and ``Timestamp`` as CEL's own duration and timestamp (equality, ordering,
arithmetic, ``getHours()``... all native). So typed values travel as those
messages (the ``protobuf`` package, which the binding's own stubs name); the
alternatives measured were worse: opaque maps (values.py) would not compare
equal to ``duration('1m')`` and would need every operator re-declared, and
declaring ``self`` with a message type needs a descriptor per CRD schema.

Parsing follows apiserver: a duration as go-openapi's ``strfmt.ParseDuration``
(Go's ``time.ParseDuration``, then ``3 days``-style units), a date as
``2006-01-02`` and a date-time as go-openapi's ``strfmt.ParseDateTime`` layouts
(RFC 3339 with or without fraction, zone colon or seconds; no zone is UTC).
A string that does not parse stays a string (apiserver makes it an error on
access; here an operation on it fails with no matching overload instead).

Library functions receive these values as ``timedelta``/``datetime`` (the
binding converts its arguments; nanoseconds below a microsecond are lost
there) and :func:`to_cel` turns results back into messages.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

_NS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6,
       "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_GO_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")
_MAX_NS = 2**63 - 1
# go-openapi's long forms: a unit matches its short name exactly or starts with its long name
_UNITS = (("ns", "nanosecond", 1), ("us", "microsecond", 10**3), ("ms", "millisecond", 10**6),
          ("s", "second", 10**9), ("m", "minute", 60 * 10**9), ("h", "hour", 3600 * 10**9),
          ("d", "day", 86400 * 10**9), ("w", "week", 7 * 86400 * 10**9))
_WORDS = re.compile(r"(\d+)\s*([A-Za-z\u00b5]+)")
MAX_TEXT = 256


def _go_duration(text: str) -> int | None:
    """Go's time.ParseDuration, in nanoseconds; None when it does not parse."""
    sign, rest = 1, text
    if rest[:1] in ("+", "-"):
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return 0
    if not rest:
        return None
    total, pos = 0, 0
    while pos < len(rest):
        m = _GO_PART.match(rest, pos)
        if m is None or not (m.group(1) or m.group(2)) or m.group(3) not in _NS:
            return None
        unit = _NS[m.group(3)]
        whole = int(m.group(1) or "0") * unit
        frac = m.group(2) or ""
        if frac:
            whole += int(frac) * unit // 10 ** len(frac)
        total += whole
        if total > _MAX_NS + (sign < 0):
            return None
        pos = m.end()
    return sign * total


def parse_duration(text: str) -> int | None:
    """Nanoseconds, as go-openapi's strfmt.ParseDuration; None when it does not parse."""
    if len(text) > MAX_TEXT:
        return None
    found = _go_duration(text)
    if found is not None:
        return found
    total, ok = 0, False
    for m in _WORDS.finditer(text):
        unit = m.group(2).lower().strip()
        for short, long, factor in _UNITS:
            if unit == short or unit.startswith(long):
                ok = True
                total += int(m.group(1)) * factor
    return total if ok and total <= _MAX_NS else None


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
                        r"([Zz]|[+-]\d{2}:?\d{2})?")


def parse_date(text: str) -> tuple[datetime, int] | None:
    m = _DATE.fullmatch(text)
    if m is None:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC), 0
    except ValueError:
        return None


def parse_date_time(text: str) -> tuple[datetime, int] | None:
    """(UTC time to the second, nanoseconds); None when it does not parse."""
    m = _DATE_TIME.fullmatch(text)
    if m is None:
        return None
    try:
        when = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]),
                        int(m[6] or 0), tzinfo=UTC)
    except ValueError:
        return None
    zone = m[8]
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        when -= offset if zone[0] == "+" else -offset
    nanos = int((m[7] or "").ljust(9, "0") or 0)
    return when, nanos


def duration_value(nanos: int) -> duration_pb2.Duration:
    seconds, rest = divmod(abs(nanos), 10**9)
    sign = -1 if nanos < 0 else 1
    return duration_pb2.Duration(seconds=sign * seconds, nanos=sign * rest)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_value(when: datetime, nanos: int = 0) -> timestamp_pb2.Timestamp | None:
    seconds = (when - _EPOCH) // timedelta(seconds=1)
    if not -62135596800 <= seconds <= 253402300799:  # CEL's 0001-01-01 .. 9999-12-31
        return None
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def to_cel(value: Any) -> Any:
    """A library function's result with ``timedelta``/``datetime`` (which the
    binding refuses from Python) as the protobuf messages it takes."""
    if isinstance(value, timedelta):
        return duration_value(value // timedelta(microseconds=1) * 1000)
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        return timestamp_value(when.replace(microsecond=0), when.microsecond * 1000)
    if isinstance(value, list):
        return [to_cel(v) for v in value] if any(
            isinstance(v, (timedelta, datetime, list)) for v in value) else value
    return value
