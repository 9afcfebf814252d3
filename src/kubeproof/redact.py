"""Keep secret values out of what kubeproof prints about a file's text.

Reports never hold values (rules name keys), but ``kubeproof fix --diff``
prints lines of the user's file as diff context, and a hunk next to a
hard-coded credential or a Secret's ``data`` would show it in a CI log. The
values to hide are those the secret rules know: every string under a Secret's
``data`` / ``stringData``, and every value KP1003 (hard-coded credential)
flags. Each line holding one of them is printed with the value replaced by
:data:`MASK`; the diff is then for reading, not for ``patch`` (the note says so).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "********"
_MIN = 4  # shorter strings would mask innocent lines (and are no credential)
_KEY_VALUE = re.compile(r"^(\s*(?:-\s+)?[^\s:#][^:#]*:\s+)\S.*$")


def secret_values(path: str, text: str) -> set[str]:
    """The secret values in ``text`` (the file at ``path``, already readable)."""
    from kubeproof.api import scan
    from kubeproof.sources.yamlparse import Document, parse_yaml

    values: set[str] = set()
    for doc in parse_yaml(text):
        obj = doc.data if isinstance(doc, Document) else None
        if isinstance(obj, dict) and obj.get("kind") == "Secret":
            for key in ("data", "stringData"):
                section = obj.get(key)
                if isinstance(section, dict):
                    values.update(_strings(section.values()))
    lines = text.splitlines()
    for f in scan([path], select=("KP1003",)).findings:
        if 0 < f.line <= len(lines):
            m = _KEY_VALUE.match(lines[f.line - 1])
            if m:
                values.add(lines[f.line - 1][m.end(1):].strip().strip("'\""))
    return {v for v in values if len(v) >= _MIN}


def _strings(items: Iterable[Any]) -> Iterable[str]:
    for item in items:
        if isinstance(item, str):
            yield item
            yield from (line.strip() for line in item.splitlines() if line.strip())


def redact(lines: list[str], values: set[str]) -> list[str]:
    """``lines`` with every line that holds one of ``values`` masked."""
    if not values:
        return lines
    out = []
    for line in lines:
        if any(v in line for v in values):
            end = "\n" if line.endswith("\n") else ""
            m = _KEY_VALUE.match(line.rstrip("\r\n"))
            head = m.group(1) if m else line[:len(line) - len(line.lstrip())]
            line = f"{head}{MASK}{end}"
        out.append(line)
    return out
