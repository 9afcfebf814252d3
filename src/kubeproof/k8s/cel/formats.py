"""The Kubernetes ``format`` library's validators (k8s.io/apiserver
pkg/cel/library/format.go over apimachinery's validation functions), with
upstream's exact messages."""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Callable
from datetime import datetime

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + r"(\." + _LABEL + ")*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QNAME + ")?"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    shown = ",  or ".join(f"'{e}'" for e in examples)
    return f"{msg} (e.g. {shown}, regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def dns1123_label(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not re.fullmatch(_LABEL, value):
        errs.append(_regex_error("a lowercase RFC 1123 label must consist of lower case "
                                 "alphanumeric characters or '-', and must start and end with "
                                 "an alphanumeric character", _LABEL, "my-name", "123-abc"))
    return errs


def dns1123_subdomain(value: str) -> list[str]:
    errs = [_max_len(253)] if len(value) > 253 else []
    if not re.fullmatch(_SUBDOMAIN, value):
        errs.append(_regex_error("a lowercase RFC 1123 subdomain must consist of lower case "
                                 "alphanumeric characters, '-' or '.', and must start and end "
                                 "with an alphanumeric character", _SUBDOMAIN, "example.com"))
    return errs


def dns1035_label(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not re.fullmatch(_DNS1035, value):
        errs.append(_regex_error("a DNS-1035 label must consist of lower case alphanumeric "
                                 "characters or '-', start with an alphabetic character, and end "
                                 "with an alphanumeric character", _DNS1035, "my-name", "abc-123"))
    return errs


def qualified_name(value: str) -> list[str]:
    parts = value.split("/")
    errs: list[str] = []
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + e for e in dns1123_subdomain(prefix)]
    else:
        return [_regex_error("a qualified name must consist of alphanumeric characters, '-', "
                             "'_' or '.', and must start and end with an alphanumeric character",
                             _QNAME, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len(63))
    if name and not re.fullmatch(_QNAME, name):
        errs.append("name part " + _regex_error(
            "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character", _QNAME, "MyName", "my.name", "123-abc"))
    return errs


def label_value(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not re.fullmatch(_LABEL_VALUE, value):
        errs.append(_regex_error("a valid label must be an empty string or consist of "
                                 "alphanumeric characters, '-', '_' or '.', and must start and "
                                 "end with an alphanumeric character", _LABEL_VALUE,
                                 "MyValue", "my_value", "12345"))
    return errs


def _mask_trailing_dash(value: str) -> str:
    # apimachinery's maskTrailingDash: a generated name's prefix may end in '-'
    return value[:-2] + "a" if len(value) > 1 and value.endswith("-") else value


def _uri(value: str) -> list[str]:
    ok = bool(value) and not any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)
    if ok:
        parts = urllib.parse.urlsplit(value)
        ok = bool(parts.scheme) or value.startswith("/")
    return [] if ok else ["invalid URI"]


def _uuid(value: str) -> list[str]:
    ok = re.fullmatch(r"(urn:uuid:)?\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                      r"[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?", value)
    return [] if ok else ["invalid UUID"]


def _byte(value: str) -> list[str]:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return ["invalid base64"]
    return []


def _date(value: str) -> list[str]:
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return ["invalid date"]
    return [] if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else ["invalid date"]


def _datetime(value: str) -> list[str]:
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
                     value)
    try:
        if m is None:
            raise ValueError(value)
        datetime.strptime(m.group(1) + "T" + m.group(2), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return ["invalid datetime"]
    return []


VALIDATORS: dict[str, Callable[[str], list[str]]] = {
    "dns1123Label": dns1123_label,
    "dns1123Subdomain": dns1123_subdomain,
    "dns1035Label": dns1035_label,
    "qualifiedName": qualified_name,
    "dns1123LabelPrefix": lambda v: dns1123_label(_mask_trailing_dash(v)),
    "dns1123SubdomainPrefix": lambda v: dns1123_subdomain(_mask_trailing_dash(v)),
    "dns1035LabelPrefix": lambda v: dns1035_label(_mask_trailing_dash(v)),
    "labelValue": label_value,
    "uri": _uri,
    "uuid": _uuid,
    "byte": _byte,
    "date": _date,
    "datetime": _datetime,
}
